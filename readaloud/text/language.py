"""Which language a piece of text is in, for requests that do not say (lingua).

Short Latin-script text ("OK", "Tab", "Hello") cannot be told apart reliably: it gets ``None``
and the caller uses its default language. Other scripts (Cyrillic, Arabic, CJK, Devanagari,
Hangul, ...) are told apart by lingua even from a word or two.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

#: Latin-script text needs at least this many words and letters before it is judged.
MIN_LATIN_WORDS = 2
MIN_LATIN_LETTERS = 6
#: lingua answers only when its best guess leads the second by this much (0..1).
MIN_RELATIVE_DISTANCE = 0.1

#: Languages told apart even when no installed voice speaks them, so that such text is reported
#: instead of read with a voice of another language: those Piper and XTTS have voices for, and
#: a few more scripts. (Each adds lingua's trigram model: these 40 cost about 90 MB in all.)
KNOWN_LANGUAGES = frozenset(
    {
        "ar",
        "ca",
        "cs",
        "cy",
        "da",
        "de",
        "el",
        "en",
        "es",
        "fa",
        "fi",
        "fr",
        "he",
        "hi",
        "hu",
        "id",
        "is",
        "it",
        "ja",
        "ka",
        "kk",
        "ko",
        "lv",
        "ml",
        "nl",
        "no",
        "pl",
        "pt",
        "ro",
        "ru",
        "sk",
        "sl",
        "sr",
        "sv",
        "sw",
        "te",
        "th",
        "tr",
        "uk",
        "vi",
        "zh",
    }
)
#: Reading goes on in the language it is in until a sentence is this much more likely (a power
#: of ten, lingua's low-accuracy likelihoods) in another one. Measured on 447 sentences of
#: English technical prose (READMEs, design notes): the most misjudged reached 10^3.9; real
#: sentences of two words or more in German, French, Italian, Swedish... 10^4.4 and up.
SWITCH_EVIDENCE = 4.2

_WORD = re.compile(r"[^\W\d_]+")
#: A word as detection sees it: letters only, maybe with an inner apostrophe or hyphen. Code,
#: paths, numbers and acronyms ("XTTS", "config.toml") say nothing about the language.
_PLAIN_WORD = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
#: Our codes (Piper's language families) that lingua spells otherwise: Norwegian is Bokmål.
_LINGUA_CODES = {"no": "nb"}
_OUR_CODES = {theirs: ours for ours, theirs in _LINGUA_CODES.items()}


def _code_of(language) -> str:  # lingua.Language -> our code
    code = language.iso_code_639_1.name.lower()
    return _OUR_CODES.get(code, code)


# Latin letters, including every accented and extended form (up to IPA extensions).
_LATIN_END = 0x024F


class LanguageDetector:
    """Detects one of ``languages`` (ISO 639-1 codes); builds lingua's models on first use."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.languages = sorted({code.split("-")[0].lower() for code in languages})
        self._detector = None
        self._lock = threading.Lock()

    def detect(self, text: str) -> str | None:
        """The language code of ``text``, or None when it is too short or unclear to tell."""
        letters = "".join(_WORD.findall(text))
        if not letters:
            return None
        # Words as a listener counts them: "Ctrl+Alt+Delete" is one (a key name), not three.
        words = [w for w in text.split() if _WORD.search(w)]
        if _too_short(words, letters):
            return None
        detector = self._build()
        if detector is None:
            return None
        found = detector.detect_language_of(text)
        if found is None:
            return None
        code = _code_of(found)
        return code if code in self.languages else None

    def judge(self, text: str, current: str | None) -> str | None:
        """The language of ``text`` when the text before it was in ``current``: ``current``
        unless the evidence for another language is strong (``SWITCH_EVIDENCE``), or that
        language's script is not ``current``'s; None when the text is too short to tell.

        Short lines so keep the language of their neighbours, and a misjudged English sentence
        full of names does not leave English.
        """
        words = [_EDGES.sub("", word) for word in text.split()]
        words = [w for w in words if _PLAIN_WORD.match(w) and not (len(w) > 1 and w.isupper())]
        letters = "".join(words)
        if not letters or _too_short(words, letters):
            return None
        detector = self._build()
        if detector is None:
            return None
        values = {
            _code_of(value.language): value.value
            for value in detector.compute_language_confidence_values(" ".join(words))
        }
        best = max(values, key=values.__getitem__, default=None)
        if best is None or values[best] <= 0:
            return None  # too little to go on ("Да")
        if best == current:
            return current
        if best not in self.languages:
            return None
        now = values.get(current or "", 0.0)
        if now > 0 and math.log10(values[best] / now) < SWITCH_EVIDENCE:
            return current
        return best

    def language_of(self, text: str, default: str) -> str:
        """``detect(text)``, or ``default`` when it cannot tell."""
        return self.detect(text) or default

    def preload(self) -> None:
        """Load the language models now, not on the first request."""
        detector = self._build()
        if detector is not None:
            detector.detect_language_of("warm up the language models")

    def _build(self):  # -> lingua.LanguageDetector | None
        with self._lock:
            if self._detector is None:
                self._detector = _lingua_detector(self.languages)
            return self._detector or None


def _too_short(words: list[str], letters: str) -> bool:
    """Latin-script text of too few words or letters to tell its language apart."""
    latin = all(ord(ch) <= _LATIN_END for ch in letters)
    return latin and (len(words) < MIN_LATIN_WORDS or len(letters) < MIN_LATIN_LETTERS)


def _lingua_language(code: str):  # -> lingua.Language | None
    """lingua's language for one of our codes ("en", "pt-BR", "no"); None when it has none."""
    from lingua import IsoCode639_1, Language

    base = code.split("-")[0].lower()
    iso = getattr(IsoCode639_1, _LINGUA_CODES.get(base, base).upper(), None)
    return None if iso is None else Language.from_iso_code_639_1(iso)


def language_name(code: str) -> str:
    """The English name of a language code ("ru" → "Russian"), or the code when unknown."""
    try:
        language = _lingua_language(code)
    except ImportError:
        return code
    if language is None:
        return code
    return {"BOKMAL": "Norwegian"}.get(language.name, language.name.title())


def _lingua_detector(codes: list[str]):
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        log.warning("lingua-language-detector is not installed: languages are not detected")
        return False
    languages = [language for language in map(_lingua_language, codes) if language is not None]
    if len(languages) < 2:
        return False  # one candidate: nothing to tell apart
    # Low-accuracy mode uses trigrams only: 35 MB and 0.1 s to load instead of 350 MB and 2-4 s,
    # and on the phrases that reach it (two words or more) it answers as well or says "unsure".
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_minimum_relative_distance(MIN_RELATIVE_DISTANCE)
        .with_low_accuracy_mode()
        .build()
    )
