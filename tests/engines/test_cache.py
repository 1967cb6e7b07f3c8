"""Recent short utterances replayed from memory, in front of the real Piper engine."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from support.signal import snr_db

from readaloud.engines.base import SynthesisRequest
from readaloud.engines.cache import CachedEngine
from readaloud.engines.piper import PiperEngine


class Counting:
    """The real engine, counting the streams it is asked for."""

    def __init__(self, engine: PiperEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self.engine, name)

    def stream(self, request, cancel):
        self.calls.append(request.text)
        return self.engine.stream(request, cancel)


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine()
    engine.load()
    return engine


def said(engine, text: str, **how) -> np.ndarray:
    chunks = list(engine.stream(SynthesisRequest(text, **how), threading.Event()))
    return np.concatenate([c.samples for c in chunks])


def test_a_repeat_is_the_same_sound_without_synthesis(piper) -> None:
    inner = Counting(piper)
    cached = CachedEngine(inner)  # type: ignore[arg-type]
    first = said(cached, "Enter")
    again = said(cached, "Enter")
    assert inner.calls == ["Enter"]
    assert snr_db(first, again) > 60  # kept at 16 bits: the same sound
    assert cached.hits == 1


def test_what_changes_the_sound_is_part_of_the_key(piper) -> None:
    inner = Counting(piper)
    cached = CachedEngine(inner)  # type: ignore[arg-type]
    said(cached, "Tab")
    faster = said(cached, "Tab", rate=1.5)
    said(cached, "Tab", language="en")
    said(cached, "tab")
    assert inner.calls == ["Tab"] * 3 + ["tab"]
    assert len(faster) < len(said(cached, "Tab"))


def test_long_texts_and_cut_off_utterances_are_not_kept(piper) -> None:
    inner = Counting(piper)
    cached = CachedEngine(inner, max_chars=10)  # type: ignore[arg-type]
    said(cached, "A longer sentence.")
    said(cached, "A longer sentence.")
    cancel = threading.Event()
    stream = cached.stream(SynthesisRequest("Escape"), cancel)
    cancel.set()
    list(stream)
    said(cached, "Escape")
    assert inner.calls == ["A longer sentence."] * 2 + ["Escape"] * 2


def test_the_least_recently_used_goes_first(piper) -> None:
    inner = Counting(piper)
    cached = CachedEngine(inner, max_entries=2)  # type: ignore[arg-type]
    for word in ("Home", "End", "Home", "Delete"):  # End is the least recently used
        said(cached, word)
    said(cached, "Home")
    said(cached, "End")
    assert inner.calls == ["Home", "End", "Delete", "End"]


def test_memory_is_bounded(piper) -> None:
    inner = Counting(piper)
    cached = CachedEngine(inner, max_bytes=2 * 22050 * 2)  # type: ignore[arg-type]
    words = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel"]
    for word in words:
        said(cached, word)
    assert 0 < cached.kept_bytes <= 2 * 22050 * 2  # 2 s of audio at 16 bits
    said(cached, "Hotel")
    said(cached, "Alpha")
    assert inner.calls == [*words, "Alpha"], "the newest stays, the oldest went"


def test_kept_audio_cannot_be_changed_by_a_listener(piper) -> None:
    cached = CachedEngine(piper)
    said(cached, "Space")
    heard = list(cached.stream(SynthesisRequest("Space"), threading.Event()))
    for chunk in heard:
        chunk.samples[:] = 1.0  # a listener that scales its audio in place
    assert np.abs(said(cached, "Space")).max() < 1.0
    assert cached.hits == 2
