"""Turn an utterance into a stream of (segment, audio) pairs. Knows nothing of sound cards."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from readaloud.engines.base import AudioChunk, Engine, SynthesisRequest, WordTiming
from readaloud.errors import BadInput
from readaloud.speech.languages import LanguageTrack
from readaloud.speech.segments import FixedSegments, SegmentSource, WaitHook
from readaloud.speech.utterance import Utterance
from readaloud.speech.voicing import engine_rate, voiced
from readaloud.text.lexicon import Respelled
from readaloud.text.segment import Segment, split

#: A segment that ends mid-sentence (the fast first fragment, a split long sentence) keeps at
#: most this much trailing silence, so the cut sounds like a comma rather than a full stop.
MID_SENTENCE_PAUSE_S = 0.06
_SENTENCE_END = tuple(".!?…。！？;:\"'”’)»")
_SILENCE = 0.01
#: Piper starts every sentence with 35-50 ms below -60 dBFS: the first sound of an utterance
#: keeps only this much of it before the first sample above ``_ONSET``.
LEAD_IN_S = 0.005
_ONSET = 0.001


@dataclass(frozen=True)
class SpokenChunk:
    segment: Segment
    index: int
    chunk: AudioChunk
    #: The language and voice the segment is read in (None: the engine's default).
    language: str | None = None
    voice: str | None = None
    #: On the first chunk after a segment no voice can read: what the user is told.
    notice: str = ""


def _loud_end(samples: np.ndarray) -> int:
    """One past the last sample that is not silence (0 when all of it is)."""
    loud = np.flatnonzero(np.abs(samples) > _SILENCE)
    return int(loud[-1]) + 1 if loud.size else 0


def _split_at(chunk: AudioChunk, index: int) -> tuple[AudioChunk, AudioChunk]:
    """The chunk before and after sample ``index``; the text span and words go with the sound."""
    cut = index / chunk.sample_rate
    head = dataclasses.replace(
        chunk, samples=chunk.samples[:index], words=tuple(w for w in chunk.words if w.at < cut)
    )
    tail = dataclasses.replace(
        chunk,
        samples=chunk.samples[index:],
        start=chunk.end,
        words=tuple(dataclasses.replace(w, at=w.at - cut) for w in chunk.words if w.at >= cut),
    )
    return head, tail


def _joined(first: AudioChunk, then: AudioChunk) -> AudioChunk:
    """``first`` followed by ``then`` as one chunk."""
    shift = first.duration
    words = first.words + tuple(dataclasses.replace(w, at=w.at + shift) for w in then.words)
    return dataclasses.replace(
        then,
        samples=np.concatenate([first.samples, then.samples]),
        start=first.start,
        words=words,
    )


def without_lead_in(chunks: Iterator[AudioChunk], keep_s: float) -> Iterator[AudioChunk]:
    """The chunks with the silence before the first sound cut to ``keep_s``: a listener waiting
    for the first word would only wait longer for it."""
    silent: list[AudioChunk] = []
    for chunk in chunks:
        loud = np.flatnonzero(np.abs(chunk.samples) > _ONSET)
        if not loud.size:
            silent.append(chunk)
            continue
        for before in reversed(silent):  # their text spans and words go on with the sound
            chunk = _joined(dataclasses.replace(before, samples=before.samples[:0]), chunk)
        cut = max(0, int(loud[0]) - int(keep_s * chunk.sample_rate))
        shift = cut / chunk.sample_rate
        yield dataclasses.replace(
            chunk,
            samples=chunk.samples[cut:],
            words=tuple(dataclasses.replace(w, at=max(0.0, w.at - shift)) for w in chunk.words),
        )
        yield from chunks
        return
    yield from silent  # no sound at all: nothing to cut


def with_short_ending(chunks: Iterator[AudioChunk], keep_s: float) -> Iterator[AudioChunk]:
    """The chunks as they come, but the segment's trailing silence cut to ``keep_s``.

    Each chunk's sound goes on at once; only its silent end is held back, and goes on in front
    of the next chunk once there is one, so the cut costs the first sound nothing.
    """
    held: AudioChunk | None = None
    for chunk in chunks:
        if held is not None:
            chunk, held = _joined(held, chunk), None
        end = _loud_end(chunk.samples)
        if end == 0:
            held = chunk  # all silence so far: it waits whole
            continue
        if end < len(chunk.samples):
            chunk, held = _split_at(chunk, end)
        yield chunk
    if held is not None:
        end = _loud_end(held.samples) + int(keep_s * held.sample_rate)
        held = dataclasses.replace(held, samples=held.samples[:end])
        if len(held.samples) or held.words:
            yield held


def _in_original(chunk: AudioChunk, said: Respelled, timed: set[tuple[int, int]]) -> AudioChunk:
    """``chunk`` of the respelled text with its spans as offsets into the original: the words
    of a respelling are one word of the original, heard when the first of them is (``timed``:
    the spans of the segment's words so far)."""
    words: list[WordTiming] = []
    for word in chunk.words:
        start, end = said.original(word.start), said.original(word.end, end=True)
        if (start, end) not in timed:
            timed.add((start, end))
            words.append(dataclasses.replace(word, start=start, end=end))
    return dataclasses.replace(
        chunk, start=said.original(chunk.start), end=said.original(chunk.end), words=tuple(words)
    )


def prepare(engine: Engine, utterance: Utterance, first_fragment_words: int) -> list[Segment]:
    """Check the request and split it, so every input error is raised before any sound."""
    check_characters(utterance.text)
    engine.validate(utterance.voice, utterance.language)
    return segments_of(utterance, first_fragment_words)


def check_characters(text: str) -> None:
    """Refuse what no engine can take (NUL ends a C string; a lone surrogate is not UTF-8), so
    the request fails at once with a 400 instead of mid-utterance."""
    nul = text.find("\x00")
    if nul >= 0:
        raise BadInput(
            f"The text contains a NUL character (at offset {nul}): it looks like binary data, "
            "not text."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadInput(
            f"The text is not valid Unicode (a lone surrogate at offset {error.start}); "
            "send UTF-8 text."
        ) from None


def segments_of(utterance: Utterance, first_fragment_words: int) -> list[Segment]:
    segments = split(utterance.text, utterance.language, first_fragment_words=first_fragment_words)
    if not segments:
        raise BadInput("There is nothing to read: the text has no words.")
    return segments


def _no_wait(waiting: bool) -> None:
    pass


def synthesize(
    engine: Engine,
    utterance: Utterance,
    cancel: threading.Event,
    *,
    first_fragment_words: int = 6,
    segments: list[Segment] | SegmentSource | None = None,
    first_index: int = 0,
    utterance_id: str = "",
    on_wait: WaitHook = _no_wait,
    pace: Callable[[], None] | None = None,
) -> Iterator[SpokenChunk]:
    """Yield audio for each segment in order, as soon as it is made; stop when ``cancel`` is set.

    Chunk spans are offsets into ``utterance.text`` (the engine's are relative to its segment),
    or into the stream's text for a streamed utterance (``segments`` a ``TextStream``, which
    calls ``on_wait`` around waiting for text). ``first_index`` starts at that segment (to skip
    sentences or resume after one). ``pace()`` is called before each segment after the first.
    ``utterance_id`` tells the engine which calls are one utterance (a fresh one by default).
    """
    if segments is None:
        segments = segments_of(utterance, first_fragment_words)
    source = FixedSegments(utterance.text, segments) if isinstance(segments, list) else segments
    waited = [False]  # the next sound follows a wait for text: it is a first sound as well

    def wait_hook(waiting: bool) -> None:
        waited[0] = True
        on_wait(waiting)

    asked = SynthesisRequest(
        text="",
        voice=utterance.voice,
        language=utterance.language,
        rate=engine_rate(utterance),
        utterance_id=utterance_id or uuid.uuid4().hex,
        sampling=utterance.sampling,
    )
    track = LanguageTrack(engine, utterance.voice, utterance.language)
    index = first_index
    while not cancel.is_set():
        if pace is not None and index > first_index:
            pace()
        waited[0] = False
        segment = source.next(index, cancel, wait_hook)
        if segment is None:
            return
        turn = track.turn(segment.text)
        if turn is None:  # no voice for its language, and that was said already
            index += 1
            continue
        choice, ask, said, notice = turn.choice, turn.ask, turn.said, turn.notice
        chunks = engine.stream(
            asked.but(text=said.text, voice=ask.voice, language=ask.language), cancel
        )
        if index == first_index or waited[0]:
            chunks = without_lead_in(chunks, LEAD_IN_S)
        if not said.text.endswith(_SENTENCE_END):
            chunks = with_short_ending(chunks, MID_SENTENCE_PAUSE_S)
        timed: set[tuple[int, int]] = set()
        for chunk in chunks:
            if turn.replaced:  # the notice's words are not the segment's
                chunk = dataclasses.replace(chunk, start=0, end=len(segment.text), words=())
            elif said.spans:  # offsets into the respelled text, back to the segment's
                chunk = _in_original(chunk, said, timed)
            chunk = voiced(chunk, utterance).moved(segment.start, segment.end)
            yield SpokenChunk(
                segment,
                index,
                chunk,
                language=choice.language or choice.missing or None,
                voice=None if turn.replaced else ask.voice,
                notice=notice,
            )
            notice = ""
        index += 1
