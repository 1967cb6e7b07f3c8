"""The audio file of an export: the chapters' sentences with their pauses, brought to a stated
loudness, encoded by FFmpeg (PyAV) with chapter marks and tags, and written under a temporary
name that becomes the output only once it is complete.

Loudness: audiobook practice (ACX) asks for an RMS level of -23 to -18 dB and peaks below
-3 dB. The book is brought to ``TARGET_RMS_DB`` over its speech (pauses left out), and a soft
limiter keeps every peak under -3 dB as a player decodes the file (checked by decoding it): a
gain and a limiter, never clipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from readaloud.audio import level
from readaloud.errors import BadInput
from readaloud.export.plan import CHAPTER_PAUSE_S, ChapterPlan, Plan
from readaloud.export.workers import load

TARGET_RMS_DB = -20.0
#: Peaks must stay below this in the file as decoded...
MAX_PEAK_DB = -3.0
#: ...so the limiter aims half a decibel under it, and lower on a second try when a lossy
#: decoder overshoots (AAC by up to a decibel).
PEAK_CEILING_DB = -3.5
_TRIES = 3
_SPEECH_FLOOR = 0.01  # samples quieter than this are pauses, not speech, for the RMS


@dataclass(frozen=True)
class Format:
    muxer: str
    codec: str
    rate: int | None  # None: the voice's own
    chapters: bool  # whether the container keeps chapter marks
    bit_rate: int | None = None
    cover: bool = False  # whether it can hold the cover picture


FORMATS = {
    ".m4b": Format("ipod", "aac", None, True, 64_000, cover=True),
    ".m4a": Format("ipod", "aac", None, True, 64_000, cover=True),
    ".mp3": Format("mp3", "libmp3lame", None, True, 64_000, cover=True),  # ID3 CHAP and CTOC
    ".opus": Format("ogg", "libopus", 48_000, True, 32_000),  # CHAPTERxx comments
    ".ogg": Format("ogg", "libopus", 48_000, True, 32_000),  # Opus in Ogg (no Vorbis encoder)
    ".flac": Format("flac", "flac", None, False, cover=True),
    ".wav": Format("wav", "pcm_s16le", None, False),
}


def format_for(path: Path) -> Format:
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise BadInput(
            f"Cannot export to {path.name}: give a file ending in "
            f"{', '.join(FORMATS)} (.m4b for an audiobook with chapters)."
        )
    return found


@dataclass(frozen=True)
class Written:
    path: Path
    seconds: float
    rms_db: float
    peak_db: float


def write(
    plan: Plan, chapters: list[ChapterPlan], work: Path, out: Path, sample_rate: int
) -> Written:
    """``chapters`` of ``plan`` as one file at ``out``. The audio is read from the work folder
    twice, a sentence at a time (a whole book would not fit in memory): once for its level,
    once to encode it."""
    kind = format_for(out)
    meter = Meter()
    marks: list[tuple[int, int, str]] = []  # start and end sample, title
    at = 0
    for chapter in chapters:
        start = at
        for piece in _chapter_audio(chapter, work, sample_rate):
            meter.add(piece)
            at += len(piece)
        marks.append((start, at, chapter.title))
    gain = meter.gain_to(TARGET_RMS_DB)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.part")
    ceiling = PEAK_CEILING_DB
    try:
        for _ in range(_TRIES):
            limited = Meter()

            def pieces(ceiling: float = ceiling, limited: Meter = limited):
                for chapter in chapters:
                    for piece in _chapter_audio(chapter, work, sample_rate):
                        piece = limit(piece * np.float32(gain), ceiling)
                        limited.add(piece)
                        yield piece
                yield np.zeros(round(CHAPTER_PAUSE_S * sample_rate), np.float32)

            _encode(pieces(), sample_rate, kind, temporary, plan, marks)
            # A lossy codec's decoder may overshoot the peaks it was given: measure what a
            # player will hear, and limit harder by the overshoot when it crosses -3 dB.
            heard = decoded_peak_db(temporary)
            if heard <= MAX_PEAK_DB:
                break
            ceiling -= heard - MAX_PEAK_DB + 0.2
        temporary.replace(out)
    finally:
        temporary.unlink(missing_ok=True)
    return Written(out, limited.samples / sample_rate, limited.rms_db, heard)


def decoded_peak_db(path: Path) -> float:
    """The peak of the file as FFmpeg decodes it, in dB of full scale."""
    import av

    peak = 0.0
    with av.open(str(path), mode="r") as container:
        for frame in container.decode(container.streams.audio[0]):
            peak = max(peak, float(np.max(np.abs(frame.to_ndarray()), initial=0.0)))
    scale = 32768.0 if peak > 1.5 else 1.0  # integer samples (WAV, FLAC) are in 16-bit units
    return _db(peak / scale)


def _chapter_audio(chapter: ChapterPlan, work: Path, rate: int):
    yield np.zeros(round(CHAPTER_PAUSE_S * rate), np.float32)
    for sentence in chapter.sentences:
        yield load(work, sentence.key)
        yield np.zeros(round(sentence.pause_s * rate), np.float32)


class Meter:
    """RMS over the speech (pauses left out) and peak, gathered piece by piece."""

    def __init__(self) -> None:
        self.squares = 0.0
        self.speech = 0
        self.samples = 0
        self.peak = 0.0

    def add(self, piece: np.ndarray) -> None:
        loud = piece[np.abs(piece) > _SPEECH_FLOOR].astype(np.float64)
        self.squares += float(np.sum(loud**2))
        self.speech += len(loud)
        self.samples += len(piece)
        if len(piece):
            self.peak = max(self.peak, float(np.max(np.abs(piece))))

    @property
    def rms_db(self) -> float:
        return _db((self.squares / self.speech) ** 0.5 if self.speech else 0.0)

    @property
    def peak_db(self) -> float:
        return _db(self.peak)

    def gain_to(self, target_db: float) -> float:
        rms = self.rms_db
        return 1.0 if rms == float("-inf") else float(10 ** ((target_db - rms) / 20))


def limit(audio: np.ndarray, ceiling_db: float = PEAK_CEILING_DB) -> np.ndarray:
    return level.limit(audio, ceiling_db)


def _jpeg(picture: bytes) -> bytes | None:
    """The cover as JPEG (the picture every container here takes), or None if unreadable."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(picture)) as image:
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=90)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _attach(container, jpeg: bytes) -> None:
    """The cover as the file's attached picture: its JPEG muxed as it is, not re-encoded."""
    import io

    import av

    with av.open(io.BytesIO(jpeg), mode="r") as picture:
        source = picture.streams.video[0]
        stream = container.add_stream_from_template(source)
        stream.disposition = av.stream.Disposition.attached_pic
        for packet in picture.demux(source):
            if packet.size:
                packet.stream = stream
                container.mux(packet)


def _db(value: float) -> float:
    return 20 * np.log10(value) if value > 0 else float("-inf")


def _encode(
    audio: Iterable[np.ndarray],
    rate: int,
    kind: Format,
    path: Path,
    plan: Plan,
    marks: list[tuple[int, int, str]],
) -> None:
    import av

    tags = {"title": plan.title, "album": plan.title, "genre": "Audiobook"}
    if plan.author:
        tags.update(artist=plan.author, album_artist=plan.author)
    cover = _jpeg(plan.cover) if plan.cover and kind.cover else None
    # FFmpeg's ipod muxer takes no picture; its mp4 muxer makes the same file with one.
    muxer = "mp4" if cover and kind.muxer == "ipod" else kind.muxer
    with av.open(str(path), "w", format=muxer) as container:
        stream: av.AudioStream = container.add_stream(  # type: ignore[assignment]
            kind.codec, rate=kind.rate or rate, layout="mono"
        )
        if kind.bit_rate:
            stream.bit_rate = kind.bit_rate
        container.metadata.update(tags)
        stream.metadata.update(tags)  # Ogg keeps its tags on the stream
        if kind.chapters and len(marks) > 1:
            base = Fraction(1, rate)
            container.set_chapters(
                [
                    {"id": n, "start": start, "end": end, "time_base": base,
                     "metadata": {"title": title}}
                    for n, (start, end, title) in enumerate(marks, start=1)
                ]
            )  # fmt: skip
        if cover is not None:
            _attach(container, cover)
        resampler = av.AudioResampler(
            format=stream.codec_context.format, layout="mono", rate=kind.rate or rate
        )
        made = 0
        for block in audio:
            if not len(block):
                continue
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block[None, :]), format="flt", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts, made = made, made + len(block)
            frame.time_base = Fraction(1, rate)
            for piece in resampler.resample(frame):
                container.mux(stream.encode(piece))
        for piece in resampler.resample(None):
            container.mux(stream.encode(piece))
        container.mux(stream.encode(None))
