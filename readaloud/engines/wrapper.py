"""An engine in front of another: everything is passed on, except what the subclass changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from readaloud.engines.base import AudioChunk, Engine, SynthesisRequest, Voice


class EngineWrapper:
    def __init__(self, engine: Engine) -> None:
        self.inner = engine
        self.name = engine.name

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    def load(self) -> None:
        self.inner.load()

    def voices(self) -> list[Voice]:
        return self.inner.voices()

    def has_voice(self, voice: str) -> bool:
        return self.inner.has_voice(voice)

    def default_voice(self) -> str | None:
        return self.inner.default_voice()

    def languages(self) -> list[str]:
        return self.inner.languages()

    def validate(self, voice: str | None, language: str | None) -> None:
        self.inner.validate(voice, language)

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[AudioChunk]:
        return self.inner.stream(request, cancel)
