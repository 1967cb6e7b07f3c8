"""One Engine in front of two: the primary (XTTS) and a fast one (Piper).

* Very short text (a character, a key name, a word or two) goes to the fast engine: XTTS
  hallucinates on it, and Piper says it at once.
* When the primary fails mid-utterance (CUDA out of memory, any exception), the fast engine speaks
  the rest of that utterance from where the primary stopped; the event is logged and the primary
  is tried again for the next utterance. Never silence, never a crash.
* When a request names no language, each segment's language is detected (lingua), falling back to
  the configured default for text too short to tell.

Utterances are told apart by ``SynthesisRequest.utterance_id`` (speech/synthesis.py sets it): "the
rest of the utterance" is every later call with the same id.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from readaloud.engines.base import AudioChunk, Engine, SynthesisRequest, Voice
from readaloud.errors import BadInput, ReadaloudError, UnknownVoice, UnsupportedLanguage
from readaloud.text.language import LanguageDetector
from readaloud.text.lexicon import Lexicon

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
#: A "word" longer than this (a URL, a long compound) is not short text even alone.
_SHORT_WORD_CHARS = 20
#: After this long without a call, a failed utterance is surely over: try the primary again.
_FAILOVER_EXPIRY_S = 30.0


@dataclass(frozen=True)
class Failover:
    """One switch to the fast engine mid-utterance (kept for status and tests)."""

    engine: str
    error: str
    #: Offset in the segment's text where the fast engine took over.
    resumed_at: int
    when: float


@dataclass(frozen=True)
class LanguagePolicy:
    """Which voice reads each language, and how words are said (speech/languages.py follows
    it, sentence by sentence)."""

    #: Language code → the voice id that reads it ([voices.by_language]).
    by_language: Mapping[str, str] = field(default_factory=dict)
    #: "tell": say once that the voice is missing and skip that text; "read-anyway": the
    #: default voice reads it (and the notice is only shown).
    missing_voice: str = "tell"
    #: The user's pronunciation dictionary (None: none).
    lexicon: Lexicon | None = None


class RoutingEngine:
    """Routes each segment to the primary or the fast engine and fails over between them."""

    def __init__(
        self,
        primary: Engine,
        fast: Engine | None = None,
        *,
        short_text_words: int = 2,
        detector: LanguageDetector | None = None,
        default_language: str | None = "en",
        policy: LanguagePolicy | None = None,
    ) -> None:
        self.primary = primary
        self.fast = fast if fast is not primary else None
        self.name = primary.name
        self.short_text_words = short_text_words
        self.detector = detector
        self.default_language = default_language or None
        self.policy = policy or LanguagePolicy()
        self.failovers: deque[Failover] = deque(maxlen=20)
        # utterance_id → when the primary failed in it (several utterances may be in flight).
        self._failed: dict[str, float] = {}
        # Streams of an engine that does not batch them take turns, one chunk at a time.
        self._turns = {id(e): threading.Lock() for e in (primary, fast) if e is not None}

    # -- Engine protocol ------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return self.primary.sample_rate

    def load(self) -> None:
        self.primary.load()
        if self.fast is not None:
            try:
                self.fast.load()
            except ReadaloudError as error:  # speech still works, only without a safety net
                log.warning("The fallback engine %s did not load: %s", self.fast.name, error)
                self.fast = None
        if self.detector is not None:
            self.detector.preload()  # 0.1 s now rather than on the first request without one

    def voices(self) -> list[Voice]:
        voices = list(self.primary.voices())
        seen = {v.id for v in voices}
        if self.fast is not None:
            voices += [v for v in self.fast.voices() if v.id not in seen]
        return voices

    def has_voice(self, voice: str) -> bool:
        return self.primary.has_voice(voice) or (
            self.fast is not None and self.fast.has_voice(voice)
        )

    def default_voice(self) -> str | None:
        return self.primary.default_voice()

    def languages(self) -> list[str]:
        codes = set(self.primary.languages())
        if self.fast is not None:
            codes |= set(self.fast.languages())
        return sorted(codes)

    def validate(self, voice: str | None, language: str | None) -> None:
        owner = self._owner(voice)
        try:
            owner.validate(voice, language)
        except (UnsupportedLanguage, UnknownVoice):
            # No voice asked for, and the primary has none for this language (or none at all):
            # the fast engine speaks it when it can.
            if voice or self.fast is None or owner is self.fast:
                raise
            if not self._speaks(self.fast, None, language):
                raise

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[AudioChunk]:
        text, voice = request.text, request.voice
        language = request.language or self._detect(text)
        engine = self._choose(request.but(language=language))
        asked = self._request_for(engine, request.but(language=language))
        if engine is not self.primary or self.fast is None:
            yield from self._resampled(self._turn(engine, asked, cancel))
            return
        position = 0
        try:
            for chunk in self._turn(self.primary, asked, cancel):
                position = max(position, chunk.end)
                yield chunk
            return
        except BadInput:
            raise  # the request itself is wrong: the fallback would not do better
        except Exception as error:  # noqa: BLE001 - no engine failure may silence the speech
            self._record_failover(request, error, position)
        if cancel.is_set():
            return
        rest = text[position:]
        if not _WORD.search(rest):
            return
        offset = position + len(rest) - len(rest.lstrip())
        rest_of_it = request.but(text=rest.lstrip(), voice=voice, language=language)
        fallback = self._turn(self.fast, self._request_for(self.fast, rest_of_it), cancel)
        for chunk in self._resampled(fallback):
            yield chunk.moved(offset)

    def _turn(
        self, engine: Engine, request: SynthesisRequest, cancel: threading.Event
    ) -> Iterator[AudioChunk]:
        """``engine``'s chunks. An engine that decodes concurrent streams together (``batches``:
        XTTS) is called freely; another computes one chunk at a time for all the streams it
        serves (the queue, the OpenAI API, an export), so they interleave."""
        chunks = engine.stream(request, cancel)
        if getattr(engine, "batches", False):
            yield from chunks
            return
        turn = self._turns[id(engine)]
        while True:
            with turn:  # held while the engine computes the next chunk, not while we wait
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    # -- routing --------------------------------------------------------------------------------

    def is_short(self, text: str) -> bool:
        """A character, a key name ("Ctrl+Alt+Delete"), or a word or two."""
        words = [w for w in text.split() if _WORD.search(w)]
        return len(words) <= self.short_text_words and all(
            len(w) <= _SHORT_WORD_CHARS for w in words
        )

    def _choose(self, request: SynthesisRequest) -> Engine:
        text, voice, language = request.text, request.voice, request.language
        owner = self._owner(voice)
        if owner is not self.primary or self.fast is None:
            return owner
        now = time.monotonic()
        self._failed = {u: t for u, t in self._failed.items() if now - t < _FAILOVER_EXPIRY_S}
        if request.utterance_id and request.utterance_id in self._failed:
            self._failed[request.utterance_id] = now
            return self.fast  # the rest of an utterance the primary failed in
        if self._speaks(self.fast, None, language) and (
            self.is_short(text) or not self._speaks(self.primary, voice, language)
        ):
            return self.fast
        return self.primary

    def _owner(self, voice: str | None) -> Engine:
        """The engine a voice id belongs to (the primary when none is given)."""
        if (
            voice
            and self.fast is not None
            and not self.primary.has_voice(voice)
            and self.fast.has_voice(voice)
        ):
            return self.fast
        return self.primary

    def _request_for(self, engine: Engine, request: SynthesisRequest) -> SynthesisRequest:
        """What to ask ``engine`` for: its own voice only, a language it speaks."""
        voice, language = request.voice, request.language
        if voice and not engine.has_voice(voice):
            voice = None
        if language and not self._speaks(engine, voice, language):
            log.info("%s does not speak %s; using its default voice", engine.name, language)
            language = None
        return request.but(voice=voice, language=language)

    @staticmethod
    def _speaks(engine: Engine, voice: str | None, language: str | None) -> bool:
        try:
            engine.validate(voice, language)
        except ReadaloudError:
            return False
        return True

    def _detect(self, text: str) -> str | None:
        if self.detector is None:
            return self.default_language
        detected = self.detector.detect(text)
        if detected is not None and detected not in self.languages():
            detected = None
        return detected or self.default_language

    def _record_failover(
        self, request: SynthesisRequest, error: BaseException, position: int
    ) -> None:
        assert self.fast is not None
        message = f"{type(error).__name__}: {error}"
        log.warning(
            "%s failed mid-utterance (%s); %s speaks the rest of it",
            self.primary.name,
            message,
            self.fast.name,
        )
        self.failovers.append(Failover(self.primary.name, message, position, time.time()))
        if request.utterance_id:
            self._failed[request.utterance_id] = time.monotonic()

    def _resampled(self, chunks: Iterator[AudioChunk]) -> Iterator[AudioChunk]:
        """Chunks at this engine's rate (the fast engine may speak at another)."""
        rate = self.sample_rate
        for chunk in chunks:
            if chunk.sample_rate == rate:
                yield chunk
                continue
            import soxr

            samples = soxr.resample(chunk.samples, chunk.sample_rate, rate, quality="HQ")
            yield dataclasses.replace(
                chunk, samples=np.asarray(samples, dtype=np.float32), sample_rate=rate
            )
