"""What to read from a web page or a file: its title, then its main text, as plain lines.

    from_html(html, url=None) -> Document   the page HTML the browser extension sends
    from_file(path) -> Document             .txt/.text, .md/.markdown, .html/.htm, or sniffed
    fetch.fetch_url(url) -> Document        a web page (readaloud.text.fetch)

Web pages go through trafilatura, which keeps the article and drops navigation, comments and
footers; a page too short for it falls back to its visible text. Every error is one line a person
can act on, with a shorter ``spoken`` phrase for when nobody can see the screen.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer
import trafilatura

from readaloud.errors import BadInput
from readaloud.text import sources
from readaloud.text.markup import (
    has_words,
    markdown_to_text,
    page_to_text,
    trafilatura_to_text,
)

__all__ = [
    "MAX_HTML_BYTES",
    "Document",
    "NoReadableText",
    "NotReadable",
    "TooLarge",
    "binary_kind",
    "decode_html",
    "from_file",
    "from_html",
    "from_markdown",
    "from_text",
    "looks_like_html",
]

#: What readaloud reads, for the messages about what it cannot (``readaloud.documents``).
READABLE = "PDF, EPUB, Word .docx, OpenDocument .odt, text, Markdown or HTML"
#: The most HTML one page or file may hold; pages are much bigger than the text they carry.
MAX_HTML_BYTES = 5_000_000

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
# Formats a user may well try to read, named as they know them. All are binary or markup that
# would be read as noise; their magic bytes alone would only say "a ZIP archive".
_UNREADABLE_SUFFIXES = {
    ".pdf": "a PDF",
    ".doc": "a Word document",
    ".docx": "a Word document",
    ".odt": "an OpenDocument text",
    ".rtf": "an RTF document",
    ".epub": "an EPUB e-book",
    ".mobi": "a Kindle e-book",
    ".xls": "a spreadsheet",
    ".xlsx": "a spreadsheet",
    ".ods": "a spreadsheet",
    ".ppt": "a presentation",
    ".pptx": "a presentation",
    ".odp": "a presentation",
}
# Magic numbers at the start of a file: what it is, in words a listener knows.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document"),
    (b"{\\rtf", "an RTF document"),
    # Magic that is also plain ASCII includes the binary byte after it, so that a text file
    # starting "ID3 tags..." is still read.
    (b"ID3\x02\x00", "an MP3 audio file"),
    (b"ID3\x03\x00", "an MP3 audio file"),
    (b"ID3\x04\x00", "an MP3 audio file"),
    (b"OggS\x00", "an Ogg audio file"),
    (b"fLaC\x00", "a FLAC audio file"),
    (b"\x1aE\xdf\xa3", "a video"),
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SNIFF_BYTES = 8192
# <meta charset="x">, <meta http-equiv="Content-Type" content="text/html; charset=x">, and the
# XML declaration of XHTML: the HTML standard's pre-scan looks at the first 1024 bytes; allow more.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:+-]+)", re.IGNORECASE)
_LOOKS_LIKE_HTML = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|\?xml)", re.IGNORECASE | re.DOTALL
)
_WHOLE_DOCUMENT = re.compile(r"<(?:html|body)[\s>]", re.IGNORECASE)
# trafilatura's MIN_EXTRACTED_SIZE: below it, its result comes from a cruder rescue pass.
_SHORT_PAGE_CHARS = 250
_CHROME = ["//nav", "//footer", "//*[@role='navigation' or @role='contentinfo']"]
_WORDS = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Document:
    """Text ready for the segmenter: the title as its own paragraph, then the main text."""

    title: str | None
    text: str
    source: str  # the URL or file path it came from, for logs and messages


class NoReadableText(BadInput):
    """The page or file holds no words: only images, scripts, or nothing at all."""

    spoken = "No readable text found."


class NotReadable(BadInput):
    """A PDF, an image, a program...: not a page or text readaloud can read."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # "a PDF", "a PNG image", ...
        self.spoken = f"This is {kind}, which readaloud cannot read."


class TooLarge(BadInput):
    """A page or file bigger than readaloud reads at once."""

    spoken = "The page or file is too large to read."


# -- web pages -------------------------------------------------------------------------------


def from_html(html: str, url: str | None = None) -> Document:
    """The title and main text of a page, as a browser sees it or as it was fetched."""
    source = url or "the page"
    if not _WHOLE_DOCUMENT.search(html):
        # trafilatura finds nothing in a bare fragment such as "<p>...</p>".
        html = f"<html><body>{html}</body></html>"
    title, body = _main_text(html, url)
    if not has_words(body):
        raise NoReadableText("No readable text found on the page.")
    return Document(title, _with_title(title, body), source)


def _main_text(html: str, url: str | None) -> tuple[str | None, str]:
    found = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=True,  # keeps <b>, <i> inline; without it short pages get line breaks
        # On a short page trafilatura keeps everything, menus included; a listener never
        # wants the menu or the page footer read out.
        prune_xpath=_CHROME,
    )
    assert not isinstance(found, dict)  # a dict only with as_dict=True
    title = _clean_title(found.title) if found is not None else None
    body = trafilatura_to_text(found.body) if found is not None and found.body is not None else ""
    if len(body) >= _SHORT_PAGE_CHARS:
        return title, body
    # A short page (a notice, a login wall, a fragment) is below trafilatura's threshold for an
    # article, and what it then returns has lost its inline spacing ("sentence , and"): read
    # what a sighted reader sees instead, less scripts, navigation and footer.
    page_title, page_body = page_to_text(html)
    if has_words(page_body):
        return title or page_title, page_body
    return title or page_title, body


def _clean_title(title: str | None) -> str | None:
    cleaned = _SPACES.sub(" ", title or "").strip()
    return cleaned or None


def _with_title(title: str | None, body: str) -> str:
    """Title first, unless the text already opens with it (an <h1> that repeats the title)."""
    if not title:
        return body
    title_words = _words(title)
    first_words = _words(body.split("\n\n", 1)[0])
    opens_with_title = first_words[: len(title_words)] == title_words
    # "The Quiet Lighthouse" as heading, "The Quiet Lighthouse | Coast News" as title.
    heading_in_title = len(first_words) <= 20 and _contains(title_words, first_words)
    if opens_with_title or heading_in_title:
        return body
    return f"{title}\n\n{body}"


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.casefold())


def _contains(words: list[str], part: list[str]) -> bool:
    return bool(part) and any(
        words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1)
    )


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Page bytes to text: a byte-order mark, else the charset the server declared, else the one
    the page declares, else UTF-8, else charset-normalizer's guess; never fails."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    head = data[:_SNIFF_BYTES]
    meta = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    for label in (declared, meta.group(1).decode("ascii") if meta else None):
        codec = _codec(label)
        if codec is not None:
            return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    guess = charset_normalizer.from_bytes(data).best()
    return data.decode(guess.encoding if guess else "utf-8", errors="replace")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    # Browsers read pages labelled Latin-1 or ASCII as Windows-1252 (the HTML standard says so),
    # and pages rely on it for curly quotes and dashes.
    if name in ("iso8859-1", "ascii"):
        return "cp1252"
    # A page that reached us as bytes cannot really be UTF-16 when its <meta> said so in ASCII.
    if name.startswith(("utf-16", "utf-32")):
        return None
    return name


# -- files -----------------------------------------------------------------------------------


def from_file(path: Path | str) -> Document:
    """Read a text, Markdown or HTML file, by its extension, else by what its content looks like."""
    path = Path(path)
    suffix = path.suffix.lower()
    data = _read_bytes(path)
    kind = _UNREADABLE_SUFFIXES.get(suffix) or binary_kind(data)
    if kind is not None:
        raise _not_readable_file(path, kind)
    origin = f"File {path}"
    known_text = suffix in TEXT_SUFFIXES or suffix in MARKDOWN_SUFFIXES
    if suffix in HTML_SUFFIXES or (not known_text and looks_like_html(data)):
        if len(data) > MAX_HTML_BYTES:
            raise TooLarge(
                f"{path} holds more than {MAX_HTML_BYTES // 1_000_000} MB of HTML, "
                f"more than readaloud reads at once. Split it or save only the article."
            )
        try:
            document = from_html(decode_html(data), url=None)
        except NoReadableText:
            raise NoReadableText(f"No readable text found in {path}.") from None
        return Document(document.title, document.text, str(path))
    # The same rules, cap and messages as `readaloud text FILE`.
    text = sources.decode(data[: sources.MAX_TEXT_BYTES + 1], origin)
    if suffix in MARKDOWN_SUFFIXES:
        return from_markdown(text, str(path))
    return from_text(text, str(path))


def from_markdown(markdown: str, source: str) -> Document:
    """Markdown read as speech: no "#", stars or link targets; code and image alt text kept."""
    rendered = markdown_to_text(markdown)
    if not has_words(rendered.text):
        raise NoReadableText(f"No readable text found in {source}.")
    return Document(rendered.title, rendered.text, source)


def from_text(text: str, source: str) -> Document:
    """Plain text is read as it is: its line structure already means what the segmenter expects."""
    if not has_words(text):
        raise NoReadableText(f"No readable text found in {source}.")
    return Document(None, text, source)


def binary_kind(data: bytes) -> str | None:
    """What a non-text file is ("a PDF", "a PNG image", "a binary file"), or None for text."""
    head = data[:_SNIFF_BYTES]
    if head.lstrip().startswith(b"%PDF-"):  # some servers put a newline before "%PDF"
        return "a PDF"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:2] == b"\x00\x00" and head[4:8] == b"ftyp":  # MP4, MOV, HEIC: a box size, "ftyp"
        return "a video"
    if head.startswith(b"RIFF") and head[8:12] in (b"WAVE", b"AVI ", b"WEBP"):
        return {b"WAVE": "a WAV audio file", b"AVI ": "a video", b"WEBP": "a WebP image"}[
            head[8:12]
        ]
    if b"\x00" in head and not head.startswith(tuple(bom for bom, _ in _BOMS)):
        return "a binary file"
    return None


def looks_like_html(data: bytes) -> bool:
    """Whether untyped bytes start like an HTML document (a doctype, <html>, <head> or <body>)."""
    return _LOOKS_LIKE_HTML.match(data[:_SNIFF_BYTES]) is not None


def _not_readable_file(path: Path, kind: str) -> NotReadable:
    return NotReadable(
        f"{path} is {kind}, not a document readaloud can read ({READABLE}).", kind
    )


def _read_bytes(path: Path) -> bytes:
    # One byte past the larger cap, so an oversized file is reported instead of silently cut.
    limit = max(MAX_HTML_BYTES, sources.MAX_TEXT_BYTES) + 1
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except FileNotFoundError:
        raise BadInput(f"File {path} does not exist.") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a folder; give a text, Markdown or HTML file.") from None
    except PermissionError:
        raise BadInput(f"Cannot read {path}: permission denied.") from None
    except OSError as error:
        raise BadInput(f"Cannot read {path}: {error.strerror}.") from None
