"""Recent short utterances replayed from memory, in front of the real Piper engine."""

from __future__ import annotations

import threading

import numpy as np
import pytest

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
    assert np.array_equal(first, again)
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
    cached = CachedEngine(inner, max_bytes=4 * 22050 * 4)  # type: ignore[arg-type]
    words = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel"]
    for word in words:
        said(cached, word)
    assert cached.kept_bytes <= 4 * 22050 * 4
    said(cached, "Hotel")
    said(cached, "Alpha")
    assert inner.calls == [*words, "Alpha"], "the newest stays, the oldest went"


def test_kept_audio_cannot_be_changed_by_a_listener(piper) -> None:
    cached = CachedEngine(piper)
    chunk = list(cached.stream(SynthesisRequest("Space"), threading.Event()))[0]
    with pytest.raises(ValueError):
        chunk.samples[0] = 1.0
