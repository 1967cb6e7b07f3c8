"""A stream's segments as the scheduler's worker takes them: each as soon as it is certain, the
rest after a pause in the input, nothing after a stop, and a clear error for what is not text."""

from __future__ import annotations

import threading
import time

import pytest

from readaloud.errors import BadInput
from readaloud.speech.stream import MAX_PIECE_BYTES, StreamOptions, TextStream
from readaloud.text.segment import Segment

NEVER = threading.Event()


def take(stream: TextStream, index: int, timeout: float = 5.0) -> Segment | None:
    """Segment ``index`` as the worker gets it, or None (the end); fails if it blocks longer."""
    result: list[Segment | None] = []
    waits: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(stream.next(index, NEVER, waits.append)))
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"segment {index} did not come in {timeout} s"
    assert waits in ([], [True, False])  # a wait is always announced, and its end
    return result[0]


def all_texts(stream: TextStream) -> list[str]:
    texts: list[str] = []
    while (segment := take(stream, len(texts))) is not None:
        texts.append(segment.text)
    return texts


def test_segments_come_as_sentences_end_and_the_rest_at_the_end() -> None:
    stream = TextStream(options=StreamOptions(flush_s=None), first_fragment_words=0)
    stream.write("Hello there. How ")
    first = take(stream, 0)
    assert first is not None and first.text == "Hello there."
    stream.write("are you")
    stream.end()
    second = take(stream, 1)
    assert second is not None and (second.text, second.start) == ("How are you", 13)
    assert stream.slice(second.start, second.end) == "How are you"
    assert take(stream, 2) is None
    assert stream.finished()


def test_a_pause_in_the_input_speaks_what_has_no_end_yet() -> None:
    stream = TextStream(options=StreamOptions(flush_s=0.2))
    stream.write("no punctuation here")
    began = time.monotonic()
    segment = take(stream, 0)
    assert segment is not None and segment.text == "no punctuation here"
    assert 0.15 < time.monotonic() - began < 2.0


def test_flush_speaks_at_once() -> None:
    stream = TextStream(options=StreamOptions(flush_s=None))
    stream.write("half a thought")
    stream.flush()
    segment = take(stream, 0, timeout=1.0)
    assert segment is not None and segment.text == "half a thought"


def test_a_character_split_between_pieces_is_joined() -> None:
    stream = TextStream(options=StreamOptions(flush_s=None))
    data = "Café crème. ".encode()
    for byte in data:
        assert stream.write_bytes(bytes([byte]))
    segment = take(stream, 0)
    assert segment is not None and segment.text == "Café crème."


@pytest.mark.parametrize(
    ("piece", "says"),
    [
        (b"ok \xff\xfe", "not UTF-8"),
        (b"a\x00b", "NUL"),
        (b"x" * (MAX_PIECE_BYTES + 1), "64 KB"),
    ],
)
def test_what_is_not_text_is_refused_and_what_came_before_is_kept(piece: bytes, says: str) -> None:
    stream = TextStream(options=StreamOptions(flush_s=None))
    stream.write("Kept before. And this")
    with pytest.raises(BadInput, match=says):
        stream.write_bytes(piece)
    assert all_texts(stream) == ["Kept before.", "And this"]


def test_a_stream_far_ahead_of_the_speech_is_refused() -> None:
    stream = TextStream(options=StreamOptions(flush_s=None), max_backlog_chars=100)
    stream.write("a" * 60)
    with pytest.raises(BadInput, match="faster than it is spoken"):
        stream.write("b" * 60)


def test_after_a_stop_nothing_is_kept() -> None:
    stream = TextStream()
    stream.write("Something. ")
    stream.close()
    assert stream.write("more") is False
    assert take(stream, 0) is None


def test_keep_up_reads_the_newest_line_and_says_how_many_were_skipped() -> None:
    stream = TextStream(options=StreamOptions(lines=True, keep_up=True, flush_s=None))
    stream.write("first line\n")
    assert take(stream, 0).text == "first line"  # type: ignore[union-attr]
    stream.write("".join(f"line {n}\n" for n in range(2, 11)))
    notice, newest = take(stream, 1), take(stream, 2)
    assert notice is not None and notice.text == "8 lines skipped."
    assert newest is not None and newest.text == "line 10"
    assert stream.skipped_lines == 8


def test_keep_all_reads_every_line() -> None:
    stream = TextStream(options=StreamOptions(lines=True, flush_s=None))
    stream.write("".join(f"line {n}\n" for n in range(1, 6)))
    stream.end()
    assert all_texts(stream) == [f"line {n}" for n in range(1, 6)]
