"""Windowed streaming against the whole-utterance decode, on the real (random-weight) vocoder.

Tolerance: the joined stream may differ from ``hifigan_decoder(all latents)`` by at most 0.2 % of
the full decode's peak at any sample, with a signal-to-error ratio of at least 60 dB. The only
approximation is the bounded right context: with a lookahead beyond the vocoder's receptive field
the stream equals the full decode to float rounding (checked too).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support import signal as sig

from readaloud.audio.crossfade import crossfade_curves
from readaloud.engines.xtts import XttsEngine
from readaloud.engines.xtts.options import StreamOptions
from readaloud.engines.xtts.streaming import (
    ChunkSchedule,
    Upsampler,
    WindowedVocoder,
    full_decode,
)

MAX_ERROR_OF_PEAK = 2e-3
MIN_SNR_DB = 60.0
HOP = 256


def stream_in_chunks(vocoder: WindowedVocoder, latents: torch.Tensor, options: StreamOptions):
    schedule = ChunkSchedule(options.first_chunk_tokens, options.chunk_tokens)
    pieces = []
    with torch.inference_mode():
        for latent in latents:
            vocoder.add(latent)
            if schedule.due(vocoder.tokens):
                pieces.append(vocoder.flush())
        pieces.append(vocoder.flush(final=True))
    return [p for p in pieces if len(p)]


@pytest.fixture(scope="module")
def vocode(xtts: XttsEngine):
    decoder = xtts.loaded.model.hifigan_decoder.waveform_decoder
    generator = torch.Generator().manual_seed(5)
    embedding = torch.randn(1, 512, 1, generator=generator)
    embedding /= embedding.norm()
    return lambda frames: decoder(frames, g=embedding)


@pytest.fixture(scope="module")
def latents() -> torch.Tensor:
    return torch.randn(70, 64, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("speed", [1.0, 1.5, 0.7])
def test_upsampler_is_the_models_interpolation_for_any_window(speed: float) -> None:
    scales = ([1 / speed] if speed != 1.0 else []) + [4.0, 24000 / 22050]
    upsampler = Upsampler(scales)
    latents = torch.randn(50, 8, generator=torch.Generator().manual_seed(1))
    reference = latents.T.unsqueeze(0)
    for scale in scales:
        reference = F.interpolate(reference, scale_factor=scale, mode="linear")
    reference = reference[0].T
    total = upsampler.total_frames(50)
    assert total == reference.shape[0]
    for lo, hi in [(0, total), (0, 7), (33, 90), (total - 5, total)]:
        first, matrix = upsampler.matrix(lo, hi, 50, final=True)
        window = torch.from_numpy(matrix).float() @ latents[first : first + matrix.shape[1]]
        # torch computes source positions in float32; 1e-4 is its rounding on unit-size values.
        assert torch.allclose(window, reference[lo:hi], atol=1e-4), (lo, hi)
    # Frames known before the end never change when more tokens arrive.
    for tokens in (3, 17, 40):
        known = upsampler.known_frames(tokens)
        first, matrix = upsampler.matrix(0, known, tokens, final=False)
        early = torch.from_numpy(matrix).float() @ latents[first : first + matrix.shape[1]]
        assert torch.allclose(early, reference[:known], atol=1e-4), tokens


def test_chunks_start_small_then_double_up_to_the_steady_size() -> None:
    schedule = ChunkSchedule(first=8, steady=32)
    due = [n for n in range(1, 200) if schedule.due(n)]
    assert due[:5] == [8, 24, 56, 88, 120]


def test_crossfade_of_a_signal_with_itself_is_that_signal() -> None:
    fade_out, fade_in = crossfade_curves(300)
    assert np.allclose(fade_out + fade_in, 1.0)
    assert fade_in[0] < 0.01 and fade_in[-1] > 0.99


def test_windowed_stream_matches_the_full_decode(vocode, latents: torch.Tensor) -> None:
    options = StreamOptions()
    upsampler = Upsampler([4.0, 24000 / 22050])
    with torch.inference_mode():
        full = full_decode(vocode, upsampler, latents)
        stock = vocode_stock(vocode, latents)
    assert np.allclose(full, stock, atol=1e-6)  # the reference is the model's own decode

    vocoder = WindowedVocoder(
        vocode,
        upsampler,
        HOP,
        context_frames=options.context_frames,
        lookahead_frames=options.lookahead_frames,
        crossfade_samples=options.crossfade_samples,
    )
    pieces = stream_in_chunks(vocoder, latents, options)
    joined = np.concatenate(pieces)
    assert len(pieces) >= 4
    assert len(joined) == len(full)  # every sample once: no gap, no overlap, no loss
    peak = np.abs(full).max()
    assert np.abs(joined - full).max() <= MAX_ERROR_OF_PEAK * peak
    assert sig.snr_db(full, joined) >= MIN_SNR_DB

    # No clicks: at each join the step between neighbouring samples is no bigger than the
    # full decode's own steps around that point.
    joins = np.cumsum([len(p) for p in pieces])[:-1]
    for join in joins:
        around = slice(join - 32, join + 32)
        allowed = sig.max_step(full[around]) + 2 * MAX_ERROR_OF_PEAK * peak
        assert sig.max_step(joined[around]) <= allowed, join


def test_with_enough_lookahead_the_stream_is_the_full_decode(vocode, latents) -> None:
    upsampler = Upsampler([4.0, 24000 / 22050])
    with torch.inference_mode():
        full = full_decode(vocode, upsampler, latents)
    vocoder = WindowedVocoder(
        vocode, upsampler, HOP, context_frames=12, lookahead_frames=12, crossfade_samples=256
    )
    joined = np.concatenate(stream_in_chunks(vocoder, latents, StreamOptions()))
    assert np.abs(joined - full).max() <= 1e-5 * np.abs(full).max()


def vocode_stock(vocode, latents: torch.Tensor) -> np.ndarray:
    """HifiDecoder.forward's own interpolation, then the vocoder."""
    frames = F.interpolate(latents.T.unsqueeze(0), scale_factor=[4.0], mode="linear")
    frames = F.interpolate(frames, scale_factor=[24000 / 22050], mode="linear")
    return vocode(frames).reshape(-1).numpy()


def test_generated_speech_streams_as_the_full_decode_of_its_latents(xtts: XttsEngine) -> None:
    """The real pipeline: GPT tokens → windowed vocoding, against a full decode of the same run."""
    synthesizer = xtts._synthesizer
    voice = xtts._conditioning_for("ana-florence")
    text, language = "The streaming voice reads this sentence.", "en"
    limit = {"max_new_tokens": 40, "min_new_tokens": 40}
    torch.manual_seed(11)
    pieces = list(synthesizer.stream(text, language, voice, threading.Event(), generation=limit))
    torch.manual_seed(11)  # the same sampling: the same tokens and latents
    tokens = synthesizer.text_tokens(text, language)
    latents = torch.stack(
        [
            lat.reshape(-1).float()
            for lat in synthesizer.latents(tokens, voice, threading.Event(), limit)
        ]
    )
    with torch.inference_mode():
        full = full_decode(synthesizer.vocoder(voice), synthesizer.upsampler(), latents)
    joined = np.concatenate(pieces)
    assert len(joined) == len(full)
    assert np.abs(joined - full).max() <= MAX_ERROR_OF_PEAK * np.abs(full).max()
    # The first sound comes after first_chunk_tokens tokens: far less than the stock 20.
    assert len(pieces[0]) < 9 * 1115
