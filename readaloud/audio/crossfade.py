"""Joining audio decoded in overlapping windows without a click."""

from __future__ import annotations

import numpy as np


def crossfade_curves(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in), raised-cosine, summing to one: a blend of one signal with itself is
    that signal."""
    ramp = np.sin(0.5 * np.pi * (np.arange(length) + 0.5) / max(length, 1)) ** 2
    return (1.0 - ramp).astype(np.float32), ramp.astype(np.float32)


def blend(tail: np.ndarray, piece: np.ndarray) -> np.ndarray:
    """``piece`` with its first ``len(tail)`` samples cross-faded from ``tail`` (the same span,
    decoded by the previous window)."""
    if not len(tail):
        return piece
    piece = piece.copy()
    fade_out, fade_in = crossfade_curves(len(tail))
    piece[: len(tail)] = tail * fade_out + piece[: len(tail)] * fade_in
    return piece
