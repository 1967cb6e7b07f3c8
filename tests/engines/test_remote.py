"""The remote engine against a second real readaloud daemon (the "GPU box"), and the failover to
the local Piper voice when that box is stopped, hung or killed."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from support.daemon import DaemonProcess
from support.pulse import PulseServer

from readaloud.engines.base import AudioChunk, Engine, SynthesisRequest
from readaloud.engines.piper import PiperEngine
from readaloud.engines.remote import RemoteEngine
from readaloud.engines.routing import RoutingEngine
from readaloud.errors import EngineError

pytestmark = pytest.mark.sound

TEXT = "The quick brown fox jumps over the lazy dog, then runs far away into the forest."
LONG = " ".join(f"Sentence {n} of a longer text for the remote box to read." for n in range(1, 9))


@pytest.fixture(scope="module")
def remote(pulse: PulseServer) -> Iterator[DaemonProcess]:
    process = DaemonProcess(pulse.env)
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine()
    engine.load()
    return engine


def url(daemon: DaemonProcess) -> str:
    return f"http://127.0.0.1:{daemon.port}/v1"


def timed(engine: Engine, text: str, cancel: threading.Event | None = None):
    """(chunks, seconds from the call to each chunk)."""
    began = time.monotonic()
    chunks: list[AudioChunk] = []
    times: list[float] = []
    for chunk in engine.stream(SynthesisRequest(text, None, "en"), cancel or threading.Event()):
        chunks.append(chunk)
        times.append(time.monotonic() - began)
    return chunks, times


def seconds(chunks: list[AudioChunk]) -> float:
    return sum(c.duration for c in chunks)


def test_it_streams_the_remote_daemons_voice(remote: DaemonProcess, piper: PiperEngine) -> None:
    engine = RemoteEngine(url(remote), remote.token)
    engine.load()
    assert "en_US-joe-medium" in [v.id for v in engine.voices()]
    assert engine.languages() == ["en"] and engine.sample_rate == 24_000

    chunks, times = timed(engine, LONG)

    assert all(c.sample_rate == 24_000 and c.samples.dtype == np.float32 for c in chunks)
    # About 100 ms per chunk, the first one long before the last.
    assert len(chunks) > 20 and max(c.duration for c in chunks[:-1]) <= 0.11
    assert times[0] < times[-1] / 3
    # The same words said by the same voice here take about as long.
    local = seconds(list(piper.stream(SynthesisRequest(LONG, None, "en"), threading.Event())))
    assert seconds(chunks) == pytest.approx(local, rel=0.25)
    assert np.abs(np.concatenate([c.samples for c in chunks])).max() > 0.1
    # Only the last chunk claims the text, so a failover never skips unsaid words.
    assert (chunks[-1].start, chunks[-1].end) == (0, len(LONG))
    assert all((c.start, c.end) == (0, 0) for c in chunks[:-1])


def test_rate_reaches_the_remote(remote: DaemonProcess) -> None:
    engine = RemoteEngine(url(remote), remote.token)
    normal = seconds(list(engine.stream(SynthesisRequest(TEXT, None, None), threading.Event())))
    fast = seconds(
        list(engine.stream(SynthesisRequest(TEXT, None, None, rate=2.0), threading.Event()))
    )
    # Faster speech, same pitch (pauses between phrases do not shrink as much as words).
    assert fast < 0.75 * normal


def test_cancel_stops_the_stream_at_once(remote: DaemonProcess) -> None:
    engine = RemoteEngine(url(remote), remote.token)
    cancel = threading.Event()
    chunks = engine.stream(SynthesisRequest(LONG, None, "en"), cancel)
    next(chunks)
    cancel.set()
    began = time.monotonic()
    rest = list(chunks)
    assert time.monotonic() - began < 0.2
    assert len(rest) <= 1


def test_a_wrong_key_is_an_engine_error_that_says_so(remote: DaemonProcess) -> None:
    engine = RemoteEngine(url(remote), "wrong")
    began = time.monotonic()
    with pytest.raises(EngineError, match="401.*token"):
        list(engine.stream(SynthesisRequest(TEXT, None, "en"), threading.Event()))
    assert time.monotonic() - began < 1.0


def test_a_hung_remote_fails_after_the_first_byte_timeout(remote: DaemonProcess) -> None:
    engine = RemoteEngine(url(remote), remote.token, timeout_s=3.0, first_byte_timeout_s=1.0)
    assert remote.process is not None
    remote.process.send_signal(signal.SIGSTOP)  # the box still accepts connections, says nothing
    try:
        began = time.monotonic()
        with pytest.raises(EngineError, match="no audio within 1 s"):
            list(engine.stream(SynthesisRequest(TEXT, None, "en"), threading.Event()))
        waited = time.monotonic() - began
        # The next sentence does not wait for the dead box again.
        began = time.monotonic()
        with pytest.raises(EngineError, match="again in 30 s"):
            list(engine.stream(SynthesisRequest(TEXT, None, "en"), threading.Event()))
        again = time.monotonic() - began
    finally:
        remote.process.send_signal(signal.SIGCONT)
    assert 0.9 < waited < 2.0
    assert again < 0.1


def test_a_killed_remote_fails_over_to_the_local_voice(pulse: PulseServer) -> None:
    box = DaemonProcess(pulse.env)
    box.start()
    try:
        bare = RemoteEngine(url(box), box.token, first_byte_timeout_s=2.0)
        routed = RoutingEngine(
            RemoteEngine(url(box), box.token, first_byte_timeout_s=2.0),
            PiperEngine(),
            default_language="en",
        )
        routed.load()
        spoken, _ = timed(routed, TEXT)
        assert seconds(spoken) > 2.0 and not routed.failovers  # the box spoke

        # Killed while it speaks a long text: the local voice says it instead.
        cancel = threading.Event()
        chunks = routed.stream(SynthesisRequest(LONG, None, "en"), cancel)
        first = next(chunks)
        assert box.process is not None
        box.process.kill()
        box.process.wait(10)
        rest = list(chunks)
        assert routed.failovers and "RemoteUnavailable" in routed.failovers[-1].error
        assert all(c.sample_rate == 24_000 for c in [first, *rest])
        assert seconds(rest) > 8.0  # the whole text, from the local Piper voice

        # Gone: the bare engine says so at once, the routed one speaks locally.
        began = time.monotonic()
        with pytest.raises(EngineError, match="cannot be reached"):
            list(bare.stream(SynthesisRequest(TEXT, None, "en"), threading.Event()))
        assert time.monotonic() - began < 0.5
        later, _ = timed(routed, TEXT)
        assert seconds(later) > 2.0
    finally:
        box.close()
