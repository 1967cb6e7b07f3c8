"""Enrolment: reference clips → a voice (``gpt_cond_latent`` + ``speaker_embedding``).

Several clips are combined the way XTTS combines chunks of one: the style latent is the mean over
every few-second chunk of every clip, the speaker embedding the mean over clips.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from readaloud.engines.xtts.clips import (
    CONDITIONING_RATE,
    RECOMMENDED_SECONDS,
    SPEAKER_ENCODER_RATE,
    BadClip,
    Clip,
    read_clip,
)
from readaloud.engines.xtts.loader import LoadedModel
from readaloud.engines.xtts.voices import XttsVoice, check_name
from readaloud.errors import BadInput, EngineError

log = logging.getLogger(__name__)


def read_clips(paths: Sequence[Path]) -> list[Clip]:
    """Read and check every clip before any model work, so a bad one is reported at once."""
    if not paths:
        raise BadInput("Give at least one recording of the voice, e.g. voice add anna anna.wav")
    clips = [read_clip(Path(p)) for p in paths]
    total = sum(c.speech_seconds for c in clips)
    if total < RECOMMENDED_SECONDS:
        log.warning(
            "%.1f s of speech in all: cloning works, but %d s or more sounds more like the speaker",
            total,
            RECOMMENDED_SECONDS,
        )
    return clips


def compute_voice(loaded: LoadedModel, name: str, clips: Sequence[Clip]) -> XttsVoice:
    """The voice for ``clips`` (already read and checked) under ``name``."""
    import torch

    name = check_name(name)
    model = loaded.model
    config = model.config
    cond_seconds = int(config.gpt_cond_len)
    chunk_seconds = int(min(config.gpt_cond_chunk_len, cond_seconds))
    max_ref_seconds = int(config.max_ref_len)
    latents, weights, embeddings = [], [], []
    try:
        with torch.inference_mode():
            for clip in clips:
                wav = torch.from_numpy(clip.samples).unsqueeze(0).to(loaded.device)
                latent = model.get_gpt_cond_latents(
                    wav, CONDITIONING_RATE, length=cond_seconds, chunk_length=chunk_seconds
                )
                latents.append(latent.float().cpu())
                used = min(clip.seconds, cond_seconds)
                weights.append(max(1.0, used / chunk_seconds))
                speaker = clip.at_rate(SPEAKER_ENCODER_RATE)[
                    : SPEAKER_ENCODER_RATE * max_ref_seconds
                ]
                speaker_wav = torch.from_numpy(np.ascontiguousarray(speaker)).unsqueeze(0)
                embedding = model.get_speaker_embedding(
                    speaker_wav.to(loaded.device), SPEAKER_ENCODER_RATE
                )
                embeddings.append(embedding.float().cpu())
    except RuntimeError as error:
        if "too short" in str(error):
            raise BadClip(f"A clip is too short for XTTS: {error}") from None
        raise EngineError(f"XTTS could not compute the voice: {error}") from error
    total = sum(weights)
    gpt_cond_latent = sum(w * lat for w, lat in zip(weights, latents, strict=True)) / total
    speaker_embedding = torch.stack(embeddings).mean(dim=0)
    described = ", ".join(f"{c.path.name} ({c.speech_seconds:.0f} s)" for c in clips)
    return XttsVoice(
        id=name,
        kind="enrolled",
        gpt_cond_latent=gpt_cond_latent.numpy().astype(np.float32),
        speaker_embedding=speaker_embedding.numpy().astype(np.float32),
        description=f"cloned from {described}",
        fingerprint=loaded.fingerprint,
        meta={
            "clips": [
                {
                    "file": str(c.path),
                    "seconds": round(c.seconds, 2),
                    "speech_seconds": round(c.speech_seconds, 2),
                    "source_rate": c.source_rate,
                }
                for c in clips
            ]
        },
    )
