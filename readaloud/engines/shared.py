"""One engine, several users (the speech queue, the OpenAI-style API): a model serves one
synthesis step at a time, so each step runs under a lock and concurrent streams interleave."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from readaloud.engines.base import AudioChunk, Engine, SynthesisRequest, Voice


class SharedEngine:
    def __init__(self, engine: Engine) -> None:
        self.inner = engine
        self.name = engine.name
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    def load(self) -> None:
        with self._lock:
            self.inner.load()

    def voices(self) -> list[Voice]:
        return self.inner.voices()

    def has_voice(self, voice: str) -> bool:
        return self.inner.has_voice(voice)

    def languages(self) -> list[str]:
        return self.inner.languages()

    def validate(self, voice: str | None, language: str | None) -> None:
        self.inner.validate(voice, language)

    def stream(
        self,
        request: SynthesisRequest,
        cancel: threading.Event,
    ) -> Iterator[AudioChunk]:
        chunks = self.inner.stream(request, cancel)
        while True:
            with self._lock:  # held while the engine computes the next chunk, not while we wait
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk
