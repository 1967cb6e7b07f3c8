"""One engine, several users (the speech queue, the OpenAI-style API): a model serves one
synthesis step at a time, so each step runs under a lock and concurrent streams interleave."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from readaloud.engines.base import AudioChunk, Engine, SynthesisRequest
from readaloud.engines.wrapper import EngineWrapper


class SharedEngine(EngineWrapper):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            self.inner.load()

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
