"""Which language each sentence of an utterance is in, which voice reads it, and what is said
when no voice can: no text is read with a voice of another language without a word.

A request that names its language is read in it, as it asks. Otherwise each sentence's language
is judged from its words, staying with the language being read unless the evidence for another
is strong (``LanguageDetector.judge``): short lines keep their neighbours' language.
"""

from __future__ import annotations

from dataclasses import dataclass

from readaloud.engines.base import Engine
from readaloud.engines.routing import LanguagePolicy, RoutingEngine
from readaloud.engines.wrapper import EngineWrapper
from readaloud.errors import ReadaloudError
from readaloud.text.language import LanguageDetector, language_name
from readaloud.text.lexicon import Respelled


@dataclass(frozen=True)
class VoiceChoice:
    """How to read one sentence."""

    #: The language to ask the engine for (None: the engine's default).
    language: str | None
    #: The voice to ask for (None: the engine's voice for ``language``).
    voice: str | None
    #: A language no installed voice speaks ("" when one does).
    missing: str = ""


@dataclass(frozen=True)
class Turn:
    """What is said for one sentence."""

    #: The sentence's language and the voice that reads it (``missing`` when none can).
    choice: VoiceChoice
    #: What the engine is asked for: ``choice``, or the notice's voice when the notice is said
    #: in the sentence's place.
    ask: VoiceChoice
    #: The text the engine says: the sentence respelled by the lexicon, or the notice.
    said: Respelled
    #: The notice that no voice speaks the sentence's language, the first time ("" after).
    notice: str = ""
    #: The notice is said instead of the sentence.
    replaced: bool = False


def download_command(language: str) -> str:
    return f"readaloud voice download {language}"


class LanguageTrack:
    """One utterance's (or one exported book's) way through its languages, sentence by
    sentence: ``voice`` and ``language`` are the ones it asks for (None: not given)."""

    def __init__(self, engine: Engine, voice: str | None, language: str | None) -> None:
        self.engine = engine
        self.voice = voice
        self.fixed = language
        inner = engine
        while isinstance(inner, EngineWrapper):  # the short-text cache, ...
            inner = inner.inner
        routing = inner if isinstance(inner, RoutingEngine) else None
        self.detector: LanguageDetector | None = routing.detector if routing else None
        self.policy = routing.policy if routing else LanguagePolicy()
        #: The user's own language: the notices are said in it.
        self.default = routing.default_language if routing else None
        #: The language being read: the user's own until a sentence is judged.
        self.current = self.default
        #: Whether any sentence was judged yet: until then a request is asked for as it came,
        #: with no language (the engine's default), so short text ("a", a key name) is the same
        #: request the key echo set and the short-text cache were made with.
        self.judged = False
        self._choices: dict[str, VoiceChoice] = {}
        self._told: set[str] = set()

    @property
    def tells(self) -> bool:
        """Text in a language no voice speaks is skipped (and said so), not read anyway."""
        return self.policy.missing_voice == "tell"

    def choose(self, text: str) -> VoiceChoice:
        """How to read ``text``, the utterance's next sentence."""
        if self.fixed or self.detector is None:
            return VoiceChoice(self.fixed, self.voice)
        found = self.detector.judge(text, self.current)
        if found is not None:
            self.current, self.judged = found, True
        if not self.judged or self.current is None:
            return VoiceChoice(None, self.voice)
        return self.voice_for(self.current)

    def turn(self, text: str) -> Turn | None:
        """What to say for ``text``, the utterance's next sentence; None when it is skipped
        (its language has no voice, and the notice was said already)."""
        choice = self.choose(text)
        if not choice.missing:
            return Turn(choice, choice, self.respell(text, choice.language))
        notice = self.notice(choice.missing)
        if not self.tells:
            return Turn(choice, choice, self.respell(text, choice.language), notice)
        if not notice:
            return None
        return Turn(choice, self.notice_voice(), Respelled(notice), notice, replaced=True)

    def voice_for(self, language: str) -> VoiceChoice:
        choice = self._choices.get(language)
        if choice is None:
            choice = self._choices[language] = self._pick(language)
        return choice

    def _pick(self, language: str) -> VoiceChoice:
        if self.voice and self._speaks(self.voice, language):
            return VoiceChoice(language, self.voice)
        preferred = self.policy.by_language.get(language)
        if preferred and self._speaks(preferred, language):
            return VoiceChoice(language, preferred)
        if self._speaks(None, language):
            return VoiceChoice(language, None)
        return VoiceChoice(None, self.voice, missing=language)

    def _speaks(self, voice: str | None, language: str) -> bool:
        try:
            self.engine.validate(voice, language)
        except ReadaloudError:
            return False
        return True

    def respell(self, text: str, language: str | None) -> Respelled:
        """``text`` with the user's pronunciation dictionary applied, for ``language`` (else
        the language being read)."""
        lexicon = self.policy.lexicon
        if lexicon is None:
            return Respelled(text)
        return lexicon.respell(text, language or self.current)

    def notice(self, language: str) -> str:
        """What to say the first time text in ``language`` has no voice ("" after that)."""
        if language in self._told:
            return ""
        self._told.add(language)
        name = language_name(language)
        missing = f"No {name} voice is installed. Run: {download_command(language)}"
        if self.tells:
            return f"{missing}. The {name} sentences are skipped."
        return f"{missing}. Until then the {name} text is read with the default voice."

    def notice_voice(self) -> VoiceChoice:
        """The voice that says a notice: the one of the user's own language."""
        if self.default:
            choice = self.voice_for(self.default)
            if not choice.missing:
                return choice
        return VoiceChoice(None, self.voice)
