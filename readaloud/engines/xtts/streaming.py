"""Streamed XTTS synthesis: audio tokens from the GPT, vocoded a window at a time.

The stock ``Xtts.inference_stream`` re-runs the HiFi-GAN vocoder over *all* latents so far at every
chunk (quadratic work) and waits for 20 tokens before the first sound. Here:

* the first chunk is small (``first_chunk_tokens``) and chunks then double up to ``chunk_tokens``,
  so playback starts early and later chunks amortise the per-call cost;
* each chunk vocodes only its new frames plus ``context_frames`` on the left (the vocoder's
  receptive field is about 11 frames each side, so 12 makes the left edge exact) and
  ``lookahead_frames`` on the right;
* the last ``crossfade`` samples of a chunk are held back and blended with the next chunk's
  decode of the *same* samples (which has more right context), so joins are click-free and the
  timeline never shrinks;
* the latent → frame interpolation is computed for the window in the coordinates of the whole
  utterance, exactly as the model's full decode does it, so windows line up sample for sample.

The joined stream matches ``hifigan_decoder(all latents)`` to within a small error that comes only
from the bounded right context (see tests/engines/xtts/test_streaming.py for the tolerance).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from readaloud.audio.crossfade import blend
from readaloud.engines.xtts.batching import BatchedDecoder
from readaloud.engines.xtts.decoder import Decoding
from readaloud.engines.xtts.options import StreamOptions
from readaloud.errors import EngineError


class XttsOutOfMemory(EngineError):
    """The GPU ran out of memory mid-synthesis; the engine has freed what it could."""


class ChunkSchedule:
    """Token counts at which to vocode: ``first``, then chunks doubling in size up to ``steady``."""

    def __init__(self, first: int, steady: int) -> None:
        self._next = max(1, first)
        self._size = max(1, first)
        self._steady = max(self._size, steady)

    def due(self, tokens: int) -> bool:
        if tokens < self._next:
            return False
        self._size = min(self._steady, self._size * 2)
        self._next = tokens + self._size
        return True


class Upsampler:
    """The model's chain of linear interpolations from latent tokens to vocoder frames.

    ``torch.nn.functional.interpolate(mode="linear", align_corners=False, scale_factor=s)`` maps
    output ``i`` to source ``max((i + 0.5) / s - 0.5, 0)`` and blends its two neighbours. Doing the
    same arithmetic for any window of output frames lets a window be decoded on the same grid as the
    whole utterance: no fractional shift between windows, so they join exactly.
    """

    def __init__(self, scales: Sequence[float]) -> None:
        self.scales = tuple(float(s) for s in scales)

    def total_frames(self, tokens: int) -> int:
        """Frames of a full decode of ``tokens`` latents (torch's output-size rule)."""
        size = tokens
        for scale in self.scales:
            size = math.floor(float(size * scale))
        return size

    def known_frames(self, tokens: int) -> int:
        """Frames no later token can change (both of their sources exist at every stage)."""
        size = tokens
        for scale in self.scales:
            size = self._settled(size, scale)
        return size

    def matrix(self, lo: int, hi: int, tokens: int, final: bool) -> tuple[int, np.ndarray]:
        """``(first_token, W)``: frames ``[lo, hi)`` = ``W @ latents[first_token:...]``."""
        sizes = [tokens]
        for scale in self.scales:
            sizes.append(
                math.floor(float(sizes[-1] * scale)) if final else self._settled(sizes[-1], scale)
            )
        if not 0 <= lo <= hi <= sizes[-1]:
            raise ValueError(f"frames [{lo}, {hi}) outside the {sizes[-1]} available")
        index = np.arange(lo, hi, dtype=np.int64)[:, None]
        weight = np.ones((hi - lo, 1))
        for stage in reversed(range(len(self.scales))):
            size = sizes[stage]
            source = self._source(index, self.scales[stage])
            first = np.minimum(np.floor(source).astype(np.int64), size - 1)
            second = np.where(first < size - 1, first + 1, first)
            blend = np.clip(source - first, 0.0, 1.0)
            index = np.concatenate([first, second], axis=1)
            weight = np.concatenate([weight * (1.0 - blend), weight * blend], axis=1)
        if hi == lo:
            return 0, np.zeros((0, 0))
        start = int(index.min())
        dense = np.zeros((hi - lo, int(index.max()) - start + 1))
        rows = np.broadcast_to(np.arange(hi - lo)[:, None], index.shape)
        np.add.at(dense, (rows, index - start), weight)
        return start, dense

    @staticmethod
    def _source(index: np.ndarray, scale: float) -> np.ndarray:
        return np.maximum((index + 0.5) / scale - 0.5, 0.0)

    @classmethod
    def _settled(cls, size: int, scale: float) -> int:
        if size < 2:
            return 0
        candidates = np.arange(math.floor(size * scale) + 2)
        return int(np.count_nonzero(np.floor(cls._source(candidates, scale)) <= size - 2))


class WindowedVocoder:
    """Turns a growing list of latents into audio, one bounded window per call to ``flush``.

    ``vocode(frames)`` runs the vocoder on ``[1, channels, n]`` frames and returns ``n * hop``
    samples. Every sample of a full decode is emitted exactly once, in order.
    """

    def __init__(
        self,
        vocode: Callable[[torch.Tensor], torch.Tensor],
        upsampler: Upsampler,
        hop: int,
        *,
        context_frames: int,
        lookahead_frames: int,
        crossfade_samples: int,
    ) -> None:
        self._vocode = vocode
        self._upsampler = upsampler
        self._hop = hop
        self._context = max(0, context_frames)
        self._lookahead = max(0, lookahead_frames)
        self._crossfade = max(0, crossfade_samples)
        self._latents: list[torch.Tensor] = []
        self._stacked: torch.Tensor | None = None
        self._done = 0  # frames whose samples are emitted or held in ``_tail``
        self._tail = np.zeros(0, dtype=np.float32)

    @property
    def tokens(self) -> int:
        return len(self._latents)

    def add(self, latent: torch.Tensor) -> None:
        """One latent vector ``[channels]`` from the GPT."""
        self._latents.append(latent.reshape(-1).float())
        self._stacked = None

    def flush(self, final: bool = False) -> np.ndarray:
        """Audio that is ready now (possibly none); with ``final``, all that is left."""
        tokens = len(self._latents)
        if final:
            available = end = self._upsampler.total_frames(tokens)
        else:
            available = self._upsampler.known_frames(tokens)
            end = available - self._lookahead
        if end <= self._done:
            if final:
                tail, self._tail = self._tail, np.zeros(0, dtype=np.float32)
                return tail
            return np.zeros(0, dtype=np.float32)
        lo = max(0, self._done - self._context)
        audio = self._decode(lo, available, tokens, final)
        # Samples [done*hop - len(tail), end*hop): the held tail's span again, then new ones.
        start = (self._done - lo) * self._hop - len(self._tail)
        piece = blend(self._tail, audio[start : (end - lo) * self._hop])
        self._done = end
        if final:
            self._tail = np.zeros(0, dtype=np.float32)
            return piece
        keep = min(self._crossfade, len(piece))
        self._tail = piece[len(piece) - keep :].copy()
        return piece[: len(piece) - keep]

    def _decode(self, lo: int, hi: int, tokens: int, final: bool) -> np.ndarray:
        if self._stacked is None:
            self._stacked = torch.stack(self._latents)
        latents = self._stacked
        first, matrix = self._upsampler.matrix(lo, hi, tokens, final)
        weights = torch.from_numpy(matrix).to(device=latents.device, dtype=latents.dtype)
        frames = weights @ latents[first : first + matrix.shape[1]]  # [frames, channels]
        audio = self._vocode(frames.T.unsqueeze(0))
        return audio.reshape(-1).float().cpu().numpy()


def full_decode(
    vocode: Callable[[torch.Tensor], torch.Tensor], upsampler: Upsampler, latents: torch.Tensor
) -> np.ndarray:
    """The whole utterance vocoded at once (the reference the stream must match)."""
    tokens = latents.shape[0]
    first, matrix = upsampler.matrix(0, upsampler.total_frames(tokens), tokens, final=True)
    weights = torch.from_numpy(matrix).to(device=latents.device, dtype=torch.float32)
    frames = weights @ latents.float()[first : first + matrix.shape[1]]
    return vocode(frames.T.unsqueeze(0)).reshape(-1).float().cpu().numpy()


@dataclass(frozen=True)
class Conditioning:
    """A voice as the model consumes it, on the model's device."""

    gpt_cond_latent: torch.Tensor  # [1, 32, channels]
    speaker_embedding: torch.Tensor  # [1, 512, 1]


class Synthesizer:
    """Streams texts through a loaded Xtts model; streams open at once share each GPT step."""

    def __init__(self, model, dtype: torch.dtype, options: StreamOptions, sampling: dict) -> None:
        self.model = model
        self.decoder = BatchedDecoder(model.gpt, options.max_streams)
        self.dtype = dtype
        self.options = options
        self.sampling = dict(sampling)
        args = model.args
        self.hop = int(args.output_hop_length)
        self.sample_rate = int(args.output_sample_rate)
        # The stages of HifiDecoder.forward: code frames → hops, then 22.05 kHz → 24 kHz.
        self._scales = [args.gpt_code_stride_len / args.output_hop_length]
        if args.output_sample_rate != args.input_sample_rate:
            self._scales.append(args.output_sample_rate / args.input_sample_rate)

    @property
    def device(self) -> torch.device:
        return next(self.model.gpt.parameters()).device

    def upsampler(self, speed: float = 1.0) -> Upsampler:
        # inference_stream stretches the latents by 1/speed first: tempo changes, pitch does not.
        stretch = [] if speed == 1.0 else [1.0 / max(speed, 0.05)]
        return Upsampler(stretch + self._scales)

    def vocoder(self, voice: Conditioning) -> Callable[[torch.Tensor], torch.Tensor]:
        decoder = self.model.hifigan_decoder.waveform_decoder
        embedding = voice.speaker_embedding.float()

        def vocode(frames: torch.Tensor) -> torch.Tensor:
            return decoder(frames.float(), g=embedding)

        return vocode

    def text_tokens(self, text: str, language: str) -> torch.Tensor:
        ids = self.model.tokenizer.encode(text.strip().lower(), lang=language)
        limit = int(self.model.args.gpt_max_text_tokens)
        if len(ids) >= limit:
            raise EngineError(
                f"This text is too long for XTTS in one piece ({len(ids)} tokens, at most "
                f"{limit - 1}); split it into shorter sentences."
            )
        return torch.IntTensor(ids).unsqueeze(0).to(self.device)

    def latents(
        self,
        tokens: torch.Tensor,
        voice: Conditioning,
        cancel: threading.Event,
        generation: dict | None = None,
    ) -> Iterator[torch.Tensor]:
        """One latent ``[channels]`` per generated audio token (the stop token's included, as in
        ``inference_stream``); ends early when ``cancel`` is set. Streams open at the same time
        are decoded together (batching.py)."""
        settings = {**self.sampling, **(generation or {})}
        if self.options.max_new_tokens and "max_new_tokens" not in settings:
            settings["max_new_tokens"] = self.options.max_new_tokens
        cond = voice.gpt_cond_latent.to(self.device, self.dtype)
        stream = self.decoder.open(cond, tokens, Decoding.of(settings), cancel)
        for _token, latent in stream:
            yield latent
            if cancel.is_set():
                return

    def stream(
        self,
        text: str,
        language: str,
        voice: Conditioning,
        cancel: threading.Event,
        *,
        speed: float = 1.0,
        generation: dict | None = None,
    ) -> Iterator[np.ndarray]:
        """Float32 audio pieces of ``text`` spoken by ``voice``, in order, as each is ready."""
        tokens = self.text_tokens(text, language)
        vocoder = WindowedVocoder(
            self.vocoder(voice),
            self.upsampler(speed),
            self.hop,
            context_frames=self.options.context_frames,
            lookahead_frames=self.options.lookahead_frames,
            crossfade_samples=self.options.crossfade_samples,
        )
        schedule = ChunkSchedule(self.options.first_chunk_tokens, self.options.chunk_tokens)
        with _out_of_memory_guard():
            for latent in self.latents(tokens, voice, cancel, generation):
                with torch.inference_mode():
                    vocoder.add(latent)
                    audio = vocoder.flush() if schedule.due(vocoder.tokens) else None
                if audio is not None and len(audio):
                    yield audio
            if cancel.is_set() or vocoder.tokens == 0:
                return
            with torch.inference_mode():
                audio = vocoder.flush(final=True)
            if len(audio):
                yield audio


class _out_of_memory_guard:
    """Turns CUDA out-of-memory into XttsOutOfMemory after freeing the allocator's cache."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, traceback) -> Literal[False]:  # noqa: ANN001
        if exc_type is not None and issubclass(exc_type, torch.cuda.OutOfMemoryError):
            torch.cuda.empty_cache()
            raise XttsOutOfMemory(
                "The GPU ran out of memory while speaking; the rest is spoken by the fallback "
                'voice. Close other GPU programs or set [xtts] precision = "fp16".'
            ) from None
        return False
