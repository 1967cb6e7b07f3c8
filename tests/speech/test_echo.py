"""The key echo set, made ahead in the background with the real Piper engine."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from readaloud.engines.base import SynthesisRequest
from readaloud.engines.cache import CachedEngine
from readaloud.engines.piper import PiperEngine
from readaloud.speech.echo import Echo
from readaloud.speech.utterance import Utterance
from readaloud.text.keys import echo_texts

TEXTS = ("q", "dot", "left shift")


class Counting:
    """The real engine, recording what it is asked to make and whether it was cut off."""

    def __init__(self, engine: PiperEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.calls: list[tuple[str, str | None, float]] = []
        self.cancelled: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self.engine, name)

    def stream(self, request, cancel):
        self.calls.append((request.text, request.language, request.rate))
        yield from self.engine.stream(request, cancel)
        if cancel.is_set():
            self.cancelled.append(request.text)


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine()
    engine.load()
    return engine


def test_the_echo_set_is_made_for_the_settings_in_use(piper) -> None:
    inner = Counting(piper)
    cached = CachedEngine(inner)  # type: ignore[arg-type]
    echo = Echo(cached, texts=TEXTS, quiet_s=0.05)
    echo.notice(Utterance("Screen reader on.", None, "en", 1.5))  # not a key: nothing to do
    time.sleep(0.3)
    assert inner.calls == []
    echo.notice(Utterance("q", None, "en", 1.5))  # a key echo
    assert echo.wait_ready(Utterance("x", None, "en", 1.5), 30)
    assert sorted(inner.calls) == sorted((text, "en", 1.5) for text in TEXTS)

    # A key typed now is heard from memory: the engine is not asked again.
    chunks = list(cached.stream(SynthesisRequest("q", None, "en", 1.5), threading.Event()))
    assert len(inner.calls) == len(TEXTS) and cached.hits == 1
    assert np.abs(np.concatenate([c.samples for c in chunks])).max() > 0.1

    # The same settings again: nothing more to make. New ones: the set for them.
    echo.notice(Utterance("dot", None, "en", 1.5))
    echo.notice(Utterance("w", None, "en", 1.0))
    assert echo.wait_ready(Utterance("x", None, "en", 1.0), 30)
    assert len(inner.calls) == 2 * len(TEXTS)
    echo.close()


def test_it_waits_while_speech_plays_and_gives_way_to_a_request(piper) -> None:
    inner = Counting(piper)
    cached = CachedEngine(inner)  # type: ignore[arg-type]
    speaking = threading.Event()
    speaking.set()
    many = echo_texts()[:40]
    echo = Echo(cached, texts=many, busy=speaking.is_set, quiet_s=0.05)
    echo.notice(Utterance("a"))
    time.sleep(0.5)
    assert inner.calls == [], "nothing is made while something is spoken"

    speaking.clear()
    deadline = time.monotonic() + 20
    while len(inner.calls) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    # A request comes in mid-set: the text being made is cut off, and making waits.
    echo.notice(Utterance("w"))
    made = len(inner.calls)
    time.sleep(0.03)  # less than quiet_s
    assert len(inner.calls) <= made
    assert echo.wait_ready(Utterance("x"), 60)
    kept = [t for t in many if cached.holds(SynthesisRequest(t))]
    assert kept == many, "a text cut off is made again later"
    echo.close()


def test_the_echo_set_is_small() -> None:
    texts = echo_texts()
    assert {"a", "z", "0", "9", "dot", "comma", "space", "return", "left shift"} <= set(texts)
    assert len(texts) == len(set(texts)) and max(len(t) for t in texts) <= 40
