"""The frame-rate half of a Piper voice run over windows of a sentence's frames.

The flow and the decoder are convolutions: a frame's samples depend only on nearby frames. So a
window decoded with ``context`` frames before it and ``lookahead`` frames after it gives (almost)
the samples of a whole-sentence decode. The first window is small so the first sound comes soon;
the second is as small, since it must be ready before the first has played out; windows then
double, so later ones spend less on context. Each window's last ``crossfade`` frames
are held back and blended with the next window's decode of the same frames, so joins never click.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from readaloud.audio.crossfade import blend


@dataclass(frozen=True)
class WindowPlan:
    #: Frames in the first window (0.19 s at 22 050 Hz with 256-sample frames). Measured in the
    #: daemon on 2 cores: a one-word first sound 58 ms with 32, 47 ms with 16; the next window is
    #: still made long before the first has played.
    first: int = 16
    #: Frames in the second window. It is decoded while the first plays (0.13 s once its lead-in
    #: is cut): measured on 2 cores with one taken by another process, a second window of 32
    #: frames came 5-40 ms too late in 4 utterances of 10, one of 16 frames in time.
    second: int = 16
    #: Windows then double up to this many frames.
    largest: int = 256
    #: Frames decoded before a window and thrown away (the flow sees about 30 frames each way).
    context: int = 24
    #: Frames decoded after a window and thrown away, except the cross-fade.
    lookahead: int = 24
    #: Frames blended between neighbouring windows.
    crossfade: int = 2


def window_spans(frames: int, plan: WindowPlan) -> Iterator[tuple[int, int]]:
    """``[start, stop)`` of each window; a remainder shorter than a first window joins the last."""
    sizes = itertools.chain((plan.first, plan.second), _doubling(plan.second, plan.largest))
    start = 0
    while start < frames:
        stop = min(frames, start + max(1, next(sizes)))
        if frames - stop < plan.first:
            stop = frames
        yield start, stop
        start = stop


def _doubling(size: int, largest: int) -> Iterator[int]:
    while True:
        size = max(size, min(largest, size * 2))
        yield size


def decode_in_windows(
    decode: Callable[[int, int], np.ndarray],
    frames: int,
    hop: int,
    plan: WindowPlan,
    cancel: threading.Event,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, samples)`` for each window, in order; every frame's samples once.

    ``decode(lo, hi)`` runs the frame-rate half on frames ``lo:hi`` and returns ``(hi - lo) * hop``
    samples. Stops early when ``cancel`` is set.
    """
    tail = np.zeros(0, dtype=np.float32)
    for start, stop in window_spans(frames, plan):
        if cancel.is_set():
            return
        lo = max(0, start - plan.context)
        hi = min(frames, stop + plan.lookahead)
        audio = decode(lo, hi)
        if len(audio) != (hi - lo) * hop:
            raise ValueError(f"the decoder gave {len(audio)} samples for {hi - lo} frames")
        keep = min(hi, stop + plan.crossfade) if stop < frames else stop
        piece = blend(tail, audio[(start - lo) * hop : (keep - lo) * hop])
        body = (stop - start) * hop
        tail = piece[body:]
        yield start, stop, piece[:body]
