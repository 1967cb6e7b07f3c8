"""Reading a document from where the listener asks: its start, a chapter, some words, or a saved
place; the text comes out piece by piece (a page, a chapter file), each piece made only when the
speech needs it, and every character of it can be traced back to its place in the document.

A place is (part, offset in that part's text): stable across runs, and it needs no page before
it to be read again.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from readaloud.documents.layout import continues
from readaloud.documents.model import Document, Part
from readaloud.errors import BadInput

_SPACES = re.compile(r"\s+")
#: Where a sentence or line begins, looking back from some words the listener gave.
_SENTENCE_START = re.compile(r"(?:[.!?…]['\"”’)]*\s+|\n)(?=\S)")


@dataclass(frozen=True)
class Place:
    """Where in a document: part ``part``, character ``offset`` of its text."""

    part: int = 0
    offset: int = 0


@dataclass(frozen=True)
class Start:
    """Where to begin: a chapter (from 1), the sentence holding some words, or a place."""

    chapter: int | None = None
    words: str | None = None
    place: Place | None = None


class Reading:
    """The pieces of text to speak, from ``start``, and where each character came from."""

    def __init__(self, document: Document, start: Start | None = None) -> None:
        self.document = document
        start = start or Start()
        first = start.place or Place(_chapter_part(document, start.chapter), 0)
        self._parts = enumerate(document.parts(first.part), start=first.part)
        self._lead: tuple[int, Part, int] | None = None  # the first part, cut where it begins
        if start.words:
            self._lead = _find(self._parts, start.words, document)
        elif first.offset:
            number, part = next(self._parts, (first.part, Part("")))
            self._lead = (number, part, min(first.offset, len(part.text)))
        self._lock = threading.Lock()
        self._starts: list[int] = []  # stream offset where each piece began
        self._places: list[Place] = []  # and the place it began at
        self._sent = 0
        self._previous = ""
        self.beginning = Place(*(self._lead[::2] if self._lead else (first.part, 0)))

    def next_piece(self) -> str | None:
        """The next piece of text (with what separates it from the one before), or None at
        the end of the document."""
        while True:
            if self._lead is not None:
                number, part, offset = self._lead
                self._lead = None
            else:
                found = next(self._parts, None)
                if found is None:
                    return None
                (number, part), offset = found, 0
            text = part.text[offset:]
            if text.strip():
                break
        separator = "" if not self._previous else " " if continues(self._previous, text) else "\n\n"
        with self._lock:
            self._starts.append(self._sent + len(separator))
            self._places.append(Place(number, offset))
            self._sent += len(separator) + len(text)
        self._previous = text
        return separator + text

    def place_of(self, stream_offset: int) -> Place:
        """The document place of character ``stream_offset`` of the text given out."""
        with self._lock:
            index = bisect.bisect_right(self._starts, stream_offset) - 1
            if index < 0:
                return self.beginning
            place = self._places[index]
            return Place(place.part, place.offset + stream_offset - self._starts[index])

    def close(self) -> None:
        self.document.close()


def _chapter_part(document: Document, chapter: int | None) -> int:
    if chapter is None:
        return 0
    count = len(document.chapters)
    if count == 0:
        raise BadInput(
            f"{document.source} has no chapters readaloud can find (no table of contents); "
            'start elsewhere with --from "some words".'
        )
    if not 1 <= chapter <= count:
        raise BadInput(
            f"{document.source} has {count} chapter{'s' if count > 1 else ''}; "
            f"give --chapter 1 to {count}."
        )
    return document.chapters[chapter - 1].part


def _find(
    parts: Iterator[tuple[int, Part]], words: str, document: Document
) -> tuple[int, Part, int]:
    """The part holding ``words`` (any case, any spacing) and where its sentence begins."""
    wanted = _SPACES.sub(" ", words).strip().casefold()
    if not wanted:
        raise BadInput("--from needs some words of the text to start at.")
    pattern = re.compile(r"\s+".join(map(re.escape, wanted.split(" "))), re.IGNORECASE)
    for number, part in parts:
        match = pattern.search(part.text)
        if match:
            starts = [m.end() for m in _SENTENCE_START.finditer(part.text, 0, match.start() + 1)]
            return number, part, starts[-1] if starts else 0
    raise BadInput(f'The words "{words.strip()}" are not in {document.source}.')
