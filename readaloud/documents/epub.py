"""EPUB 2 and 3, read from the zip with lxml: the spine in order, chapter titles from the
navigation document (EPUB 3) or the NCX (EPUB 2), no cover or table of contents read out.

ebooklib would do the zip and the package file, but is AGPL-licensed and reads every file of the
book when it opens; what is needed here is a hundred lines of the EPUB standard.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urldefrag

from lxml import etree

from readaloud.documents.model import Chapter, Document, DocumentError, Part
from readaloud.text.extract import decode_html
from readaloud.text.markup import has_words, page_to_text

KIND = "an EPUB e-book"
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "enc": "http://www.w3.org/2001/04/xmlenc#",
}
# Font obfuscation (IDPF and Adobe) is "encryption" every shop applies to fonts; it is not DRM.
_FONT_OBFUSCATION = {
    "http://www.idpf.org/2008/embedding",
    "http://ns.adobe.com/pdf/enc#RC",
}
#: One chapter file read at most (an XHTML file this size is a broken book).
_MAX_FILE_BYTES = 64 * 1024 * 1024
_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=True)


def open_epub(path: Path, archive: zipfile.ZipFile) -> Document:
    names = set(archive.namelist())
    if "META-INF/container.xml" not in names:
        raise DocumentError(
            f"{path} is a ZIP archive, not an EPUB e-book (it has no META-INF/container.xml).",
            "This is a ZIP archive, not an e-book.",
        )
    _refuse_drm(path, archive, names)
    try:
        container = _xml(archive, "META-INF/container.xml")
        package_path = container.xpath("//c:rootfile/@full-path", namespaces=_NS)[0]
        package = _xml(archive, package_path)
    except (KeyError, IndexError, etree.XMLSyntaxError):
        raise _damaged(path, "its package file is missing") from None
    base = posixpath.dirname(package_path)
    manifest = {
        item.get("id"): item
        for item in package.xpath("//opf:manifest/opf:item", namespaces=_NS)
        if item.get("id") and item.get("href")
    }

    def href(item: etree._Element) -> str:
        return posixpath.normpath(posixpath.join(base, unquote(item.get("href", ""))))

    skipped = {
        href(item)
        for item in manifest.values()
        if {"nav", "cover-image"} & set((item.get("properties") or "").split())
    }
    files = []
    for ref in package.xpath("//opf:spine/opf:itemref", namespaces=_NS):
        item = manifest.get(ref.get("idref"))
        if item is None or ref.get("linear") == "no":
            continue
        name = href(item)
        if name not in skipped and name in names:
            files.append(name)
    if not files:
        raise _damaged(path, "its spine lists no chapter files")
    titles = _toc(archive, package, manifest, href)
    chapters: list[Chapter] = []
    for title, target in titles:
        if target in files and all(chapter.part != files.index(target) for chapter in chapters):
            chapters.append(Chapter(title, files.index(target)))
    chapters.sort(key=lambda chapter: chapter.part)
    return Document(
        source=str(path),
        kind=KIND,
        reader=EpubFiles(archive, files, chapters),
        cover=_cover(archive, package, manifest, href),
        title=_first(package, "//opf:metadata/dc:title"),
        author=_first(package, "//opf:metadata/dc:creator"),
        chapters=chapters,
        part_count=len(files),
    )


class EpubFiles:
    def __init__(self, archive: zipfile.ZipFile, files: list[str], chapters: list[Chapter]):
        self.archive = archive
        self.files = files
        self.chapter_at = {chapter.part: n for n, chapter in enumerate(chapters, start=1)}

    def parts(self, start: int) -> Iterator[Part]:
        for index in range(start, len(self.files)):
            text = _file_text(self.archive, self.files[index])
            chapter = self.chapter_at.get(index)
            if text or chapter is not None:
                yield Part(text, chapter=chapter)

    def close(self) -> None:
        self.archive.close()


def _file_text(archive: zipfile.ZipFile, name: str) -> str:
    info = archive.getinfo(name)
    if info.file_size > _MAX_FILE_BYTES:
        return "A chapter file of this book is too large to read."
    try:
        data = archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
        return "A chapter of this book is damaged and could not be read."
    _, text = page_to_text(decode_html(data))
    return text if has_words(text) else ""


def _toc(archive, package, manifest, href) -> list[tuple[str, str]]:
    """(title, file) of the top-level entries of the table of contents."""
    for item in manifest.values():
        if "nav" in (item.get("properties") or "").split():
            try:
                nav = _xml(archive, href(item))
            except (KeyError, etree.XMLSyntaxError):
                break
            base = posixpath.dirname(href(item))
            links = nav.xpath("//x:nav[@epub:type='toc']/x:ol/x:li/x:a", namespaces=_NS)
            return [(_text(a), _target(base, a.get("href", ""))) for a in links if a.get("href")]
    spine = package.xpath("//opf:spine/@toc", namespaces=_NS)
    ncx = manifest.get(spine[0]) if spine else None
    if ncx is None:
        return []
    try:
        tree = _xml(archive, href(ncx))
    except (KeyError, etree.XMLSyntaxError):
        return []
    base = posixpath.dirname(href(ncx))
    return [
        (
            " ".join(
                " ".join(point.xpath("ncx:navLabel/ncx:text//text()", namespaces=_NS)).split()
            ),
            _target(base, (point.xpath("ncx:content/@src", namespaces=_NS) or [""])[0]),
        )
        for point in tree.xpath("//ncx:navMap/ncx:navPoint", namespaces=_NS)
    ]


def _cover(archive, package, manifest, href) -> bytes | None:
    """The cover image: the item marked cover-image (EPUB 3), else the one <meta name="cover">
    names (EPUB 2)."""
    marked = [i for i in manifest.values() if "cover-image" in (i.get("properties") or "").split()]
    named = package.xpath("//opf:metadata/opf:meta[@name='cover']/@content", namespaces=_NS)
    item = marked[0] if marked else manifest.get(named[0]) if named else None
    if item is None or not (item.get("media-type") or "").startswith("image/"):
        return None
    try:
        info = archive.getinfo(href(item))
        return archive.read(info) if info.file_size <= _MAX_FILE_BYTES else None
    except (KeyError, zipfile.BadZipFile, OSError):
        return None


def _target(base: str, link: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(urldefrag(link)[0])))


def _text(element: etree._Element) -> str:
    return " ".join(" ".join(element.itertext()).split())


def _first(package: etree._Element, path: str) -> str | None:
    found = package.xpath(path, namespaces=_NS)
    return _text(found[0]) or None if found else None


def _xml(archive: zipfile.ZipFile, name: str) -> etree._Element:
    root = etree.fromstring(archive.read(name), _PARSER)
    if root is None:
        raise etree.XMLSyntaxError("empty", None, 0, 0)
    return root


def _refuse_drm(path: Path, archive: zipfile.ZipFile, names: set[str]) -> None:
    protected = "META-INF/rights.xml" in names  # Adobe ADEPT's licence
    if "META-INF/encryption.xml" in names:
        try:
            encryption = _xml(archive, "META-INF/encryption.xml")
        except (KeyError, etree.XMLSyntaxError):
            encryption = None
        if encryption is not None:
            methods = set(encryption.xpath("//enc:EncryptionMethod/@Algorithm", namespaces=_NS))
            protected = protected or bool(methods - _FONT_OBFUSCATION)
    if protected:
        raise DocumentError(
            f"{path} is protected by DRM: its text is encrypted for one reading app. "
            "Open it in the app it was bought for, or get a DRM-free copy.",
            "This e-book is protected by DRM and cannot be read.",
        )


def _damaged(path: Path, why: str) -> DocumentError:
    return DocumentError(f"{path} is a damaged EPUB: {why}.", "The e-book is damaged.")
