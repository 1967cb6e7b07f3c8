"""Settings of the XTTS engine, as plain data (no torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from readaloud.engines.base import SAMPLING_RANGES, Sampling

#: XTTS v2 speaks at 24 kHz.
OUTPUT_RATE = 24000


@dataclass(frozen=True)
class StreamOptions:
    """How synthesis is cut into chunks (see streaming.py)."""

    #: Audio tokens (46 ms of speech each) before the first chunk is vocoded.
    first_chunk_tokens: int = 8
    #: Later chunks double in size up to this many tokens.
    chunk_tokens: int = 32
    #: Vocoder frames (10.7 ms each) decoded again left of each chunk; 12 covers the
    #: vocoder's receptive field, so the left edge of a window is exact.
    context_frames: int = 12
    #: Frames decoded right of a chunk's end and emitted with the next chunk.
    lookahead_frames: int = 4
    #: Samples at each join blended from two decodes of the same span.
    crossfade_samples: int = 1024
    #: Cap on audio tokens per segment; 0 = the model's own limit (about 28 s of speech).
    max_new_tokens: int = 0
    #: Streams decoded together in one GPT step; more wait for a place.
    max_streams: int = 8


@dataclass(frozen=True)
class XttsOptions:
    """Where the model and voices are, how to run it, and how to stream."""

    model_dir: Path | None = None  # None: the default under the XDG data dir
    voices_dir: Path | None = None  # None: the default under the XDG data dir
    device: str = "auto"
    precision: str = "fp32"
    #: Default voice id; "" = the first studio speaker, else the first enrolled voice.
    voice: str = ""
    #: Language when a request gives none.
    language: str = "en"
    #: Run one short synthesis in ``load`` so the first request is not a cold one.
    warm_up: bool = True
    #: Free the model after this many seconds without speech (0: keep it loaded).
    unload_after_s: float = 0.0
    stream: StreamOptions = field(default_factory=StreamOptions)
    #: Sampling for requests that set none ([xtts] temperature, ...); unset: the checkpoint's.
    sampling: Sampling = Sampling()


def options_from_config(config) -> XttsOptions:  # config: readaloud.config.Config
    """The engine's options from the [xtts] and [speech] sections."""
    xtts = config.xtts
    return XttsOptions(
        model_dir=config.xtts_model_dir,
        voices_dir=config.xtts_voices_dir,
        device=xtts.device,
        precision=xtts.precision,
        voice=xtts.voice,
        language=config.speech.language or "en",
        unload_after_s=xtts.unload_after_s,
        stream=StreamOptions(
            first_chunk_tokens=xtts.first_chunk_tokens,
            chunk_tokens=xtts.chunk_tokens,
            context_frames=xtts.context_frames,
            lookahead_frames=xtts.lookahead_frames,
            crossfade_samples=round(xtts.crossfade_ms * OUTPUT_RATE / 1000),
            max_new_tokens=xtts.max_new_tokens,
            max_streams=xtts.max_streams,
        ),
        # 0 in the config: the checkpoint's own recommendation.
        sampling=Sampling(**{name: getattr(xtts, name) or None for name in SAMPLING_RANGES}),
    )
