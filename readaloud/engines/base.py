"""The Engine protocol every speech engine implements, and the typed chunks it yields."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Speaking rate bounds (1.0 = the voice's natural rate), set once, beside the config's checks.
from readaloud.config import MAX_RATE as MAX_RATE
from readaloud.config import MIN_RATE as MIN_RATE
from readaloud.errors import BadInput


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


#: XTTS's sampling settings: name → (lowest, highest, what it does), checked for every engine.
SAMPLING_RANGES: dict[str, tuple[float, float, str]] = {
    "temperature": (0.01, 2.0, "0.7 steady, 1.2 livelier"),
    "top_p": (0.01, 1.0, "share of likely tokens kept"),
    "top_k": (1, 1000, "number of likely tokens kept"),
    "repetition_penalty": (1.0, 20.0, "how much repeats are avoided"),
    "length_penalty": (-10.0, 10.0, "longer or shorter output"),
}


@dataclass(frozen=True)
class Sampling:
    """How XTTS samples its speech, for one request; None: the voice's or the config's own.
    Piper ignores these, but bad values are refused for every engine."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    length_penalty: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.given().items():
            low, high, meaning = SAMPLING_RANGES[name]
            if isinstance(value, bool) or not low <= value <= high:
                raise BadInput(
                    f"{name} {value:g} is out of range; use {low:g} to {high:g} ({meaning})."
                )
        if self.top_k is not None and self.top_k != int(self.top_k):
            raise BadInput(f"top_k {self.top_k:g} must be a whole number.")

    @classmethod
    def of(cls, source: object) -> Sampling:
        """The settings of ``source``'s attributes of those names (an API request, the CLI's
        arguments); None where it has none."""
        return cls(**{name: getattr(source, name, None) for name in SAMPLING_RANGES})

    def given(self) -> dict[str, Any]:
        """The settings that are set."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def over(self, defaults: Sampling) -> Sampling:
        """These settings, and ``defaults``'s where these have none."""
        return Sampling(**{**defaults.given(), **self.given()})


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
    #: XTTS's sampling (engines that do not sample ignore it).
    sampling: Sampling = Sampling()

    def but(self, **changes: object) -> SynthesisRequest:
        """The same request with some fields changed (another text, voice or language)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@runtime_checkable
class Engine(Protocol):
    """A speech engine. ``load`` once, then ``stream`` many times.

    Streams of one engine take turns chunk by chunk (engines/routing.py) unless the engine has
    ``batches = True``: then it is called from several threads at once and shares its model
    between their streams itself (XTTS).
    """

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

    def default_voice(self) -> str | None:
        """The voice id a request that names none gets (None: the engine cannot tell)."""
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
