"""Open any file readaloud reads, by what it is (its first bytes), then by its name."""

from __future__ import annotations

import zipfile
from pathlib import Path

from readaloud.documents.model import (
    MAX_DOCUMENT_BYTES,
    Document,
    DocumentError,
    ListReader,
    Part,
)
from readaloud.errors import BadInput
from readaloud.text import extract

_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
_EPUB_MIMETYPE = b"application/epub+zip"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream names of an OLE file are in its directory, near the start of a small file.
_OLE_SCAN_BYTES = 1 << 20
#: Kinds this module opens itself; for the rest ``text/extract.py`` says what they are.
DOCUMENT_SUFFIXES = frozenset({".pdf", ".epub", ".docx", ".odt"})


def open_document(
    path: Path | str, *, password: str | None = None, language: str | None = None
) -> Document:
    """The document at ``path``; a ``BadInput`` that says what to do when it cannot be read.

    ``language``: of the text, for recognising scanned pages (None: English).
    """
    path = Path(path)
    head = _head(path)
    suffix = path.suffix.lower()
    if head.lstrip().startswith(b"%PDF-") or (suffix == ".pdf" and not head.strip()):
        if not head.strip():
            raise DocumentError(f"{path} is empty.", "The file is empty.")
        from readaloud.documents.pdf import open_pdf

        return open_pdf(path, password, language)
    if head.startswith(_OLE):
        raise _office_error(path)
    if head.startswith(b"PK\x03\x04") or suffix in DOCUMENT_SUFFIXES - {".pdf"}:
        document = _open_zip(path, suffix)
        if document is not None:
            return document
    if suffix == ".pdf":
        raise DocumentError(
            f"{path} is named .pdf but is not a PDF: it could not be opened.",
            "The file is not a PDF.",
        )
    found = extract.from_file(path)
    return Document(
        source=str(path),
        kind="a text file",
        reader=ListReader([Part(found.text)]),
        title=found.title,
        part_count=1,
    )


def _open_zip(path: Path, suffix: str) -> Document | None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        if suffix in DOCUMENT_SUFFIXES:
            kind = {".epub": "EPUB", ".docx": "Word document", ".odt": "OpenDocument text"}
            raise DocumentError(
                f"{path} is a damaged {kind[suffix]}: it is not a readable ZIP archive.",
                "The file is damaged.",
            ) from None
        return None
    try:
        names = set(archive.namelist())
        mimetype = archive.read("mimetype").strip() if "mimetype" in names else b""
        if mimetype == _EPUB_MIMETYPE or (suffix == ".epub" and not mimetype):
            from readaloud.documents.epub import open_epub

            return open_epub(path, archive)  # it owns the archive now
        if mimetype == _ODT_MIMETYPE:
            from readaloud.documents.office import open_odt

            with archive:
                return open_odt(path, archive)
        if "word/document.xml" in names:
            archive.close()
            from readaloud.documents.office import open_docx

            return open_docx(path)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
        archive.close()
        raise DocumentError(
            f"{path} is damaged: {error}.", "The file is damaged and cannot be read."
        ) from None
    archive.close()
    what = {
        ".epub": "an EPUB e-book",
        ".docx": "a Word document",
        ".odt": "an OpenDocument text",
    }.get(suffix)
    if what:
        raise DocumentError(
            f"{path} is a ZIP archive, not {what}.", f"This is a ZIP archive, not {what}."
        )
    raise extract.NotReadable(
        f"{path} is a ZIP archive, not a document readaloud can read ({extract.READABLE}).",
        "a ZIP archive",
    )


def _office_error(path: Path) -> DocumentError:
    """An OLE compound file: a password-protected Word or OpenDocument file (the encrypted
    package inside one), or a Word document from before 2007."""
    with path.open("rb") as handle:
        start = handle.read(_OLE_SCAN_BYTES)
    if "EncryptedPackage".encode("utf-16-le") in start:
        return DocumentError(
            f"{path} is protected by a password, which readaloud cannot open. Save a copy "
            "without the password (Word: File > Info > Protect Document) and read that.",
            "The document is protected by a password.",
        )
    return DocumentError(
        f"{path} is an old Microsoft Office file (.doc, .xls, .ppt). Save it as .docx or "
        ".odt (in Word or LibreOffice) and read that.",
        "This is an old Office document, which readaloud cannot read.",
    )


def _head(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise BadInput(f"{path} is a folder; give a document or text file.")
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                f"{path} is {size / 1e9:.1f} GB, over the {MAX_DOCUMENT_BYTES >> 20} MB "
                "readaloud opens; split it into smaller files.",
                "The file is too large to read.",
            )
        with path.open("rb") as handle:
            return handle.read(1024)
    except FileNotFoundError:
        raise BadInput(f"File {path} does not exist.") from None
    except PermissionError:
        raise BadInput(f"Cannot read {path}: permission denied.") from None
    except OSError as error:
        raise BadInput(f"Cannot read {path}: {error.strerror}.") from None
