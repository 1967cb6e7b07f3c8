"""The routing engine in front of XTTS and Piper: short text to Piper, failover mid-utterance (heard
at a real PulseAudio sink), recovery for the next request, and per-segment language detection.

The failure is injected through a real seam: ``FailAfter`` is an Engine that passes the real XTTS
engine's chunks through and raises after N of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from support import signal as sig
from support.pulse import PulseServer
from support.threads import at_once
from support.xtts import tiny_options

from readaloud.audio.player import Player
from readaloud.engines.base import AudioChunk, SynthesisRequest
from readaloud.engines.piper import PiperEngine
from readaloud.engines.routing import RoutingEngine
from readaloud.engines.wrapper import EngineWrapper
from readaloud.engines.xtts import XttsEngine
from readaloud.errors import EngineError, UnknownVoice
from readaloud.speech.speaker import Speaker, run_mark
from readaloud.speech.synthesis import SpokenChunk
from readaloud.speech.utterance import Utterance
from readaloud.text.language import LanguageDetector

RATE = 24000
TEXT = (
    "The neural voice starts this sentence and breaks down halfway through it. "
    "The fallback voice must finish every remaining word, in order. Nothing is lost."
)


class Recording:
    """Passes an engine through, noting each request and the chunks it produced."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.name = engine.name
        self.calls: list[dict] = []

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    def load(self) -> None:
        self.engine.load()

    def voices(self):
        return self.engine.voices()

    def has_voice(self, voice) -> bool:
        return self.engine.has_voice(voice)

    def languages(self):
        return self.engine.languages()

    def validate(self, voice, language) -> None:
        self.engine.validate(voice, language)

    def stream(self, request, cancel) -> Iterator[AudioChunk]:
        call = {
            "text": request.text,
            "voice": request.voice,
            "language": request.language,
            "chunks": [],
        }
        self.calls.append(call)
        for chunk in self.engine.stream(request, cancel):
            call["chunks"].append(chunk)
            yield chunk


class FailAfter(Recording):
    """Raises ``error`` after ``chunks`` chunks, the first ``times`` times it is asked."""

    def __init__(self, engine, chunks: int, error: BaseException, times: int = 1) -> None:
        super().__init__(engine)
        self.chunks, self.error, self.times = chunks, error, times

    def stream(self, request, cancel) -> Iterator[AudioChunk]:
        failing = self.times > 0
        for count, chunk in enumerate(super().stream(request, cancel)):
            if failing and count == self.chunks:
                self.times -= 1
                raise self.error
            yield chunk
        if failing and self.chunks >= len(self.calls[-1]["chunks"]):
            self.times -= 1
            raise self.error


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine()
    engine.load()
    return engine


def lowpass(samples: np.ndarray, cutoff: float = 8000.0) -> np.ndarray:
    """The random-weight XTTS voice is broadband noise, and the sound server's resamplers cut it
    near 12 kHz: compare what lies below 8 kHz."""
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(len(samples), 1 / RATE) > cutoff] = 0
    return np.fft.irfft(spectrum, len(samples))


def _windows(samples: np.ndarray, seconds: float = 0.4) -> list[np.ndarray]:
    """Consecutive windows that hold sound (the last partial one joins the one before)."""
    size = int(seconds * RATE)
    count = max(1, len(samples) // size)
    windows = [samples[i * size : (i + 1) * size if i < count - 1 else None] for i in range(count)]
    return [w for w in windows if np.abs(w).max() > sig.SILENCE]


def words(text: str) -> list[str]:
    return text.split()


@pytest.mark.sound
def test_failover_mid_utterance_is_heard_and_the_next_request_recovers(
    pulse: PulseServer, xtts: XttsEngine, piper: PiperEngine
) -> None:
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
    primary = FailAfter(xtts, chunks=1, error=oom)
    fast = Recording(piper)
    routing = RoutingEngine(primary, fast, detector=None, default_language="en")
    produced: list[SpokenChunk] = []
    with Player(on_mark=run_mark) as player, pulse.capture(RATE) as cap:
        report = Speaker(routing, player).speak(Utterance(TEXT), on_chunk=produced.append)
    captured = cap.samples()
    assert report.completed

    # The failure is logged and kept; XTTS spoke one chunk, Piper all the rest, in order.
    assert len(routing.failovers) == 1 and "OutOfMemoryError" in routing.failovers[0].error
    first_segment = primary.calls[0]
    resumed = routing.failovers[0].resumed_at
    assert resumed == first_segment["chunks"][0].end
    assert len(primary.calls) == 1  # later segments of this utterance went straight to Piper
    spoken_by_piper = " ".join(call["text"] for call in fast.calls)
    assert words(spoken_by_piper) == words(
        first_segment["text"][resumed:] + TEXT[len(first_segment["text"]) :]
    )

    # What was heard: the XTTS chunk, then each Piper chunk, in order, right after each other.
    # (A mid-sentence segment ends in a short pause of its own: silence, not a chunk of speech.)
    # (A window of Piper's may fall in a pause between words: it is silence too.)
    def sounding(chunk: AudioChunk) -> bool:
        return sig.sound_duration(chunk.samples, chunk.sample_rate) > 0.05

    piper_sounding = [c for call in fast.calls for c in call["chunks"] if sounding(c)]
    assert len([p for p in produced if sounding(p.chunk)]) == 1 + len(piper_sounding)
    # Each segment is heard, in order. Compared in 0.4 s windows, so a dropout on a busy
    # machine (the sound server starved of CPU) does not hide what was played around it.
    heard = lowpass(captured)
    position = 0
    for index in sorted({p.index for p in produced}):
        segment = np.concatenate([p.chunk.samples for p in produced if p.index == index])
        windows = _windows(lowpass(segment))
        found = [sig.align(window, heard) for window in windows]
        correlations = [c for _, c in found]
        assert np.median(correlations) > 0.9, (index, correlations)
        offsets = [o for o, c in found if c > 0.9]
        assert offsets == sorted(offsets) and offsets[0] >= position - RATE // 100
        position = offsets[-1]
    assert all(p.chunk.sample_rate == RATE for p in produced)  # Piper resampled to 24 kHz

    # The next request is XTTS's again.
    calls_before = len(fast.calls)
    chunks = list(routing.stream(SynthesisRequest(TEXT[:70], None, "en"), threading.Event()))
    assert chunks and len(primary.calls) == 2 and len(fast.calls) == calls_before


def test_failure_before_any_sound_gives_the_whole_segment_to_the_fallback(
    xtts: XttsEngine, piper: PiperEngine
) -> None:
    primary = FailAfter(xtts, chunks=0, error=RuntimeError("CUDA error: an illegal memory access"))
    fast = Recording(piper)
    routing = RoutingEngine(primary, fast, detector=None)
    text = "A segment the primary could not even start."
    chunks = list(routing.stream(SynthesisRequest(text, None, "en"), threading.Event()))
    assert fast.calls[0]["text"] == text
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert routing.failovers[-1].resumed_at == 0


def test_request_errors_are_not_failed_over(xtts: XttsEngine, piper: PiperEngine) -> None:
    primary = FailAfter(xtts, chunks=0, error=UnknownVoice("Unknown voice 'x'."))
    routing = RoutingEngine(primary, Recording(piper), detector=None)
    with pytest.raises(UnknownVoice):
        list(
            routing.stream(
                SynthesisRequest("Some words to say here.", None, "en"), threading.Event()
            )
        )
    assert not routing.failovers


def test_when_the_fallback_fails_too_the_error_is_reported(xtts, piper) -> None:
    primary = FailAfter(xtts, chunks=0, error=RuntimeError("broken"))
    fast = FailAfter(piper, chunks=0, error=EngineError("Piper could not speak this text."))
    routing = RoutingEngine(primary, fast, detector=None)
    with pytest.raises(EngineError, match="Piper could not speak"):
        list(
            routing.stream(
                SynthesisRequest("Some words to say here.", None, "en"), threading.Event()
            )
        )


@pytest.mark.parametrize("text", ["OK", "Tab", "Ctrl+Alt+Delete", "Hello world", "x"])
def test_very_short_text_is_spoken_by_the_fast_engine(xtts, piper, text: str) -> None:
    primary, fast = Recording(xtts), Recording(piper)
    routing = RoutingEngine(primary, fast, short_text_words=2, detector=None)
    chunks = list(routing.stream(SynthesisRequest(text, None, "en"), threading.Event()))
    assert [c["text"] for c in fast.calls] == [text] and not primary.calls
    assert chunks and all(c.sample_rate == xtts.sample_rate for c in chunks)


def test_longer_text_and_voices_go_to_their_engine(xtts, piper) -> None:
    primary, fast = Recording(xtts), Recording(piper)
    routing = RoutingEngine(primary, fast, detector=None)
    params = SynthesisRequest("")
    list(
        routing.stream(
            params.but(text="Three words here", voice=None, language="en"), threading.Event()
        )
    )
    assert len(primary.calls) == 1 and not fast.calls
    piper_voice = piper.voices()[0].id
    list(
        routing.stream(
            params.but(
                text="A longer sentence in Piper's own voice.", voice=piper_voice, language="en"
            ),
            threading.Event(),
        )
    )
    assert fast.calls[-1]["voice"] == piper_voice
    # A short text with an XTTS voice: Piper speaks it in its own default voice.
    list(
        routing.stream(
            params.but(text="OK", voice="claribel-dervla", language="en"), threading.Event()
        )
    )
    assert fast.calls[-1]["voice"] is None
    assert {v.id for v in routing.voices()} >= {"claribel-dervla", piper_voice}


def test_the_language_of_each_segment_is_detected_when_none_is_given(xtts, piper) -> None:
    primary, fast = Recording(xtts), Recording(piper)
    detector = LanguageDetector(set(xtts.languages()) | set(piper.languages()))
    routing = RoutingEngine(primary, fast, detector=detector, default_language="en")
    params = SynthesisRequest("")
    for text in (
        "Heute scheint die Sonne über dem ganzen Land.",
        "Aujourd'hui le soleil brille sur tout le pays.",
        "Сегодня солнце светит над всей страной.",
    ):
        list(routing.stream(params.but(text=text, voice=None, language=None), threading.Event()))
    assert [c["language"] for c in primary.calls] == ["de", "fr", "ru"]
    list(
        routing.stream(params.but(text="OK", voice=None, language=None), threading.Event())
    )  # too short to tell
    assert fast.calls[-1]["language"] == "en"


def test_fallback_audio_is_resampled_to_the_engines_rate(xtts, piper) -> None:
    fast = Recording(piper)
    routing = RoutingEngine(xtts, fast, detector=None)
    routed = list(routing.stream(SynthesisRequest("Hello there", None, "en"), threading.Event()))
    made = fast.calls[0]["chunks"]
    assert [c.sample_rate for c in routed] == [RATE] * len(made)
    for mine, theirs in zip(routed, made, strict=True):
        assert len(mine.samples) == pytest.approx(
            len(theirs.samples) * RATE / piper.sample_rate, abs=2
        )
        assert mine.samples.dtype == np.float32


def test_xtts_without_any_voice_leaves_the_speaking_to_piper(tiny_model_dir, tmp_path, piper):
    bare = tmp_path / "bare"  # a checkpoint without studio speakers, and nothing enrolled
    bare.mkdir()
    for name in ("config.json", "model.pth", "vocab.json"):
        (bare / name).symlink_to(tiny_model_dir / name)
    xtts = XttsEngine(tiny_options(bare, tmp_path / "voices", warm_up=False))
    with pytest.raises(UnknownVoice, match="readaloud voice add"):
        xtts.validate(None, "en")
    primary, fast = Recording(xtts), Recording(piper)
    routing = RoutingEngine(primary, fast, detector=None)
    routing.validate(None, "en")
    text = "A sentence long enough for the neural voice, had it a voice."
    list(routing.stream(SynthesisRequest(text, None, "en"), threading.Event()))
    assert not primary.calls and [c["text"] for c in fast.calls] == [text]
    with pytest.raises(UnknownVoice):
        routing.validate("nobody", "en")  # a voice asked for by name is still checked


class Inside(EngineWrapper):
    """Passes a real engine through, counting the threads inside its chunk computation at
    once; with ``meet``, each stream's first chunk waits until ``meet`` streams are inside."""

    def __init__(self, engine, batches: bool, meet: int = 0) -> None:
        super().__init__(engine)
        self.batches = batches
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()
        self._meeting = threading.Barrier(meet) if meet else None

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[AudioChunk]:
        chunks = self.inner.stream(request, cancel)
        first = True
        while True:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                if self._meeting is not None and first:
                    self._meeting.wait(timeout=20)  # BrokenBarrierError if they take turns
                first = False
                chunk = next(chunks, None)
            finally:
                with self._lock:
                    self.now -= 1
            if chunk is None:
                return
            yield chunk


def speak_at_once(engine, texts: list[str]) -> list[list[AudioChunk] | BaseException]:
    results: list = [None] * len(texts)

    def speak(index: int) -> None:
        request = SynthesisRequest(text=texts[index], utterance_id=str(index))
        try:
            results[index] = list(engine.stream(request, threading.Event()))
        except BaseException as error:  # noqa: BLE001 - the test reads it
            results[index] = error

    at_once(speak, len(texts))
    return results


TWO = ["The first reader hears this sentence.", "A second one is read at the same time."]


def test_streams_of_an_engine_that_batches_run_at_once(xtts: XttsEngine, piper) -> None:
    """XTTS decodes concurrent streams together (decoder.py): the routing engine lets the
    queue's and an API client's streams in at once rather than one chunk at a time."""
    assert xtts.batches is True
    both = Inside(xtts, batches=True, meet=2)
    results = speak_at_once(RoutingEngine(both, piper, short_text_words=0), TWO)
    for chunks, text in zip(results, TWO, strict=True):
        assert isinstance(chunks, list), chunks
        assert chunks[-1].end == len(text)  # spoken to its last word
    assert both.most == 2


def test_streams_of_an_engine_that_does_not_batch_take_turns(piper) -> None:
    one = Inside(piper, batches=False)
    results = speak_at_once(RoutingEngine(one, None), TWO * 2)
    assert all(isinstance(chunks, list) and chunks for chunks in results), results
    assert one.most == 1
