"""Faults the daemon must survive, each with the rest of the text still spoken:

* an engine that raises mid-utterance: the fallback engine speaks the rest (RoutingEngine, under
  the daemon's own Scheduler and Player, heard at PulseAudio);
* the sound server killed and restarted while idle and while speaking (a private PulseAudio, so
  the session's server is left alone): the next utterance plays, no daemon restart;
* clients that go away mid-stream (the event stream, the OpenAI audio stream): the work done for
  them stops and nothing stays open;
* the config file changed on disk: the daemon keeps its settings and ``status`` says so.

SIGTERM and kill -9 are in tests/daemon/test_daemon.py.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from support import signal as sig
from support.daemon import Events
from support.pulse import PulseServer
from support.reliable import LONG, Daemon

from readaloud.engines.base import AudioChunk, SynthesisRequest
from readaloud.errors import EngineError
from readaloud.speech.events import Event, SegmentStarted, SpeechFailed, UtteranceEnded

pytestmark = pytest.mark.sound

RATE = 22050
TEXT = (
    "The first voice starts this text and reads two sentences of it. "
    "Then it breaks down, as a graphics card out of memory would. "
    "The second voice must read this sentence. And this one, to the very last word."
)
NO_DESKTOP = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


# -- an engine that fails mid-utterance -----------------------------------------------------------


class FailsAfter:
    """A real engine passed through, which raises after ``chunks`` chunks, once."""

    name = "flaky"

    def __init__(self, engine, chunks: int) -> None:
        self.engine = engine
        self.chunks = chunks
        self.failed = False
        self.spoken: list[str] = []

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    def load(self) -> None:
        self.engine.load()

    def voices(self):
        return self.engine.voices()

    def has_voice(self, voice: str) -> bool:
        return self.engine.has_voice(voice)

    def languages(self) -> list[str]:
        return self.engine.languages()

    def validate(self, voice, language) -> None:
        self.engine.validate(voice, language)

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[AudioChunk]:
        if not self.failed and self.chunks == 0:
            self.failed = True
            raise EngineError("CUDA out of memory (injected)")
        for chunk in self.engine.stream(request, cancel):
            self.spoken.append(request.text[chunk.start : chunk.end])
            yield chunk
            self.chunks -= 1
            if not self.failed and self.chunks == 0:  # mid-segment, as a GPU running out would
                self.failed = True
                raise EngineError("CUDA out of memory (injected)")


def test_the_fallback_speaks_the_rest_when_the_engine_fails(pulse: PulseServer) -> None:
    from readaloud.audio.player import Player
    from readaloud.engines.piper import PiperEngine
    from readaloud.engines.routing import RoutingEngine
    from readaloud.speech.scheduler import Scheduler
    from readaloud.speech.speaker import run_mark
    from readaloud.speech.utterance import Utterance

    fallback = PiperEngine()
    primary = FailsAfter(PiperEngine(), chunks=2)
    routed = RoutingEngine(primary, fallback, short_text_words=0)
    routed.load()
    player = Player(on_mark=run_mark)
    failures: list[Exception] = []
    scheduler = Scheduler(routed, player, first_fragment_words=0, on_failure=failures.append)
    events: list[Event] = []
    scheduler.add_listener(events.append)
    try:
        with pulse.capture(RATE) as cap:
            uid = scheduler.submit(Utterance(TEXT, rate=2.0))
            assert scheduler.wait_idle(60)
        ends = [e for e in events if isinstance(e, UtteranceEnded) and e.id == uid]
        assert ends and ends[0].completed is True, events
        assert not failures and not [e for e in events if isinstance(e, SpeechFailed)]
        heard = [e for e in events if isinstance(e, SegmentStarted) and e.id == uid]
        assert [e.index for e in heard] == list(range(len(heard)))
        assert words(" ".join(e.text for e in heard)) == words(TEXT)  # every word, in order
        assert len(primary.spoken) == 2 and len(routed.failovers) == 1
        assert "CUDA out of memory" in routed.failovers[0].error
        # Four sentences of speech at twice the pace, none of it lost to the failure.
        assert sig.sound_duration(cap.samples(), RATE) > 4.0
        assert sig.longest_silence(cap.samples(), RATE) < 1.0
        # The next utterance is the primary's again.
        scheduler.submit(Utterance("The first voice is back."))
        assert scheduler.wait_idle(30)
        assert words(" ".join(primary.spoken[2:])) == words("The first voice is back.")
    finally:
        scheduler.close()
        player.close()


# -- the sound server goes away ------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_pulse() -> Iterator[PulseServer]:
    server = PulseServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def pulse_daemon(own_pulse: PulseServer) -> Iterator[Daemon]:
    process = Daemon({**own_pulse.env, **NO_DESKTOP})
    process.start()
    yield process
    process.close()


def _speak_and_hear(daemon: Daemon, server: PulseServer, text: str) -> tuple[dict, float]:
    events = Events(daemon)
    with server.capture(RATE) as cap:
        uid = daemon.post("/v1/speak", {"text": text}).json()["id"]
        end = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid, 60)
    return end, sig.sound_duration(cap.samples(), RATE)


def test_sound_server_restarted_while_idle(pulse_daemon: Daemon, own_pulse: PulseServer) -> None:
    end, heard = _speak_and_hear(pulse_daemon, own_pulse, "Before the restart.")
    assert end["completed"] and heard > 0.5
    own_pulse.restart()
    end, heard = _speak_and_hear(pulse_daemon, own_pulse, "After the restart, I still speak.")
    assert end["completed"] is True, end
    assert heard > 1.0, heard


def test_sound_server_restarted_while_speaking(
    pulse_daemon: Daemon, own_pulse: PulseServer
) -> None:
    events = Events(pulse_daemon)
    uid = pulse_daemon.post("/v1/speak", {"text": LONG}).json()["id"]
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid and e["index"] >= 1)
    own_pulse.restart()
    # The reading goes on on the new server: later sentences are still heard.
    with own_pulse.capture(RATE) as cap:
        reached = events.wait_for(
            lambda e: e["type"] == "segment_start" and e["id"] == uid and e["index"] >= 3, 30
        )
        time.sleep(1.0)
    assert reached and sig.sound_duration(cap.samples(), RATE) > 0.5
    assert not [e for e in events.items if e["type"] == "error"], "the reading was given up"
    assert pulse_daemon.alive()
    pulse_daemon.post("/v1/stop")
    end, heard = _speak_and_hear(pulse_daemon, own_pulse, "The next request is heard too.")
    assert end["completed"] is True and heard > 1.0, (end, heard)


# -- clients that go away ----------------------------------------------------------------------


def _open_files(daemon: Daemon) -> int:
    return len(os.listdir(f"/proc/{daemon.process.pid}/fd"))


def _cpu_seconds(daemon: Daemon) -> float:
    stat = Path(f"/proc/{daemon.process.pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settle(daemon: Daemon, baseline: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while (now := _open_files(daemon)) > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def test_event_clients_that_vanish_leave_nothing_open(daemon: Daemon) -> None:
    daemon.get("/v1/status")
    baseline = _open_files(daemon)
    for _ in range(30):
        with socket.create_connection(("127.0.0.1", daemon.port)) as client:
            client.sendall(
                f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
                f"Authorization: Bearer {daemon.token}\r\n\r\n".encode()
            )
            received = b""
            while b": connected" not in received:
                chunk = client.recv(4096)
                assert chunk, received
                received += chunk
        # closed without a word, as a browser tab that is killed
    daemon.post("/v1/speak", {"text": "Events for nobody."})  # something to send them
    assert _settle(daemon, baseline) <= baseline
    events = Events(daemon)  # a new client is still served
    uid = daemon.post("/v1/speak", {"text": "Still talking."}).json()["id"]
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)


def test_openai_clients_that_vanish_stop_their_synthesis(daemon: Daemon) -> None:
    daemon.post("/v1/stop")
    daemon.wait_idle()
    baseline = _open_files(daemon)
    body = {"input": " ".join([LONG] * 2)[:4000], "response_format": "pcm"}
    url = f"http://127.0.0.1:{daemon.port}/v1/audio/speech"
    for _ in range(6):  # more than the 4 streams allowed at once: none may stay taken
        with (
            httpx2.Client(timeout=30) as client,
            client.stream("POST", url, json=body, headers=daemon.auth) as response,
        ):
            assert response.status_code == 200, response.read()
            next(response.iter_bytes())  # the first audio, then hang up mid-stream
    # Synthesis for them stops: the daemon goes quiet (an unread 4,000-character text would
    # keep Piper busy for many seconds).
    time.sleep(0.5)
    before = _cpu_seconds(daemon)
    time.sleep(1.5)
    assert _cpu_seconds(daemon) - before < 0.3
    assert _settle(daemon, baseline) <= baseline
    answer = daemon.send(
        "POST", "/v1/audio/speech", body={"input": "Hello.", "response_format": "wav"}
    )
    assert answer.status_code == 200 and answer.content[:4] == b"RIFF"


# -- the config file changes -------------------------------------------------------------------


def test_config_changed_on_disk_is_reported_not_a_crash(daemon: Daemon) -> None:
    from support.cli import run_readaloud

    path = daemon.config_home / "readaloud" / "readaloud.toml"
    original = path.read_bytes()
    env = {k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    uid = daemon.keep_speaking()
    assert daemon.get("/v1/status").json()["config_changed"] is None
    try:
        path.write_text("[speech]\nrate = 1.5\n")
        changed = daemon.get("/v1/status").json()
        assert "changed since the daemon started" in changed["config_changed"]
        assert "restart" in changed["config_changed"]
        shown = run_readaloud("status", env=env)
        assert shown.code == 0 and "config: " in shown.stdout and "restart" in shown.stdout
        path.write_text("[speech]\nrate = = 1.5\n")
        broken = daemon.get("/v1/status").json()["config_changed"]
        assert "has an error" in broken and "not valid TOML" in broken, broken
        assert "keeps the settings it started with" in broken
        # It kept reading all along, with the settings it started with.
        status = daemon.get("/v1/status").json()
        assert (status["state"], status["utterance"]) == ("speaking", uid)
    finally:
        path.write_bytes(original)
    assert daemon.get("/v1/status").json()["config_changed"] is None
