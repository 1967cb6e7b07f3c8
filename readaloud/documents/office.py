"""Word (DOCX, through python-docx) and OpenDocument text (ODT, its content.xml read with lxml):
headings, paragraphs, list items and tables row by row, in the order they stand.

odfpy offers nothing over reading content.xml for this: the text is in document order there.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from readaloud.documents.model import Chapter, Document, DocumentError, ListReader, Part

DOCX_KIND = "a Word document"
ODT_KIND = "an OpenDocument text"
_ODF = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class _Builder:
    """Blocks in order, cut into chapters at each top-level heading."""

    def __init__(self) -> None:
        self.chapters: list[Chapter] = []
        self.parts: list[list[str]] = [[]]
        self.list_open = False

    def heading(self, text: str, level: int) -> None:
        if level == 1 and text:
            if any(self.parts[-1]):
                self.parts.append([])
            self.chapters.append(Chapter(text, len(self.parts) - 1))
        self.block(text)

    def block(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.parts[-1].append(text)
            self.list_open = False

    def item(self, text: str) -> None:
        """A list item: a line of its own after a "- " (as ``text/markup.py`` writes them, for
        the segmenter), the list a paragraph."""
        text = " ".join(text.split())
        if not text:
            return
        text = f"- {text}"
        if self.list_open:
            self.parts[-1][-1] += "\n" + text
        else:
            self.parts[-1].append(text)
            self.list_open = True

    def document(self, path: Path, kind: str, title: str | None, author: str | None) -> Document:
        starts = {chapter.part: n for n, chapter in enumerate(self.chapters, start=1)}
        parts = [
            Part("\n\n".join(blocks), chapter=starts.get(index))
            for index, blocks in enumerate(self.parts)
            if blocks
        ]
        return Document(
            source=str(path),
            kind=kind,
            reader=ListReader(parts),
            title=title or None,
            author=author or None,
            chapters=self.chapters,
            part_count=len(parts),
        )


# -- DOCX ------------------------------------------------------------------------------------


def open_docx(path: Path) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError, ValueError):
        raise DocumentError(
            f"{path} is a damaged Word document: it could not be opened.",
            "The Word document is damaged.",
        ) from None
    built = _Builder()
    notes = _docx_notes(document)
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in _docx_rows(block):
                built.block(row)
            continue
        style = (block.style.name if block.style is not None else "") or ""
        text = block.text + "".join(
            f" (Note: {notes[ref]})"
            for ref in block._p.xpath(".//w:footnoteReference/@w:id")
            if notes.get(ref)
        )
        if style == "Title":
            built.heading(text, 0)
        elif style.startswith("Heading"):
            level = style.removeprefix("Heading").strip()
            built.heading(text, int(level) if level.isdigit() else 2)
        elif (
            style.startswith("List") or block._p.pPr is not None and block._p.pPr.numPr is not None
        ):
            built.item(text)
        else:
            built.block(text)
    properties = document.core_properties
    return built.document(path, DOCX_KIND, properties.title, properties.author)


def _docx_notes(document) -> dict[str, str]:
    """Footnote id → its text (python-docx reads no footnotes: their part is read here)."""
    for part in document.part.package.iter_parts():
        if str(part.partname) == "/word/footnotes.xml":
            try:
                root = etree.fromstring(part.blob, _PARSER)
            except etree.XMLSyntaxError:
                return {}
            w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
            return {
                note.get(f"{w}id", ""): " ".join("".join(note.itertext()).split())
                for note in root.iter(f"{w}footnote")
                if note.get(f"{w}type") is None  # not the separators
            }
    return {}


def _docx_rows(table) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):  # a merged cell repeats its text
                cells.append(text)
        if cells:
            yield ", ".join(cells) + "."


# -- ODT -------------------------------------------------------------------------------------


def open_odt(path: Path, archive: zipfile.ZipFile) -> Document:
    try:
        content = etree.fromstring(archive.read("content.xml"), _PARSER)
    except (KeyError, etree.XMLSyntaxError, zipfile.BadZipFile):
        raise DocumentError(
            f"{path} is a damaged OpenDocument text: its content.xml could not be read.",
            "The document is damaged.",
        ) from None
    title = author = None
    try:
        meta = etree.fromstring(archive.read("meta.xml"), _PARSER)
        title = _odf_text_of(meta.find(".//dc:title", _ODF))
        creator = meta.find(".//dc:creator", _ODF)
        author = _odf_text_of(
            creator if creator is not None else meta.find(".//meta:initial-creator", _ODF)
        )
    except (KeyError, etree.XMLSyntaxError):
        pass
    built = _Builder()
    body = content.find(".//office:body/office:text", _ODF)
    if body is not None:
        _odt_walk(body, built)
    return built.document(path, ODT_KIND, title, author)


def _odt_walk(element: etree._Element, built: _Builder) -> None:
    for child in element:
        tag = etree.QName(child).localname if isinstance(child.tag, str) else ""
        if tag == "h":
            built.heading(_odf_text(child), int(child.get(f"{{{_ODF['text']}}}outline-level", 2)))
        elif tag == "p":
            built.block(_odf_text(child))
        elif tag == "list":
            for item in child.iter(f"{{{_ODF['text']}}}list-item"):
                for paragraph in item.findall("text:p", _ODF) + item.findall("text:h", _ODF):
                    built.item(_odf_text(paragraph))
        elif tag == "table":
            for row in child.iter(f"{{{_ODF['table']}}}table-row"):
                cells = [_odf_text(cell) for cell in row.findall("table:table-cell", _ODF)]
                cells = [" ".join(cell.split()) for cell in cells if cell.strip()]
                if cells:
                    built.block(", ".join(cells) + ".")
        elif tag == "section":  # a table of contents or an index is not read
            _odt_walk(child, built)


def _odf_text(element: etree._Element) -> str:
    """Text of a paragraph: <text:s/> is spaces, <text:tab/> and <text:line-break/> a space,
    notes (<text:note>) read after the paragraph."""
    out: list[str] = []
    notes: list[str] = []

    def walk(node: etree._Element) -> None:
        if node.text:
            out.append(node.text)
        for child in node:
            name = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if name in ("s", "tab", "line-break"):
                out.append(" ")
            elif name == "note":
                body = child.find("text:note-body", _ODF)
                if body is not None:
                    notes.append(" ".join("".join(body.itertext()).split()))
            else:
                walk(child)
            if child.tail:
                out.append(child.tail)

    walk(element)
    text = "".join(out)
    return " ".join([text, *(f"(Note: {note})" for note in notes if note)])


def _odf_text_of(element: etree._Element | None) -> str | None:
    return " ".join("".join(element.itertext()).split()) or None if element is not None else None
