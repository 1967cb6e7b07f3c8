"""The Engine protocol every speech engine implements, and the typed chunks it yields."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

# Speaking rate bounds (1.0 = the voice's natural rate), set once, beside the config's checks.
from readaloud.config import MAX_RATE as MAX_RATE
from readaloud.config import MIN_RATE as MIN_RATE


@dataclass(frozen=True)
class WordTiming:
    """A word that begins in a chunk: its character span and when it is heard."""

    start: int
    end: int
    #: Seconds from the chunk's first sample to the word's first sample.
    at: float
    #: Spread over the chunk by character count (XTTS), not timed by the engine (Piper).
    estimated: bool = False


@dataclass(frozen=True)
class AudioChunk:
    """A piece of synthesized speech: float32 mono samples and the text span they speak.

    ``start``/``end`` are character offsets into the text given to ``Engine.stream``.
    ``words`` are the words that begin in this chunk, in order, when the engine knows them
    (Piper's duration predictor does); spans are offsets into the same text.
    """

    samples: np.ndarray
    sample_rate: int
    start: int
    end: int
    words: tuple[WordTiming, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def moved(self, offset: int, limit: int | None = None) -> AudioChunk:
        """The same chunk with its spans ``offset`` characters on (as offsets into a longer
        text), none past ``limit``."""

        def at(position: int) -> int:
            return position + offset if limit is None else min(position + offset, limit)

        words = tuple(
            dataclasses.replace(word, start=at(word.start), end=at(word.end)) for word in self.words
        )
        return dataclasses.replace(self, start=at(self.start), end=at(self.end), words=words)


@dataclass(frozen=True)
class Voice:
    """A voice a user can pick by ``id``."""

    id: str
    engine: str
    languages: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class SynthesisRequest:
    """One call to an engine: a piece of text (a segment) and how to say it."""

    text: str
    #: A voice id from ``voices()``; None: the engine's default voice.
    voice: str | None = None
    #: A language code (en, pt-BR); None: the engine's default (the routing engine detects it).
    language: str | None = None
    #: Speaking rate; changes tempo, never pitch.
    rate: float = 1.0
    #: The utterance this text is part of ("" for none): an engine that keeps state across the
    #: segments of one utterance (the routing engine's failover) keys on it.
    utterance_id: str = ""

    def but(self, **changes: object) -> SynthesisRequest:
        """The same request with some fields changed (another text, voice or language)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@runtime_checkable
class Engine(Protocol):
    """A speech engine. ``load`` once, then ``stream`` many times (one stream at a time)."""

    #: Short engine name used in voice ids and config (``piper``, ``xtts``).
    name: str

    @property
    def sample_rate(self) -> int: ...

    def load(self) -> None:
        """Load models so the next ``stream`` call starts at once. Raises EngineError."""

    def voices(self) -> list[Voice]: ...

    def has_voice(self, voice: str) -> bool:
        """Whether ``voice`` is one of this engine's voice ids."""
        ...

    def validate(self, voice: str | None, language: str | None) -> None:
        """Raise UnknownVoice or UnsupportedLanguage when a request could not be honoured."""

    def languages(self) -> list[str]: ...

    def stream(
        self,
        request: SynthesisRequest,
        cancel: threading.Event,
    ) -> Iterator[AudioChunk]:
        """Yield chunks for ``request.text`` as soon as each is ready; stop early when ``cancel``
        is set. Chunk spans are offsets into ``request.text``.

        Raises UnknownVoice or UnsupportedLanguage before yielding anything when the request
        cannot be honoured, and EngineError when synthesis fails.
        """
        ...
