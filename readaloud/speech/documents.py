"""A document read aloud: its text pulled into a ``TextStream`` a piece at a time as the speech
needs it, and the place being heard saved as a bookmark when the reading stops.

Going on where one stopped is the default for ``read FILE`` and ``read URL``: a bookmark for the
same file or page with the same content starts the reading there, unless a chapter, some words
or the start is asked for.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from readaloud.documents.bookmarks import Bookmark, Bookmarks, content_digest
from readaloud.documents.model import Document, ListReader, Part
from readaloud.documents.opener import open_document
from readaloud.documents.reading import Reading, Start
from readaloud.speech.stream import StreamOptions, TextStream

_LISTED_CHARS = 80


@dataclass(frozen=True)
class DocumentRequest:
    path: Path
    password: str | None = None
    chapter: int | None = None
    words: str | None = None
    #: Ignore the bookmark: read from the beginning (or the chapter or words asked for).
    from_start: bool = False


class DocumentStream(TextStream):
    """The text of a document as a SegmentSource; where it stopped is kept in ``bookmarks``."""

    def __init__(
        self,
        reading: Reading,
        *,
        key: str,
        digest: str,
        bookmarks: Bookmarks | None,
        resumed: Bookmark | None,
        language: str | None,
        first_fragment_words: int,
    ) -> None:
        super().__init__(
            language,
            StreamOptions(flush_s=None),
            first_fragment_words=first_fragment_words,
            pull=reading.next_piece,
        )
        self.reading = reading
        #: What the bookmark is kept under: the file's absolute path, or the page's URL.
        self.key = key
        self.digest = digest
        self.bookmarks = bookmarks
        #: The bookmark the reading went on from, if it did.
        self.resumed = resumed
        self._was_heard = False

    def heard(self, index: int) -> None:
        self._was_heard = True
        super().heard(index)

    @property
    def title(self) -> str | None:
        return self.reading.document.title

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            heard_to_end = self._heard_last()
            heard = self._heard_start
            words = " ".join(self.slice(heard, heard + _LISTED_CHARS).split())
        super().close()
        self.reading.close()
        if self.bookmarks is None or not self._was_heard:
            return  # nothing was heard: the place kept before (if any) stays
        if heard_to_end:
            self.bookmarks.remove(self.key)
            return
        place = self.reading.place_of(heard)
        self.bookmarks.put(
            Bookmark(
                path=self.key,
                digest=self.digest,
                part=place.part,
                offset=place.offset,
                title=self.title,
                words=words,
                saved_at=time.time(),
            )
        )

    def _heard_last(self) -> bool:
        """The end was reached and its last segment is the one being heard."""
        if not self._ended or self._incoming or self._ready or self._left() or not self._segments:
            return False
        return self._segments[-1].start <= self._heard_start


def open_stream(
    request: DocumentRequest,
    *,
    bookmarks: Bookmarks | None,
    language: str | None,
    first_fragment_words: int,
) -> DocumentStream:
    """Open the document and the stream of its text; input errors are raised here."""
    path = request.path.expanduser().resolve()
    document = open_document(path, password=request.password, language=language)
    try:
        digest = content_digest(path)
    except BaseException:
        document.close()
        raise
    return _stream(
        document, str(path), digest, request, bookmarks, language, first_fragment_words
    )


def page_stream(
    url: str,
    text: str,
    *,
    words: str | None = None,
    from_start: bool = False,
    bookmarks: Bookmarks | None,
    language: str | None,
    first_fragment_words: int,
) -> DocumentStream:
    """The text of the page at ``url`` (fetched), kept under its URL and a hash of its text:
    a page that changed since starts again from its top."""
    document = Document(
        source=url, kind="a web page", reader=ListReader([Part(text)]), part_count=1
    )
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    request = DocumentRequest(Path(), words=words, from_start=from_start)
    return _stream(document, url, digest, request, bookmarks, language, first_fragment_words)


def _stream(
    document: Document,
    key: str,
    digest: str,
    request: DocumentRequest,
    bookmarks: Bookmarks | None,
    language: str | None,
    first_fragment_words: int,
) -> DocumentStream:
    try:
        start = Start(chapter=request.chapter, words=request.words)
        resumed = None
        if bookmarks is not None and not (request.from_start or request.chapter or request.words):
            resumed = bookmarks.get(key, digest)
            if resumed is not None:
                start = Start(place=resumed.place)
        reading = Reading(document, start)
    except BaseException:
        document.close()
        raise
    return DocumentStream(
        reading,
        key=key,
        digest=digest,
        bookmarks=bookmarks,
        resumed=resumed,
        language=language,
        first_fragment_words=first_fragment_words,
    )
