"""What one request asks to be spoken, and the events reported while it is."""

from __future__ import annotations

from dataclasses import dataclass

from readaloud.engines.base import MAX_RATE, MIN_RATE
from readaloud.errors import BadInput


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: str | None = None
    language: str | None = None
    rate: float = 1.0

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise BadInput("There is no text to read: the input is empty or only whitespace.")
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise BadInput(
                f"Rate {self.rate:g} is out of range; use a value from {MIN_RATE:g} "
                f"(slow) to {MAX_RATE:g} (fast), 1 is normal."
            )

