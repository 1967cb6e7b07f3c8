"""Peaks held under a ceiling, smoothly: the limiter behind a volume above 1 and an audiobook's
loudness. Samples above the knee (3 dB under the ceiling) are bent under the ceiling with tanh;
the rest are left as they are, so speech is never clipped."""

from __future__ import annotations

import numpy as np


def limit(audio: np.ndarray, ceiling_db: float) -> np.ndarray:
    """``audio`` with every peak under ``ceiling_db`` dB of full scale."""
    knee, ceiling = 10 ** ((ceiling_db - 3) / 20), 10 ** (ceiling_db / 20)
    out = audio.astype(np.float32, copy=True)
    loud = np.abs(out) > knee
    over = (np.abs(out[loud]) - knee) / (ceiling - knee)
    out[loud] = np.sign(out[loud]) * (knee + (ceiling - knee) * np.tanh(over))
    return out
