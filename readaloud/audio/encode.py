"""Streaming audio encoders: float32 mono samples in, bytes out as soon as frames are complete.

Every format goes through PyAV (FFmpeg's own encoders and muxers, bundled in the ``av`` wheel),
so there is one code path and no hand-written container code:

=========  ============================  ==========================================
format     what the bytes are            note
=========  ============================  ==========================================
``mp3``    MPEG-1/2 layer III (LAME)     64 kbit/s
``opus``   Opus in Ogg                   32 kbit/s, a page every 100 ms
``aac``    AAC-LC in ADTS frames         64 kbit/s
``flac``   FLAC                          STREAMINFO has no length (written as we go)
``wav``    16-bit PCM in RIFF/WAVE       44-byte header, sizes 0xFFFFFFFF (unknown)
``pcm``    raw 16-bit little-endian      no header
=========  ============================  ==========================================

The output is written to a sink that cannot seek, which is what makes FFmpeg hand over each
packet at once (and write "unknown length" where a file would get its length patched in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from readaloud.errors import BadInput

if TYPE_CHECKING:
    import av


@dataclass(frozen=True)
class AudioFormat:
    name: str
    #: FFmpeg muxer and encoder names.
    muxer: str
    codec: str
    media_type: str
    bit_rate: int | None = None
    #: Muxer options (FFmpeg's ``-option value`` pairs).
    options: dict[str, str] = field(default_factory=dict)


FORMATS: dict[str, AudioFormat] = {
    f.name: f
    for f in (
        AudioFormat("mp3", "mp3", "libmp3lame", "audio/mpeg", 64_000),
        # Ogg pages are held back up to a second by default: 100 ms keeps streaming smooth.
        AudioFormat(
            "opus",
            "ogg",
            "libopus",
            "audio/ogg; codecs=opus",
            32_000,
            {"page_duration": "100000"},
        ),
        AudioFormat("aac", "adts", "aac", "audio/aac", 64_000),
        AudioFormat("flac", "flac", "flac", "audio/flac"),
        # bitexact leaves out the LIST/INFO chunk: a plain 44-byte header naive readers expect.
        AudioFormat("wav", "wav", "pcm_s16le", "audio/wav", options={"fflags": "+bitexact"}),
        AudioFormat("pcm", "s16le", "pcm_s16le", "audio/pcm"),
    )
}


class _Sink:
    """Where the muxer writes. No ``seek``: FFmpeg then streams instead of patching headers."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class Encoder:
    """Encode one stream of float32 mono samples at ``sample_rate`` into ``format``.

    ``encode`` returns whatever bytes are complete so far (often b"" until the codec has a
    full frame); ``finish`` flushes the codec and returns the rest. Not thread-safe: one
    encoder per stream, used from one thread.
    """

    def __init__(self, format: str, sample_rate: int) -> None:
        spec = FORMATS.get(format)
        if spec is None:
            raise BadInput(f"Unknown audio format '{format}'; use one of {', '.join(FORMATS)}.")
        self.format = spec
        self.sample_rate = sample_rate
        import av  # imported on first use: it costs an idle daemon 16 MB

        self._av = av
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=spec.muxer, options=spec.options)
        self._stream: av.AudioStream = self._container.add_stream(  # type: ignore[assignment]
            spec.codec, rate=sample_rate, layout="mono"
        )
        if spec.bit_rate:
            self._stream.codec_context.bit_rate = spec.bit_rate
        self._frames = 0
        self._closed = False

    @property
    def media_type(self) -> str:
        return self.format.media_type

    def encode(self, samples: np.ndarray) -> bytes:
        if self._closed:
            raise RuntimeError("this encoder is finished")
        samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
        if samples.size == 0:
            return b""
        frame = self._av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._frames
        self._frames += samples.shape[1]
        # PyAV converts the sample format and regroups samples into the codec's frame size.
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        """Flush the codec and the muxer; the encoder cannot be used afterwards."""
        if self._closed:
            return b""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self.close()
        return self._sink.take()

    def close(self) -> None:
        """Release FFmpeg's state without flushing (a cancelled stream)."""
        if not self._closed:
            self._closed = True
            self._container.close()
