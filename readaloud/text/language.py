"""Which language a piece of text is in, for requests that do not say (lingua).

Short Latin-script text ("OK", "Tab", "Hello") cannot be told apart reliably: it gets ``None``
and the caller uses its default language. Other scripts (Cyrillic, Arabic, CJK, Devanagari,
Hangul, ...) are told apart by lingua even from a word or two.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

#: Latin-script text needs at least this many words and letters before it is judged.
MIN_LATIN_WORDS = 2
MIN_LATIN_LETTERS = 6
#: lingua answers only when its best guess leads the second by this much (0..1).
MIN_RELATIVE_DISTANCE = 0.1

_WORD = re.compile(r"[^\W\d_]+")
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
        latin = all(ord(ch) <= _LATIN_END for ch in letters)
        if latin and (len(words) < MIN_LATIN_WORDS or len(letters) < MIN_LATIN_LETTERS):
            return None
        detector = self._build()
        if detector is None:
            return None
        found = detector.detect_language_of(text)
        if found is None:
            return None
        code = found.iso_code_639_1.name.lower()
        return code if code in self.languages else None

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


def _lingua_detector(codes: list[str]):
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:
        log.warning("lingua-language-detector is not installed: languages are not detected")
        return False
    languages = []
    for code in codes:
        iso = getattr(IsoCode639_1, code.upper(), None)
        if iso is not None:
            languages.append(Language.from_iso_code_639_1(iso))
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
