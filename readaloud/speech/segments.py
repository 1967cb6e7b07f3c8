"""Where an utterance's segments come from: all known at once (a text), or one by one while the
text is still arriving (``speech/stream.py``). The scheduler and ``synthesize`` read both the same
way; only a stream ever makes them wait."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from readaloud.text.segment import Segment

#: Called with True before a source blocks for more text, and with False when it goes on.
WaitHook = Callable[[bool], None]


class SegmentSource(Protocol):
    @property
    def max_ahead_s(self) -> float | None:
        """Ask for the next segment only when this much speech is left to hear (None: at once)."""

    def get(self, index: int) -> Segment | None:
        """Segment ``index`` if it is known now (None: not yet, or never)."""

    def next(self, index: int, cancel: threading.Event, on_wait: WaitHook) -> Segment | None:
        """Segment ``index``, waiting for it if it may still come; None at the end or on cancel."""

    def known(self) -> int:
        """How many segments are known now."""

    def finished(self) -> bool:
        """No segment beyond the known ones will come."""

    def slice(self, start: int, end: int) -> str:
        """The utterance's text from ``start`` to ``end`` (offsets of its segments)."""

    def heard(self, index: int) -> None:
        """Segment ``index`` is being heard: what lies well before it may be forgotten."""

    def close(self) -> None:
        """The utterance is over (heard, stopped or replaced): nothing more is read from it."""


class FixedSegments:
    """The segments of a whole text, known before the first is spoken."""

    def __init__(self, text: str, segments: list[Segment]) -> None:
        self.text = text
        self.segments = segments

    @property
    def max_ahead_s(self) -> float | None:
        return None

    def get(self, index: int) -> Segment | None:
        return self.segments[index] if 0 <= index < len(self.segments) else None

    def next(self, index: int, cancel: threading.Event, on_wait: WaitHook) -> Segment | None:
        return None if cancel.is_set() else self.get(index)

    def known(self) -> int:
        return len(self.segments)

    def finished(self) -> bool:
        return True

    def slice(self, start: int, end: int) -> str:
        return self.text[start:end]

    def heard(self, index: int) -> None:
        pass

    def close(self) -> None:
        pass
