"""Resampling of an utterance's chunks to the rate the output stream runs at."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

_NO_SAMPLES = np.zeros(0, dtype=np.float32)


@dataclass(slots=True)
class Piece:
    """Samples ready for the output stream; ``mark`` belongs to the first of them."""

    samples: np.ndarray
    mark: object | None = None


class ChunkResampler:
    """Resamples the chunks of one utterance as one continuous signal.

    Resampling each chunk on its own would ring at every join (an audible click); one streaming
    resampler per utterance keeps its filter state across chunks. The filter holds back a few
    milliseconds of output, so a chunk's first output sample arrives with a later call: each mark
    is carried to the exact output sample where its chunk begins.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)
        self._frames_in = 0
        self._frames_out = 0
        # (output frame index, mark) for chunks whose first output sample is not out yet.
        self._marks: list[tuple[int, object]] = []

    def feed(self, samples: np.ndarray, mark: object | None = None) -> list[Piece]:
        if mark is not None:
            # soxr's output is aligned with its input (the filter delay is compensated).
            self._marks.append((round(self._frames_in * self.out_rate / self.in_rate), mark))
        self._frames_in += len(samples)
        return self._split(self._stream.resample_chunk(samples))

    def flush(self) -> list[Piece]:
        """The held-back end of the utterance; the resampler is spent afterwards."""
        pieces = self._split(self._stream.resample_chunk(_NO_SAMPLES, last=True))
        # Rounding can put a mark of an empty last chunk just past the end.
        pieces += [Piece(_NO_SAMPLES, mark) for _, mark in self._marks]
        self._marks.clear()
        return pieces

    def _split(self, out: np.ndarray) -> list[Piece]:
        start = self._frames_out
        self._frames_out += len(out)
        cuts: list[tuple[int, object | None]] = [(0, None)]
        while self._marks and self._marks[0][0] < self._frames_out:
            position, mark = self._marks.pop(0)
            cuts.append((max(position - start, 0), mark))
        ends = [cut for cut, _ in cuts[1:]] + [len(out)]
        return [
            Piece(out[begin:end], mark)
            for (begin, mark), end in zip(cuts, ends, strict=True)
            if end > begin or mark is not None
        ]
