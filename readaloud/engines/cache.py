"""Recent short utterances, kept as audio: a screen reader says the same keys, letters and labels
over and over ("Enter", "Tab", "OK button"), and a repeat should cost only the audio path.

The cache sits in front of the engine (and its lock), so a repeat is heard at once even while the
engine is busy with another stream. It keys on everything that changes the sound: text, voice,
language and rate. It keeps only utterances that were synthesized to the end, and it is bounded
both in entries and in bytes of audio, dropping the least recently used first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

from readaloud.engines.base import AudioChunk, Engine, SynthesisRequest
from readaloud.engines.wrapper import EngineWrapper

_Key = tuple[str, str | None, str | None, float]


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

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[AudioChunk]:
        if len(request.text) > self.max_chars or self.max_bytes <= 0:
            yield from self.inner.stream(request, cancel)
            return
        key = (request.text, request.voice, request.language, round(request.rate, 3))
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if cached is not None:
            yield from cached
            return
        made: list[AudioChunk] = []
        for chunk in self.inner.stream(request, cancel):
            made.append(chunk)
            yield chunk
        if made and not cancel.is_set():
            self._keep(key, tuple(made))

    def _keep(self, key: _Key, chunks: tuple[AudioChunk, ...]) -> None:
        size = sum(chunk.samples.nbytes for chunk in chunks)
        if size > self.max_bytes:
            return
        for chunk in chunks:
            chunk.samples.setflags(write=False)  # shared by every repeat: never edited in place
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = chunks
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= sum(chunk.samples.nbytes for chunk in dropped)
