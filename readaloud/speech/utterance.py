"""What one request asks to be spoken, and the events reported while it is."""

from __future__ import annotations

from dataclasses import dataclass

from readaloud.config import MAX_VOLUME as MAX_VOLUME
from readaloud.engines.base import MAX_RATE, MIN_RATE, Sampling
from readaloud.errors import BadInput

#: How far the pitch may be moved, in semitones either way.
MAX_PITCH = 12.0


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: str | None = None
    language: str | None = None
    rate: float = 1.0
    #: Semitones up (or down, negative) from the voice's own pitch (``speech/voicing.py``).
    pitch: float = 0.0
    #: 1 is the voice as made, 0 silent, up to 2 louder (``speech/voicing.py``).
    volume: float = 1.0
    #: XTTS's sampling for this request (checked for every engine).
    sampling: Sampling = Sampling()
    #: The text arrives while it is spoken (``speech/stream.py``); ``text`` is empty then.
    streamed: bool = False

    def __post_init__(self) -> None:
        if self.streamed:
            if self.text:
                raise BadInput("A streamed utterance gets its text from its stream.")
        elif not self.text.strip():
            raise BadInput("There is no text to read: the input is empty or only whitespace.")
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise BadInput(
                f"Rate {self.rate:g} is out of range; use a value from {MIN_RATE:g} "
                f"(slow) to {MAX_RATE:g} (fast), 1 is normal."
            )
        if not -MAX_PITCH <= self.pitch <= MAX_PITCH:
            raise BadInput(
                f"Pitch {self.pitch:g} is out of range; use semitones from {-MAX_PITCH:g} to "
                f"{MAX_PITCH:g}, 0 is the voice's own."
            )
        if not 0.0 <= self.volume <= MAX_VOLUME:
            raise BadInput(
                f"Volume {self.volume:g} is out of range; use 0 (silent) to {MAX_VOLUME:g} "
                "(louder), 1 is the voice as made."
            )
