"""Streaming encoders: bytes come out while samples go in, and every format decodes back to the
same sound (length and pitch) with a real decoder (FFmpeg through PyAV, libsndfile)."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile

from readaloud.audio.encode import FORMATS, Encoder
from readaloud.errors import BadInput

RATE = 24_000
TONE_HZ = 440.0
BLOCK = RATE // 10  # 100 ms, what the speech API hands over at a time


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def encode_in_blocks(name: str, samples: np.ndarray) -> list[bytes]:
    encoder = Encoder(name, RATE)
    pieces = [encoder.encode(samples[i : i + BLOCK]) for i in range(0, len(samples), BLOCK)]
    return [*pieces, encoder.finish()]


def decode(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    rate = frames[0].sample_rate
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32), rate


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "pcm"])
def test_each_format_streams_and_decodes_to_the_same_tone(name: str) -> None:
    pieces = encode_in_blocks(name, tone(2.0))

    # Streaming: most of the bytes are out before finish(), from the first half second on.
    assert sum(len(p) for p in pieces[:5]) > 0
    assert sum(len(p) for p in pieces[:-1]) > 0.8 * sum(len(p) for p in pieces)
    samples, rate = decode(b"".join(pieces))
    # Codecs pad by up to a frame and an encoder delay (mp3 ~1100 samples, aac 1024).
    assert len(samples) / rate == pytest.approx(2.0, abs=0.08)
    assert peak_hz(samples, rate) == pytest.approx(TONE_HZ, abs=5)


def test_pcm_is_raw_16_bit_little_endian() -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0], dtype=np.float32)
    data = b"".join(encode_in_blocks("pcm", samples))
    decoded = np.frombuffer(data, dtype="<i2")
    assert len(data) == 2 * len(samples)
    assert decoded[0] == 0 and abs(decoded[1] - 16384) <= 1 and abs(decoded[2] + 16384) <= 1
    assert decoded[3] == 32767 and decoded[4] <= -32767


def test_streamed_wav_has_a_plain_header_of_unknown_length() -> None:
    pieces = encode_in_blocks("wav", tone(0.5))
    data = b"".join(pieces)
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert data[36:40] == b"data" and data[40:44] == b"\xff\xff\xff\xff"
    assert len(data) == 44 + 2 * int(0.5 * RATE)
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate == RATE and len(samples) == int(0.5 * RATE)


def test_opus_is_ogg_that_libsndfile_reads_too() -> None:
    data = b"".join(encode_in_blocks("opus", tone(1.0)))
    assert data[:4] == b"OggS"
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert len(samples) / rate == pytest.approx(1.0, abs=0.03)


def test_unknown_format_says_which_work() -> None:
    with pytest.raises(BadInput, match="mp3, opus, aac, flac, wav, pcm"):
        Encoder("ogg-vorbis", RATE)


def test_a_cancelled_stream_is_closed_without_flushing() -> None:
    encoder = Encoder("mp3", RATE)
    encoder.encode(tone(0.3))
    encoder.close()
    assert encoder.finish() == b""
    with pytest.raises(RuntimeError):
        encoder.encode(tone(0.1))
