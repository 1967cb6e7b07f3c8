"""Text that arrives while it is spoken (an LLM's answer, a chat, ``tail -f``): the writer adds
pieces, the scheduler's worker takes segments as soon as the cutter (``text/incremental.py``)
has made them, and waits when it has spoken all there is.

The cutting runs on the worker, on all the text that came since it last looked: a writer sending
10,000 one-character pieces a second costs one cut per segment spoken, not one per piece.

Defined behaviour at the edges: a piece that is not text (NUL, invalid UTF-8, also split across
pieces), over ``MAX_PIECE_BYTES`` or more than ``max_backlog_chars`` ahead of the speech is refused
with a ``BadInput`` that says what to do, and the stream ends there (what came before is spoken);
once the utterance is over (heard, stopped or replaced) ``write`` returns False and keeps
nothing.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from readaloud.errors import BadInput
from readaloud.speech.segments import WaitHook
from readaloud.speech.synthesis import check_characters
from readaloud.text.incremental import LineCutter, SentenceCutter, Unit
from readaloud.text.segment import Segment
from readaloud.text.sources import MAX_TEXT_BYTES

#: The most one piece may hold; a program streaming text sends far smaller ones.
MAX_PIECE_BYTES = 64 * 1024
#: In keep-up line mode the next line is chosen when this much speech is left to hear, so the
#: newest line is the one read, not one that was new many seconds ago.
KEEP_UP_AHEAD_S = 0.4
#: Segments kept behind the one being heard (for skipping back and the status), and text.
_KEEP_SEGMENTS = 16
_POLL_S = 0.05

log = logging.getLogger(__name__)


class TooMuch(BadInput):
    """A piece over the size cap, or text too far ahead of the speech."""


@dataclass(frozen=True)
class StreamOptions:
    #: Speak line by line (logs) instead of sentence by sentence.
    lines: bool = False
    #: Line mode: when lines come faster than they are spoken, read the newest and say how many
    #: were skipped, instead of falling further behind.
    keep_up: bool = False
    #: Speak the text that has no sentence end yet after this long without input; None: never.
    flush_s: float | None = 0.7

    def __post_init__(self) -> None:
        if self.flush_s is not None and not 0.05 <= self.flush_s <= 60:
            raise BadInput(f"flush_s {self.flush_s:g} is out of range; use 0.05 to 60 seconds.")
        if self.keep_up and not self.lines:
            raise BadInput("keep_up applies to line mode only: ask for lines as well.")


class TextStream:
    """A SegmentSource (``speech/segments.py``) fed by a writer on another thread."""

    def __init__(
        self,
        language: str | None = "en",
        options: StreamOptions | None = None,
        *,
        first_fragment_words: int = 6,
        max_backlog_chars: int = MAX_TEXT_BYTES,
        pull: Callable[[], str | None] | None = None,
    ) -> None:
        """``pull``: where the text comes from when no writer gives it (a document, read a
        piece at a time as the speech needs it); it returns None at the end."""
        self.options = options or StreamOptions()
        self._pull = pull
        self.max_backlog_chars = max_backlog_chars
        self._cutter: SentenceCutter | LineCutter = (
            LineCutter(language)
            if self.options.lines
            else SentenceCutter(language, first_fragment_words=first_fragment_words)
        )
        self._lock = threading.Condition()
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._incoming: list[str] = []
        self._received = 0  # characters written so far: the stream offset of the next one
        self._last_input = time.monotonic()
        self._text = ""  # the text from stream offset _base on, for slice()
        self._base = 0
        self._segments: list[Segment] = []  # decided segments, from index _first on
        self._first = 0
        self._ready: deque[Unit] = deque()  # cut, not yet decided on (keep-up may skip them)
        self._heard_start = 0
        self._ended = False
        self._flush_asked = False
        self._closed = False
        #: Lines left out in keep-up mode, in all.
        self.skipped_lines = 0

    # -- the writer's side -------------------------------------------------------------------

    def write(self, text: str) -> bool:
        """Add ``text``; False once the utterance is over (nothing more will be spoken)."""
        if len(text) > MAX_PIECE_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
            MAX_PIECE_BYTES
        ):
            self.end()
            raise TooMuch(
                f"A piece of text is over {MAX_PIECE_BYTES // 1024} KB; send the text in "
                "smaller pieces as it is made."
            )
        try:
            check_characters(text)
        except BadInput:
            self.end()
            raise
        with self._lock:
            if self._closed:
                return False
            if self._ended:
                raise BadInput("The stream's end was already given; start a new one.")
            backlog = self._received + len(text) - self._heard_start
            if backlog > self.max_backlog_chars:
                self._ended = True
                self._lock.notify_all()
                raise TooMuch(
                    f"The text arrives faster than it is spoken: over {backlog // 1000} "
                    "thousand characters wait. Send less, or use line mode with keep-up."
                )
            if text:
                self._incoming.append(text)
                self._received += len(text)
                self._last_input = time.monotonic()
                self._lock.notify_all()
            return True

    def write_bytes(self, data: bytes) -> bool:
        """Add UTF-8 bytes; a character may be split across calls."""
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError as error:
            self.end()
            raise BadInput(
                f"The text is not UTF-8 (a bad byte {error.object[error.start]:#04x} near "
                f"character {self._received}); send UTF-8 text."
            ) from None
        return self.write(text)

    def flush(self) -> None:
        """Speak what has come now, though its sentence has no end yet."""
        with self._lock:
            self._flush_asked = True
            self._lock.notify_all()

    def end(self) -> None:
        """The input is over: what is left is spoken, then the utterance ends."""
        try:
            tail = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            tail = ""  # a character cut off at the very end: nothing of it can be read
            self._decoder.reset()
        with self._lock:
            if tail and not self._closed:
                self._incoming.append(tail)
                self._received += len(tail)
            self._ended = True
            self._lock.notify_all()

    @property
    def closed(self) -> bool:
        """The utterance is over: stopped, replaced or heard to the end."""
        with self._lock:
            return self._closed

    @property
    def received(self) -> int:
        with self._lock:
            return self._received

    # -- the speaker's side (SegmentSource) --------------------------------------------------

    @property
    def max_ahead_s(self) -> float | None:
        return KEEP_UP_AHEAD_S if self.options.keep_up else None

    def get(self, index: int) -> Segment | None:
        with self._lock:
            return self._get(index)

    def next(self, index: int, cancel: threading.Event, on_wait: WaitHook) -> Segment | None:
        waiting = False
        try:
            with self._lock:
                while not (cancel.is_set() or self._closed):
                    segment = self._get(index)
                    if segment is not None or index < self._first:
                        return segment
                    if self._ready:
                        self._decide()
                        continue
                    flush = self._ended or self._flush_asked or self._flush_due()
                    if self._incoming or (flush and self._left()):
                        self._cut()
                        continue
                    if self._ended:
                        return None
                    if self._pull is not None:
                        self._pull_more()
                        continue
                    self._flush_asked = False  # all that had come is cut
                    if not waiting:
                        waiting = True
                        on_wait(True)
                    self._lock.wait(self._wait_time())
                return None
        finally:
            if waiting:
                on_wait(False)

    def known(self) -> int:
        with self._lock:
            return self._first + len(self._segments)

    def finished(self) -> bool:
        with self._lock:
            return self._closed or (
                self._ended and not self._incoming and not self._ready and not self._left()
            )

    def slice(self, start: int, end: int) -> str:
        with self._lock:
            return self._text[max(0, start - self._base) : max(0, end - self._base)]

    def heard(self, index: int) -> None:
        with self._lock:
            segment = self._get(index)
            if segment is None:
                return
            self._heard_start = segment.start
            drop = index - _KEEP_SEGMENTS - self._first
            if drop > 0:
                del self._segments[:drop]
                self._first += drop
                keep_from = self._segments[0].start
                self._text = self._text[keep_from - self._base :]
                self._base = keep_from

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._first += len(self._segments)  # known() stays the count of segments made
            self._incoming.clear()
            self._ready.clear()
            self._segments.clear()
            self._text = ""
            self._lock.notify_all()

    # -- internals (with _lock held) ---------------------------------------------------------

    def _get(self, index: int) -> Segment | None:
        position = index - self._first
        return self._segments[position] if 0 <= position < len(self._segments) else None

    def _left(self) -> bool:
        return bool(self._cutter.pending.strip())

    def _flush_due(self) -> bool:
        flush_s = self.options.flush_s
        return flush_s is not None and time.monotonic() - self._last_input >= flush_s

    def _wait_time(self) -> float:
        flush_s = self.options.flush_s
        if flush_s is None or not self._left():
            return _POLL_S  # cancel is an Event of its own: look at it now and then
        due = self._last_input + flush_s - time.monotonic()
        return max(0.0, min(_POLL_S, due))

    def _cut(self) -> None:
        text = "".join(self._incoming)
        self._incoming.clear()
        self._text += text
        units = self._cutter.feed(text)
        if self._ended or self._flush_asked or (self._flush_due() and self._left()):
            units += self._cutter.flush()
            self._flush_asked = False
        self._ready.extend(units)

    def _pull_more(self) -> None:
        """The next piece from ``pull``, made without the lock: stop and skip go on meanwhile."""
        assert self._pull is not None
        notice = None
        self._lock.release()
        try:
            piece = self._pull()
        except BadInput as error:
            piece, notice = None, str(error)
        except Exception:  # the reader broke: say that the rest is missing, never go quiet
            log.exception("reading the rest of the text failed")
            piece, notice = None, "The rest of the text could not be read."
        finally:
            self._lock.acquire()
        if self._closed:
            return
        if piece is None:
            self._ended = True
            piece = f"\n\n{notice}" if notice else ""
        self._incoming.append(piece)
        self._received += len(piece)

    def _decide(self) -> None:
        """Take the next unit; in keep-up line mode the newest, saying how many were left out."""
        if self.options.keep_up and len(self._ready) > 1:
            skipped = len(self._ready) - 1
            for _ in range(skipped):
                self._ready.popleft()
            self.skipped_lines += skipped
            at = self._ready[0][0].start
            notice = f"{skipped} line{'s' if skipped > 1 else ''} skipped."
            self._segments.append(Segment(notice, at, at))
        self._segments.extend(self._ready.popleft())
