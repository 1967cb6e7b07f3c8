"""PDF: opened with PDFium (pypdfium2: password, metadata, outline, rendering scanned pages),
its text laid out by Poppler's ``pdftotext -bbox-layout`` (Debian's poppler-utils).

Why two: Poppler's layout analysis keeps the reading order across columns and groups lines into
paragraphs, where pdfminer.six put a page's right column before its left in our own test files
and PDFium gives lines only; PDFium is the quick, permissively licensed way to everything else.
Pages are laid out a few at a time, so the first is heard while the rest of a book waits.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from lxml import etree

from readaloud.documents import ocr
from readaloud.documents.layout import Block, Page, Word, ends_sentence, page_text
from readaloud.documents.model import Chapter, Document, DocumentError, Part

KIND = "a PDF"
#: pdftotext is run on this many pages at first, then on batches doubling up to the largest.
_FIRST_BATCH, _LARGEST_BATCH = 1, 16
_OCR_DPI = 300
_LAYOUT_SECONDS = 120
_XHTML = "{http://www.w3.org/1999/xhtml}"


def open_pdf(path: Path, password: str | None, language: str | None = None) -> Document:
    try:
        pdf = pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as error:
        raise _open_error(path, password, str(error)) from None
    pages = len(pdf)
    if pages == 0:
        pdf.close()
        raise DocumentError(f"{path} is a PDF with no pages.", "The PDF has no pages.")
    if not ocr.available() and _scanned_only(pdf):
        pdf.close()
        raise DocumentError(
            f"{path} is scanned pages (images without text); reading them needs Tesseract: "
            f"{ocr.INSTALL}",
            "This PDF is scanned pages, and Tesseract is not installed to read them.",
        )
    metadata = pdf.get_metadata_dict(skip_empty=True)
    chapters = []
    for item in pdf.get_toc():
        destination = item.get_dest() if item.level == 0 else None
        page = destination.get_index() if destination is not None else None
        if page is not None and item.get_title().strip():
            chapters.append(Chapter(item.get_title().strip(), page))
    reader = PdfPages(path, pdf, password, language)
    return Document(
        source=str(path),
        kind=KIND,
        reader=reader,
        title=metadata.get("Title"),
        author=metadata.get("Author"),
        chapters=chapters,
        part_count=pages,
    )


class PdfPages:
    """The pages of an open PDF as parts, laid out a batch at a time."""

    def __init__(
        self, path: Path, pdf: pdfium.PdfDocument, password: str | None, language: str | None
    ) -> None:
        self.path = path
        self.pdf = pdf
        self.password = password
        self.language = language

    def parts(self, start: int) -> Iterator[Part]:
        count = len(self.pdf)
        # The page before the first is laid out too: its header tells the running header.
        pages = self._layouts(max(0, start - 1), count)
        notes: list[str] = []  # footnotes waiting for the sentence they interrupt to end
        previous, current = None, next(pages, None)
        if start > 0:
            previous, current = current, next(pages, None)
        if (
            current is not None
            and not current.blocks
            and ocr.available()
            and self._has_images(current.number)
        ):
            # Recognising a page takes seconds: say why it is quiet.
            yield Part(f"Page {current.number} is a scanned image; recognising its text.")
        while current is not None:
            following = next(pages, None)
            neighbours = [page for page in (previous, following) if page is not None]
            yield self._part(current, neighbours, notes)
            previous, current = current, following
        if notes:
            yield Part("\n\n".join(notes))

    def _part(self, page: Page, neighbours: list[Page], notes: list[str]) -> Part:
        text = page_text(page, neighbours)
        body = text.body
        if not body and not text.notes:
            return Part(self._scanned(page.number), page=page.number)
        # Notes are read once the sentence running on from the page before has ended.
        if notes and body:
            body = [body[0], *notes, *body[1:]]
            notes.clear()
        notes.extend(text.notes)
        if notes and body and ends_sentence(body[-1]):
            body, notes[:] = [*body, *notes], []
        return Part("\n\n".join(body), page=page.number)

    def _scanned(self, number: int) -> str:
        if not self._has_images(number):
            return ""  # an empty page
        if not ocr.available():
            return (
                f"Page {number} is a scanned image. To hear it, install Tesseract: {ocr.INSTALL}."
            )
        try:
            return ocr.recognise(page_png(self.pdf, number - 1), self.language)
        except (OSError, subprocess.SubprocessError) as error:
            return f"Page {number} could not be recognised: {error}."

    def _has_images(self, number: int) -> bool:
        page = self.pdf[number - 1]
        try:
            return _has_images(page)
        finally:
            page.close()

    def _layouts(self, start: int, count: int) -> Iterator[Page]:
        first, batch = start + 1, _FIRST_BATCH
        while first <= count:
            last = min(count, first + batch - 1)
            yield from self._layout(first, last)
            first, batch = last + 1, min(_LARGEST_BATCH, batch * 2)

    def _layout(self, first: int, last: int) -> list[Page]:
        command = ["pdftotext", "-q", "-bbox-layout", "-f", str(first), "-l", str(last)]
        if self.password is not None:
            command += ["-upw", self.password]
        command += [str(self.path), "-"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=_LAYOUT_SECONDS)
        except FileNotFoundError:
            raise DocumentError(
                "Reading PDFs needs Poppler's pdftotext: sudo apt install poppler-utils",
                "Reading PDFs needs poppler-utils installed.",
            ) from None
        except subprocess.TimeoutExpired:
            done = None
        pages = _parse_layout(done.stdout, first) if done and done.stdout else []
        # A page Poppler could not lay out is still there, with its number: never skipped.
        by_number = {page.number: page for page in pages}
        return [by_number.get(n, Page(n, 1.0, ())) for n in range(first, last + 1)]

    def close(self) -> None:
        self.pdf.close()


def page_png(pdf: pdfium.PdfDocument, index: int, dpi: int = _OCR_DPI) -> bytes:
    """Page ``index`` (from 0) rendered as a PNG, as Tesseract reads it."""
    page = pdf[index]
    try:
        image = page.render(scale=dpi / 72).to_pil()
    finally:
        page.close()
    png = io.BytesIO()
    image.save(png, format="PNG")
    return png.getvalue()


def _scanned_only(pdf: pdfium.PdfDocument, pages: int = 3) -> bool:
    """Whether the first ``pages`` pages hold images and no text at all."""
    for index in range(min(pages, len(pdf))):
        page = pdf[index]
        try:
            text = page.get_textpage()
            try:
                if text.count_chars() > 0 or not _has_images(page):
                    return False
            finally:
                text.close()
        finally:
            page.close()
    return True


def _has_images(page: pdfium.PdfPage) -> bool:
    return any(True for _ in page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_IMAGE]))


def _parse_layout(xhtml: bytes, first: int) -> list[Page]:
    root = etree.fromstring(xhtml, etree.XMLParser(recover=True, huge_tree=True))
    if root is None:
        return []
    pages = []
    for number, page in enumerate(root.iter(f"{_XHTML}page"), start=first):
        blocks = []
        for block in page.iter(f"{_XHTML}block"):
            lines = tuple(
                tuple(
                    Word(word.text or "", float(word.get("yMin", 0)), float(word.get("yMax", 0)))
                    for word in line.iter(f"{_XHTML}word")
                    if word.text
                )
                for line in block.iter(f"{_XHTML}line")
            )
            lines = tuple(line for line in lines if line)
            if lines:
                blocks.append(
                    Block(
                        lines,
                        top=float(block.get("yMin", 0)),
                        bottom=float(block.get("yMax", 0)),
                        left=float(block.get("xMin", 0)),
                        right=float(block.get("xMax", 0)),
                    )
                )
        pages.append(Page(number, float(page.get("height", 1)), tuple(blocks)))
    return pages


def _open_error(path: Path, password: str | None, detail: str) -> DocumentError:
    if "password" in detail.lower():
        if password is None:
            return DocumentError(
                f"{path} is protected by a password. Give it with --password.",
                "The PDF is protected by a password.",
            )
        return DocumentError(
            f"The password for {path} is wrong.", "The password for the PDF is wrong."
        )
    if _poppler_pages(path, password) == 0:  # PDFium refuses an empty page tree outright
        return DocumentError(f"{path} is a PDF with no pages.", "The PDF has no pages.")
    reason = re.sub(r"^Failed to load document \(PDFium: (.*)\)\.?$", r"\1", detail).lower()
    return DocumentError(
        f"{path} is damaged: it could not be opened as a PDF ({reason}).",
        "The PDF is damaged and cannot be read.",
    )


def _poppler_pages(path: Path, password: str | None) -> int | None:
    command = ["pdfinfo", *(["-upw", password] if password else []), str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if "Invalid page count 0" in done.stderr:
        return 0
    found = re.search(r"^Pages:\s+(\d+)", done.stdout, re.MULTILINE)
    return int(found.group(1)) if found else None
