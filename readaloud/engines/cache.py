"""Recent short utterances, kept as audio: a screen reader says the same keys, letters and labels
over and over ("Enter", "Tab", "OK button"), and a repeat should cost only the audio path.

The cache sits in front of the engine (and its lock), so a repeat is heard at once even while the
engine is busy with another stream. It keys on everything that changes the sound: text, voice,
language and rate. It keeps only utterances that were synthesized to the end, and it is bounded
both in entries and in bytes of audio (kept at 16 bits), dropping the least recently used
first.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from readaloud.engines.base import AudioChunk, Engine, Sampling, SynthesisRequest
from readaloud.engines.wrapper import EngineWrapper

if TYPE_CHECKING:
    from readaloud.config import SpeechConfig

_Key = tuple[str, str | None, str | None, float, Sampling]


class CachedEngine(EngineWrapper):
    def __init__(
        self,
        engine: Engine,
        *,
        max_chars: int = 40,
        max_bytes: int = 8 << 20,
        max_entries: int = 512,
    ) -> None:
        super().__init__(engine)
        self.max_chars = max_chars
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, tuple[AudioChunk, ...]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0

    @property
    def kept_bytes(self) -> int:
        """Bytes of audio kept now."""
        return self._bytes

    def keeps(self, request: SynthesisRequest) -> bool:
        """Whether a request like this one is kept once made (it is short enough)."""
        return len(request.text) <= self.max_chars and self.max_bytes > 0

    def holds(self, request: SynthesisRequest) -> bool:
        """Whether the audio for ``request`` is kept now (or it would not be kept at all)."""
        if not self.keeps(request):
            return True
        with self._lock:
            return _key(request) in self._entries

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[AudioChunk]:
        if not self.keeps(request):
            yield from self.inner.stream(request, cancel)
            return
        key = _key(request)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if cached is not None:
            for kept in cached:  # a fresh copy each time: a listener may change its own
                yield dataclasses.replace(kept, samples=kept.samples.astype(np.float32))
            return
        made: list[AudioChunk] = []
        for chunk in self.inner.stream(request, cancel):
            made.append(chunk)
            yield chunk
        if made and not cancel.is_set():
            self._keep(key, tuple(made))

    def _keep(self, key: _Key, chunks: tuple[AudioChunk, ...]) -> None:
        # Kept as 16-bit floats: half the memory, and 11 bits of precision at every level is
        # far below what can be heard (about 66 dB under the signal).
        kept = tuple(
            dataclasses.replace(chunk, samples=chunk.samples.astype(np.float16)) for chunk in chunks
        )
        size = sum(chunk.samples.nbytes for chunk in kept)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = kept
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= sum(chunk.samples.nbytes for chunk in dropped)


def shared_cached(engine: Engine, speech: SpeechConfig) -> CachedEngine:
    """``engine`` for several threads at once (the RoutingEngine every choice is has their
    streams take turns where the engine does not batch them), with the ``[speech]`` short-text
    cache in front."""
    return CachedEngine(
        engine,
        max_chars=speech.short_cache_chars,
        max_bytes=int(speech.short_cache_mb * 2**20),
    )


def _key(request: SynthesisRequest) -> _Key:
    # Sampling too: the same text at another temperature is another sound (XTTS).
    return (request.text, request.voice, request.language, round(request.rate, 3), request.sampling)
