"""Pitch and volume of an utterance, for voices that have neither.

Pitch: the engine speaks ``2 ** (semitones / 12)`` times slower, and the samples are then played
that much faster (the chunk is labelled with a higher sample rate; the player's resampler does
the rest). Duration stays about what the rate asks for (0.91× measured at +6 semitones), pitch
and formants move together, like a tape played faster: natural enough for the few semitones a
screen reader's capital-letter cue uses, and it works for long text as well as short, at the cost
of the engine making that many more samples. Volume scales the samples; above 1 a limiter bends
the peaks under -1 dB of full scale, so a louder voice is never clipped.
"""

from __future__ import annotations

import dataclasses

from readaloud.audio.level import limit
from readaloud.engines.base import MAX_RATE, MIN_RATE, AudioChunk
from readaloud.speech.utterance import Utterance

#: Where the limiter holds the peaks of speech made louder than the voice (dB of full scale).
LOUD_CEILING_DB = -1.0


def pitch_factor(utterance: Utterance) -> float:
    return float(2.0 ** (utterance.pitch / 12.0))


def engine_rate(utterance: Utterance) -> float:
    """The rate to ask the engine for, so that once the pitch is moved the tempo is right."""
    return min(MAX_RATE, max(MIN_RATE, utterance.rate / pitch_factor(utterance)))


def voiced(chunk: AudioChunk, utterance: Utterance) -> AudioChunk:
    """``chunk`` at the utterance's pitch and volume."""
    factor = pitch_factor(utterance)
    if factor != 1.0:
        chunk = dataclasses.replace(
            chunk,
            sample_rate=round(chunk.sample_rate * factor),
            words=tuple(dataclasses.replace(w, at=w.at / factor) for w in chunk.words),
        )
    if utterance.volume > 1.0:
        louder = limit(chunk.samples * utterance.volume, LOUD_CEILING_DB)
        chunk = dataclasses.replace(chunk, samples=louder)
    elif utterance.volume != 1.0:
        chunk = dataclasses.replace(chunk, samples=chunk.samples * utterance.volume)
    return chunk
