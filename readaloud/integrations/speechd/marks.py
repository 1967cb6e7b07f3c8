"""When to report each SSML mark of a message, from the segment events the daemon sends.

The daemon reports when each *segment* (a sentence, or the short first fragment) starts to be
heard, with its character span, and when each *word* starts to be heard. When its engine times
its words (Piper does), a mark is reported as the first word at or after it is heard: exact.
Without (XTTS: its words are only estimated, and the module leaves those out), a mark is
reported:

* at once when a segment starts at or after it (marks between sentences, speechd's own
  ``__spd_`` marks, a mark before the first word);
* for a mark inside a segment: at the segment's start plus an estimate of the time to reach it,
  from its distance in characters and a deliberately slow speaking speed, so it tends to come
  late rather than early;
* at the latest when the next segment starts (or the message ends): by then it was passed.

Late is the safe side: speechd resumes a paused message after the last mark reported, and Orca
puts the caret there when speech is interrupted. A mark reported early would skip words.
"""

from __future__ import annotations

from collections import deque

from readaloud.integrations.speechd.ssml import Mark

#: Characters per second assumed at rate 1. The bundled Piper voice speaks ~15; a lower figure
#: makes the estimate late rather than early.
CHARS_PER_SECOND = 12.0


class MarkTimeline:
    """The marks of one message, released in order as playback passes them."""

    def __init__(self, marks: tuple[Mark, ...] | list[Mark], rate: float = 1.0) -> None:
        self._pending: deque[Mark] = deque(sorted(marks, key=lambda m: m.offset))
        self._chars_per_second = CHARS_PER_SECOND * rate
        #: (monotonic time, mark) for marks inside the segment now playing.
        self._scheduled: deque[tuple[float, Mark]] = deque()
        #: Word events came: marks wait for the word they stand before, no estimate.
        self._by_words = False

    def segment_started(self, start: int, end: int, now: float) -> list[str]:
        """A segment covering ``[start, end)`` is heard from ``now``: the marks due at once."""
        due = [mark.name for _, mark in self._scheduled]  # the previous segment is over
        self._scheduled.clear()
        while self._pending and self._pending[0].offset <= start:
            due.append(self._pending.popleft().name)
        while not self._by_words and self._pending and self._pending[0].offset < end:
            mark = self._pending.popleft()
            self._scheduled.append((now + (mark.offset - start) / self._chars_per_second, mark))
        return due

    def word_started(self, start: int) -> list[str]:
        """The word at offset ``start`` is heard from now: the marks up to it are due."""
        if not self._by_words:
            self._by_words = True  # estimates are no longer needed: back to waiting
            self._pending.extendleft(reversed([mark for _, mark in self._scheduled]))
            self._scheduled.clear()
        due = []
        while self._pending and self._pending[0].offset <= start:
            due.append(self._pending.popleft().name)
        return due

    def due(self, now: float) -> list[str]:
        """Marks inside the playing segment whose estimated time has come."""
        names = []
        while self._scheduled and self._scheduled[0][0] <= now:
            names.append(self._scheduled.popleft()[1].name)
        return names

    @property
    def next_due(self) -> float | None:
        return self._scheduled[0][0] if self._scheduled else None

    def finish(self) -> list[str]:
        """The message was spoken to its end: every mark not yet reported, in order."""
        names = [mark.name for _, mark in self._scheduled] + [m.name for m in self._pending]
        self._scheduled.clear()
        self._pending.clear()
        return names

    def drop(self) -> None:
        """The message was stopped: the marks not yet reported were never reached."""
        self._scheduled.clear()
        self._pending.clear()
