"""speechd's SET parameters, and what they become in a readaloud request.

speechd sends rate, pitch, pitch_range and volume as -100..100 and the rest as words or
``NULL``. Rate is tempo (pitch unchanged), pitch moves the voice up to an octave either way
(``speech/voicing.py``), volume scales it (100, speechd's default, is full volume); pitch_range
is accepted and kept but has no effect.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from readaloud.engines.base import MAX_RATE, MIN_RATE

_NUMBERS = ("rate", "pitch", "pitch_range", "volume")
_WORDS = (
    "punctuation_mode",
    "spelling_mode",
    "cap_let_recogn",
    "voice",
    "language",
    "synthesis_voice",
)
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})*$")


class BadSetting(ValueError):
    """A SET line speechd sent that cannot be used (the module answers 303)."""


def speechd_rate(rate: int) -> float:
    """speechd -100..100 → readaloud 0.25..4: every 50 steps doubles (or halves) the tempo."""
    return min(MAX_RATE, max(MIN_RATE, 2.0 ** (rate / 50)))


@dataclass(frozen=True)
class Settings:
    rate: int = 0
    pitch: int = 0
    pitch_range: int = 0
    #: speechd's DefaultVolume: full.
    volume: int = 100
    punctuation_mode: str | None = None
    spelling_mode: str | None = None
    cap_let_recogn: str | None = None
    #: A symbolic voice (male1, female1, ...): readaloud's voices have no such names.
    voice: str | None = None
    language: str | None = None
    #: A voice id from LIST VOICES.
    synthesis_voice: str | None = None

    def with_values(self, values: dict[str, str]) -> Settings:
        """These settings with ``name=value`` pairs from a SET block applied.

        Unknown names are ignored (speechd adds some over time); a bad value raises BadSetting.
        """
        changes: dict[str, Any] = {}
        for name, raw in values.items():
            value = raw.strip()
            if name in _NUMBERS:
                try:
                    changes[name] = max(-100, min(100, int(value)))
                except ValueError:
                    raise BadSetting(f"{name}={value} is not a number") from None
            elif name in _WORDS:
                changes[name] = None if value in ("", "NULL") else value
        return dataclasses.replace(self, **changes)

    @property
    def speed(self) -> float:
        return speechd_rate(self.rate)

    @property
    def semitones(self) -> float:
        """speechd pitch -100..100 → semitones -12..12 (Orca's capital-letter cue, +12, is
        1.4 semitones up)."""
        return self.pitch * 12 / 100

    @property
    def gain(self) -> float:
        """speechd volume -100..100 → 0..1: 100 is full, 0 half, -100 silent."""
        return (self.volume + 100) / 200

    @property
    def spelling(self) -> bool:
        return (self.spelling_mode or "").lower() == "on"

    def language_for(self, available: set[str]) -> str | None:
        """The language to ask for, or None (the daemon's default) when no voice speaks it.

        speechd passes the locale's language, which may be ``c`` (LANG=C) or a region form.
        """
        language = self.language
        if not language or not _LANGUAGE.match(language):
            return None
        if language in available:
            return language
        base = re.split(r"[-_]", language)[0].lower()
        return base if base in available else None

    def voice_for(self, voices: dict[str, set[str]]) -> str | None:
        """The synthesis voice when the daemon has it (id → languages), else None (default)."""
        voice = self.synthesis_voice
        if voice is None or voice not in voices:
            return None
        language = self.language_for(set().union(*voices.values()) if voices else set())
        if language is not None and language not in voices[voice]:
            return None  # the user switched language: the voice for it is the daemon's choice
        return voice
