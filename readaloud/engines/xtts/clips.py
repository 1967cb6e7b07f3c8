"""Reference clips for voice enrolment: read any common format, check they can carry a voice.

Clips are read with soundfile (WAV, FLAC, OGG, MP3, ...), mixed to mono and resampled with soxr;
``torchaudio.load`` is avoided on purpose (it needs FFmpeg libraries many systems lack).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from readaloud.errors import BadInput

#: The rate XTTS conditions the GPT at, and the rate of its speaker encoder.
CONDITIONING_RATE = 22050
SPEAKER_ENCODER_RATE = 16000

#: Less speech than this in a clip cannot carry a voice.
MIN_SPEECH_SECONDS = 3.0
#: Below this in total, cloning works but sounds less like the speaker.
RECOMMENDED_SECONDS = 6.0
#: Windows quieter than this (-45 dBFS RMS) are silence, not speech.
_SPEECH_RMS = 10 ** (-45 / 20)
_WINDOW_SECONDS = 0.02
#: A sample this close to full scale was probably cut off by the recorder.
_FULL_SCALE = 0.99
#: More than this share of the speech at full scale is audible distortion.
_MAX_CLIPPED_SHARE = 0.001
#: XTTS uses the first 30 s of a clip; a longer file is refused before it is decoded whole
#: into memory (an hour of 48 kHz stereo is over a gigabyte of samples).
MAX_CLIP_SECONDS = 600.0


class BadClip(BadInput):
    """A reference clip cannot be read or is unfit for enrolment; the message names it."""


@dataclass(frozen=True)
class Clip:
    """A reference clip: mono float32 at CONDITIONING_RATE, and what was measured on it."""

    path: Path
    samples: np.ndarray
    source_rate: int
    speech_seconds: float

    @property
    def seconds(self) -> float:
        return len(self.samples) / CONDITIONING_RATE

    def at_rate(self, rate: int) -> np.ndarray:
        if rate == CONDITIONING_RATE:
            return self.samples
        return soxr.resample(self.samples, CONDITIONING_RATE, rate, quality="HQ").astype(
            np.float32, copy=False
        )


def read_clip(path: Path) -> Clip:
    """Read and check one clip, or raise BadClip naming it and saying what to do."""
    name = path.name
    if not path.exists():
        raise BadClip(f"Clip '{path}' does not exist.")
    if path.is_dir():
        raise BadClip(f"Clip '{path}' is a folder; give the recording's file.")
    try:
        seconds = soundfile.info(str(path)).duration
        if seconds > MAX_CLIP_SECONDS:
            raise BadClip(
                f"Clip '{name}' is {seconds / 60:.0f} minutes long; give recordings of 6 s to a "
                f"few minutes (at most {MAX_CLIP_SECONDS / 60:.0f}): XTTS uses the first 30 s "
                "of each clip."
            )
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        reason = getattr(error, "error_string", None) or str(error)
        raise BadClip(
            f"Cannot read clip '{name}' ({reason}). Use a WAV, FLAC, OGG or MP3 recording."
        ) from None
    if data.size == 0:
        raise BadClip(f"Clip '{name}' holds no audio. Record at least {RECOMMENDED_SECONDS:.0f} s.")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise BadClip(f"Clip '{name}' holds invalid samples (NaN or infinity); export it again.")
    speech = speech_seconds(mono, rate)
    if speech < 0.3:
        raise BadClip(
            f"Clip '{name}' is silent (or nearly): record the voice again, closer to the "
            "microphone."
        )
    clipped = clipped_share(mono, rate)
    if clipped > _MAX_CLIPPED_SHARE:
        raise BadClip(
            f"Clip '{name}' is clipped ({clipped:.1%} of its speech at full scale): record it "
            "again with a lower input level."
        )
    if speech < MIN_SPEECH_SECONDS:
        raise BadClip(
            f"Clip '{name}' has only {speech:.1f} s of speech; each clip needs at least "
            f"{MIN_SPEECH_SECONDS:.0f} s ({RECOMMENDED_SECONDS:.0f} s or more sounds best)."
        )
    if rate != CONDITIONING_RATE:
        mono = soxr.resample(mono, rate, CONDITIONING_RATE, quality="HQ")
    samples = np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)
    return Clip(path=path, samples=samples, source_rate=int(rate), speech_seconds=speech)


def _window_rms(samples: np.ndarray, rate: int) -> np.ndarray:
    size = max(1, round(rate * _WINDOW_SECONDS))
    count = len(samples) // size
    if count == 0:
        return np.sqrt(np.mean(np.square(samples, dtype=np.float64), keepdims=True))
    windows = samples[: count * size].astype(np.float64).reshape(count, size)
    return np.sqrt(np.mean(windows**2, axis=1))


def speech_seconds(samples: np.ndarray, rate: int) -> float:
    """Seconds of the clip louder than silence (-45 dBFS, 20 ms windows)."""
    loud = _window_rms(samples, rate) > _SPEECH_RMS
    return float(np.count_nonzero(loud)) * max(1, round(rate * _WINDOW_SECONDS)) / rate


def clipped_share(samples: np.ndarray, rate: int) -> float:
    """Share of the speech's samples at full scale."""
    at_full_scale = np.count_nonzero(np.abs(samples) >= _FULL_SCALE)
    speech = max(speech_seconds(samples, rate) * rate, 1.0)
    return at_full_scale / speech
