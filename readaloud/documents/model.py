"""One model for every kind of document: its title, author and chapters, and its text as parts
in reading order, made one by one so that reading starts before a book is parsed.

A part is a page of a PDF, a chapter file of an EPUB, or all of a short document. Paragraphs in a
part are separated by a blank line; a part may end in the middle of a sentence (a PDF page break)
and the next one goes on with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from readaloud.errors import BadInput

#: The largest file readaloud opens as a document (a 2 GB scan archive is a mistake, not a book).
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    """A piece of the document's text, in reading order."""

    text: str
    #: The number (from 1) of the chapter this part begins, or None when it goes on with one.
    chapter: int | None = None
    #: The page it is, where the document has pages (from 1).
    page: int | None = None


@dataclass(frozen=True)
class Chapter:
    title: str
    #: Where it starts: the page (PDF) or the part (EPUB file) it begins with, from 0.
    part: int = 0


@dataclass
class Document:
    """What a file holds: its metadata up front, its text part by part (``parts()``)."""

    source: str  # the path, for messages and bookmarks
    kind: str  # "a PDF", "an EPUB e-book": in messages
    reader: PartReader
    title: str | None = None
    author: str | None = None
    chapters: list[Chapter] = field(default_factory=list)
    #: Parts there are in all (pages of a PDF), where known without reading them.
    part_count: int | None = None
    #: The cover picture (an e-book's), as the file holds it: PNG or JPEG bytes.
    cover: bytes | None = None

    def parts(self, start: int = 0) -> Iterator[Part]:
        """The parts from part ``start`` (a page or a chapter file, from 0) on."""
        return self.reader.parts(start)

    def close(self) -> None:
        self.reader.close()


class PartReader(Protocol):
    def parts(self, start: int) -> Iterator[Part]:
        """Parts from index ``start`` on; each made only when asked for."""

    def close(self) -> None:
        """Let go of the file."""


class DocumentError(BadInput):
    """A document readaloud cannot open: encrypted, damaged, protected, or with no words."""

    def __init__(self, message: str, spoken: str) -> None:
        super().__init__(message)
        self.spoken = spoken


class ListReader:
    """Parts already made (a Word file is read whole: it is small and its order is all there)."""

    def __init__(self, parts: list[Part]) -> None:
        self._parts = parts

    def parts(self, start: int) -> Iterator[Part]:
        return iter(self._parts[start:])

    def close(self) -> None:
        pass
