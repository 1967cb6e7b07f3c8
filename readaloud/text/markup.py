"""Turn markup (HTML, trafilatura's XML, Markdown) into the plain text readaloud speaks.

The output keeps the structure the segmenter reads from line breaks: blocks (paragraphs, headings,
quotes, table rows, code) are separated by a blank line, list items stand one per line after a
"- " or "1. " marker (the segmenter drops the dash and speaks the number), and a ``<br>`` stays a
single line break. Markup symbols are never spoken: no ``#``, ``*``, link targets or tags.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

import lxml.html
from lxml import etree
from markdown_it import MarkdownIt

__all__ = [
    "HTML_ROLES",
    "PAGE_ROLES",
    "TRAFILATURA_ROLES",
    "MarkdownText",
    "Role",
    "has_words",
    "html_to_text",
    "markdown_to_text",
    "page_to_text",
    "parse_html",
    "trafilatura_to_text",
]


class Role(enum.Enum):
    """What an element means for the listener."""

    INLINE = enum.auto()  # its text flows into the paragraph around it
    BLOCK = enum.auto()  # a paragraph of its own (or a container of paragraphs)
    PRE = enum.auto()  # a block whose line breaks are kept (code)
    LIST = enum.auto()
    ORDERED_LIST = enum.auto()
    ITEM = enum.auto()
    ROW = enum.auto()  # a table row: one paragraph, cells separated by commas
    CELL = enum.auto()
    BREAK = enum.auto()
    IMAGE = enum.auto()  # its alt text, where the caller keeps images
    SKIP = enum.auto()  # never read: scripts, styles, navigation, form controls


_HTML_BLOCKS = (
    *("address", "article", "blockquote", "body", "caption", "center", "dd", "details"),
    *("dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "form", "header"),
    *("hgroup", "hr", "html", "legend", "main", "p", "section", "summary", "table"),
    *("tbody", "tfoot", "thead", "h1", "h2", "h3", "h4", "h5", "h6"),
)
_HTML_SKIPPED = (
    *("head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object"),
    *("embed", "canvas", "audio", "video", "input", "button", "select", "option", "textarea"),
)
#: HTML as written by people and by markdown-it: everything worth hearing.
HTML_ROLES: Mapping[str, Role] = {
    **dict.fromkeys(_HTML_BLOCKS, Role.BLOCK),
    **dict.fromkeys(_HTML_SKIPPED, Role.SKIP),
    "pre": Role.PRE,
    "ul": Role.LIST,
    "menu": Role.LIST,
    "ol": Role.ORDERED_LIST,
    "li": Role.ITEM,
    "tr": Role.ROW,
    "td": Role.CELL,
    "th": Role.CELL,
    "br": Role.BREAK,
    "img": Role.IMAGE,
}
#: A whole page when trafilatura found no article: the visible text, less the site's chrome.
PAGE_ROLES: Mapping[str, Role] = {
    **HTML_ROLES,
    **dict.fromkeys(("nav", "footer", "aside"), Role.SKIP),
}
#: The XML tree trafilatura extracts (``Document.body``): head, p, list/item, quote, table...
TRAFILATURA_ROLES: Mapping[str, Role] = {
    **dict.fromkeys(("body", "doc", "main", "head", "p", "quote", "table", "div"), Role.BLOCK),
    "code": Role.INLINE,  # inline in a paragraph; a code block keeps its lines (see _role)
    "list": Role.LIST,
    "item": Role.ITEM,
    "row": Role.ROW,
    "cell": Role.CELL,
    "lb": Role.BREAK,
    "graphic": Role.SKIP,
}

_LIST_ROLES = (Role.LIST, Role.ORDERED_LIST)
_CHROME_ROLES = ("navigation", "contentinfo")  # ARIA names of <nav> and the page <footer>
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w")
_ENDS_PUNCTUATED = re.compile(r"[.,;:!?…]\s*$")
_INDENT = "  "  # per list level; an indented line continues the list item above it


def html_to_text(
    root: etree._Element, roles: Mapping[str, Role] = HTML_ROLES, *, image_text: bool = False
) -> str:
    """The speakable text of ``root`` and everything in it."""
    writer = _Writer(roles, image_text)
    writer.walk(root)
    return writer.text()


def trafilatura_to_text(body: etree._Element) -> str:
    return html_to_text(body, TRAFILATURA_ROLES)


def page_to_text(html: str) -> tuple[str | None, str]:
    """(title, visible text) of a page too short for trafilatura to find an article in."""
    root = parse_html(html)
    title = _SPACES.sub(" ", root.findtext(".//title") or "").strip() or None
    # Like a reader view: the article or main region when the page marks one, else the body.
    for path in ("//article", "//main", "//*[@role='main']", "//body"):
        found = root.xpath(path)
        if len(found) == 1:
            text = html_to_text(found[0], PAGE_ROLES)
            if has_words(text):
                return title, text
    return title, html_to_text(root, PAGE_ROLES)


def parse_html(html: str) -> lxml.html.HtmlElement:
    """A document tree for any HTML, from a whole page to a bare fragment or nothing at all."""
    # lxml refuses str input that still declares its byte encoding (XHTML's <?xml ...?>).
    html = re.sub(r"^(\s*<\?xml[^>]*>)+", "", html)
    if not html.strip():
        return lxml.html.document_fromstring("<html><body></body></html>")
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):  # markup that parses to nothing ("<![CDATA[")
        return lxml.html.document_fromstring("<html><body></body></html>")


@dataclass(frozen=True)
class MarkdownText:
    title: str | None  # the text of a level-1 heading that opens the document
    text: str


def markdown_to_text(source: str) -> MarkdownText:
    """Markdown read as speech: heading text without "#", link text without its target,
    emphasis without stars, images as their alt text, code as its text, one list item a line.
    """
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(source)
    root = parse_html(f"<html><body>{html}</body></html>")
    body = root.find("body")
    assert body is not None  # parse_html always builds one
    title = None
    if len(body) and body[0].tag == "h1" and not (body.text or "").strip():
        title = html_to_text(body[0]) or None
    return MarkdownText(title, html_to_text(body, image_text=True))


def has_words(text: str) -> bool:
    return _WORD.search(text) is not None


class _Writer:
    """Collects inline text into lines and lines into blocks, remembering list structure."""

    def __init__(self, roles: Mapping[str, Role], image_text: bool) -> None:
        self._roles = roles
        self._image_text = image_text
        self._blocks: list[tuple[str, int | None]] = []  # (text, list it belongs to, if any)
        self._inline: list[str] = []  # text of the block being written
        self._prefix = ""  # marker of the list item being written ("  - ", "2. ")
        self._item_indent = ""  # indentation of the item's own continuation lines
        self._lists: list[list[int]] = []  # next number of each open list; 0 for bullets
        self._pre = 0  # depth of <pre>: keep line breaks and spaces
        self._in_item = 0  # depth of list items being written
        self._list_count = 0  # outermost lists seen; items of one list share its number

    # -- tree walking ---------------------------------------------------------------------

    def walk(self, element: etree._Element) -> None:
        role = self._role(element)
        if role is Role.SKIP:
            pass
        elif role is Role.BREAK:
            self._inline.append("\n")
        elif role is Role.IMAGE:
            alt = element.get("alt", "").strip()
            if self._image_text and alt:
                self._add(alt)
        elif role is Role.INLINE:
            self._add(element.text)
            for child in element:
                self.walk(child)
        elif role is Role.CELL:
            self._add_cell_separator()
            self._add(element.text)
            for child in element:
                self.walk(child)
        elif role in _LIST_ROLES:
            self._walk_list(element, role)
        elif role is Role.ITEM:
            self._walk_item(element)
        else:  # BLOCK, PRE, ROW
            self._end_block()
            self._pre += role is Role.PRE
            self._add(element.text)
            for child in element:
                self.walk(child)
            self._end_block()
            self._pre -= role is Role.PRE
        self._add(element.tail)

    def _role(self, element: etree._Element) -> Role:
        if not isinstance(element.tag, str):
            return Role.SKIP  # comments and processing instructions: only their tail is text
        if (
            element.get("hidden") is not None
            or element.get("aria-hidden") == "true"
            or _HIDDEN_STYLE.search(element.get("style", ""))
            or (self._roles is PAGE_ROLES and element.get("role") in _CHROME_ROLES)
        ):
            return Role.SKIP
        # Not etree.QName: it raises on tag names the HTML parser accepts ("<d\\v", control
        # characters), and a page with one must still be read.
        local_name = element.tag.rpartition("}")[2].lower()
        role = self._roles.get(local_name, Role.INLINE)
        if self._roles is TRAFILATURA_ROLES:
            if role is Role.LIST and element.get("rend") == "ol":
                return Role.ORDERED_LIST
            if element.tag == "code" and "\n" in "".join(element.itertext()):
                return Role.PRE  # trafilatura writes <pre> as <code>, with its line breaks
        return role

    def _walk_list(self, element: etree._Element, role: Role) -> None:
        self._end_block()
        start = element.get("start", "1")
        counter = int(start) if role is Role.ORDERED_LIST and start.isdigit() else 0
        if not self._lists:
            self._list_count += 1
        self._lists.append([counter])
        self._add(element.text)  # stray text in a list still gets read
        for child in element:
            self.walk(child)
        self._end_block()
        self._lists.pop()

    def _walk_item(self, element: etree._Element) -> None:
        self._end_block()
        depth = max(len(self._lists), 1)
        indent = _INDENT * (depth - 1)
        counter = self._lists[-1] if self._lists else [0]
        if counter[0]:
            marker = f"{counter[0]}. "
            counter[0] += 1
        else:
            marker = "- "
        saved = self._prefix, self._item_indent
        self._prefix, self._item_indent = indent + marker, indent + _INDENT
        self._in_item += 1
        self._add(element.text)
        for child in element:
            self.walk(child)
        self._end_block()
        self._in_item -= 1
        self._prefix, self._item_indent = saved

    # -- text -------------------------------------------------------------------------------

    def _add(self, text: str | None) -> None:
        if not text:
            return
        if not self._pre:
            text = _SPACES.sub(" ", text)
        self._inline.append(text)

    def _add_cell_separator(self) -> None:
        written = "".join(self._inline).rstrip()
        self._inline[:] = [written]
        if written and not _ENDS_PUNCTUATED.search(written):
            self._inline.append(", ")
        elif written:
            self._inline.append(" ")

    def _end_block(self) -> None:
        raw = "".join(self._inline)
        self._inline.clear()
        lines = [line.strip() if not self._pre else line.rstrip() for line in raw.split("\n")]
        lines = _squeeze_blank_lines(lines)
        if not any(line.strip() for line in lines):
            return
        if self._in_item:
            # A blank line would end the list; the item's other lines are indented to continue it.
            first, *rest = [line for line in lines if line]
            continuation = self._item_indent
            lines = [self._prefix + first] + [continuation + line for line in rest]
            self._prefix = continuation  # what follows a nested list still belongs to the item
            self._blocks.append(("\n".join(lines), self._list_count))
        else:
            self._blocks.append(("\n".join(lines), None))

    def text(self) -> str:
        self._end_block()
        parts: list[str] = []
        previous: int | None = None
        for index, (block, in_list) in enumerate(self._blocks):
            if index:
                parts.append("\n" if in_list is not None and in_list == previous else "\n\n")
            parts.append(block)
            previous = in_list
        return "".join(parts)


def _squeeze_blank_lines(lines: list[str]) -> list[str]:
    """No blank lines at either end, and at most one in a row (two <br> start a paragraph)."""
    squeezed: list[str] = []
    for line in lines:
        if line.strip() or (squeezed and squeezed[-1].strip()):
            squeezed.append(line if line.strip() else "")
    while squeezed and not squeezed[-1]:
        squeezed.pop()
    return squeezed
