"""Where reading stopped, per document: kept in a JSON file under the XDG state folder, so that
``readaloud resume`` goes on from there, also after a restart.

A document is its absolute path plus a hash of its content: a file edited since (another
edition of a book) starts again from the beginning instead of at a place that moved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from readaloud.documents.reading import Place

log = logging.getLogger(__name__)

#: The most documents remembered; the least recently read are forgotten first.
MAX_BOOKMARKS = 200
#: Hashed: the size, the first and the last MiB; a whole 500 MB scan would delay the first word.
_HASHED_BYTES = 1 << 20


@dataclass(frozen=True)
class Bookmark:
    path: str
    digest: str
    part: int
    offset: int
    title: str | None
    #: A few words from where it stopped, for the list.
    words: str
    saved_at: float

    @property
    def place(self) -> Place:
        return Place(self.part, self.offset)


def content_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        digest.update(str(size).encode())
        digest.update(handle.read(_HASHED_BYTES))
        if size > 2 * _HASHED_BYTES:
            handle.seek(size - _HASHED_BYTES)
            digest.update(handle.read(_HASHED_BYTES))
    return digest.hexdigest()


class Bookmarks:
    def __init__(self, file: Path) -> None:
        self.file = file
        self._lock = threading.Lock()

    def get(self, path: str, digest: str) -> Bookmark | None:
        return next((b for b in self._load() if b.path == path and b.digest == digest), None)

    def latest(self) -> Bookmark | None:
        marks = self.all()
        return marks[0] if marks else None

    def all(self) -> list[Bookmark]:
        """Most recently read first."""
        return sorted(self._load(), key=lambda b: b.saved_at, reverse=True)

    def put(self, mark: Bookmark) -> None:
        with self._lock:
            kept = [b for b in self._load() if b.path != mark.path]
            kept = sorted([mark, *kept], key=lambda b: b.saved_at, reverse=True)
            self._save(kept[:MAX_BOOKMARKS])

    def remove(self, path: str) -> None:
        with self._lock:
            marks = self._load()
            kept = [b for b in marks if b.path != path]
            if len(kept) != len(marks):
                self._save(kept)

    def _load(self) -> list[Bookmark]:
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
            return [Bookmark(**entry) for entry in raw.get("bookmarks", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError) as error:  # a damaged file costs the places only
            log.warning("bookmarks in %s could not be read (%s); starting afresh", self.file, error)
            return []

    def _save(self, marks: list[Bookmark]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"bookmarks": [asdict(b) for b in marks]}, ensure_ascii=False, indent=1)
        handle, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=".bookmarks.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(data)
            os.replace(temporary, self.file)
        except OSError as error:
            log.warning("could not save the reading place in %s: %s", self.file, error)
            Path(temporary).unlink(missing_ok=True)
