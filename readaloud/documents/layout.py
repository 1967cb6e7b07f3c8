"""A PDF page's words, lines and blocks (as Poppler lays them out) turned into the text a
listener wants: running headers, footers and page numbers left out, footnotes apart from the
sentence they interrupt, words hyphenated at line ends joined, ligatures as letters.

Poppler (``pdftotext -bbox-layout``) finds the reading order across columns and groups lines into
blocks; what it leaves to us is knowing which block is page furniture and which is a note: that
needs the page's geometry and its neighbours, done here by hand because no library does it.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass

#: A block within this share of the page's height from its top or bottom may be a running
#: header or footer.
MARGIN_SHARE = 0.1
#: Words much smaller than their line are footnote markers (superscripts), not words to read.
_SUPERSCRIPT_SHARE = 0.8
#: A block in the lower part of the page set smaller than the body text is a footnote.
_FOOTNOTE_SHARE = 0.9
_FOOTNOTE_ZONE = 0.55
#: The gap between columns is at least this many points.
_MIN_GUTTER = 6.0
_MARKERS = re.compile(r"^[\d*†‡§¶]+$")
_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(?:(?:page|p\.|seite|página|pagina)\s*)?(?:\d+|[ivxlcdm]+)"
    r"(?:\s*(?:of|/|von|de|di)\s*\d+)?[-–—\s]*$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_LIGATURES = str.maketrans(
    {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\ufffe\u200b"), None)  # soft hyphens, PDFium marks
_SENTENCE_END = re.compile(r"[.!?:;…\"'”’»)\]]\s*$")


@dataclass(frozen=True)
class Word:
    text: str
    top: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Block:
    lines: tuple[tuple[Word, ...], ...]
    top: float
    bottom: float
    left: float = 0.0
    right: float = 0.0

    @property
    def height(self) -> float:
        """The typical height of its words: the size its text is set in."""
        heights = [word.height for line in self.lines for word in line]
        return statistics.median(heights) if heights else 0.0

    def text(self) -> str:
        return join_lines([_line_text(line) for line in self.lines])


@dataclass(frozen=True)
class Page:
    number: int  # from 1
    height: float
    blocks: tuple[Block, ...]

    def margin_blocks(self) -> list[Block]:
        edge = self.height * MARGIN_SHARE
        return [b for b in self.blocks if b.top <= edge or b.bottom >= self.height - edge]


@dataclass(frozen=True)
class PageText:
    body: list[str]  # paragraphs in reading order
    notes: list[str]  # footnotes, to be read after the paragraph they interrupt


def page_text(page: Page, neighbours: list[Page]) -> PageText:
    """The paragraphs and footnotes of ``page``, less what repeats in the neighbours' margins."""
    furniture = {_shape(b) for other in neighbours for b in other.margin_blocks()}
    margin = {id(b) for b in page.margin_blocks()}
    kept = [
        b
        for b in page.blocks
        if not (id(b) in margin and (_is_page_number(b) or _shape(b) in furniture))
    ]
    kept = reading_order(kept)
    body_size = _body_size(kept)
    body: list[str] = []
    notes: list[str] = []
    marker = ""  # a footnote's number, when Poppler made a block of it alone
    for block in kept:
        if _is_footnote(block, page, body_size):
            text = _words(block)
            if _MARKERS.match(text):
                marker = text
            else:
                notes.append(_note_text(f"{marker} {text}" if marker else text))
                marker = ""
        else:
            text = block.text()
            if text:
                body.append(text)
    return PageText(_joined_paragraphs(body), notes)


def reading_order(blocks: list[Block]) -> list[Block]:
    """Blocks as a reader takes them: column by column, between the blocks that span the
    columns (a title, a wide figure, a footnote across the page), each run top to bottom.

    Poppler sorts paragraph blocks of neighbouring columns by their height on the page when
    both columns have paragraph breaks, which reads two columns in alternation.
    """
    if len(blocks) < 2:
        return blocks
    gutters = _gutters(blocks)
    if not gutters:
        return sorted(blocks, key=lambda b: b.top)

    def spans(block: Block) -> bool:
        return any(
            min(block.right, end) - max(block.left, start) > _MIN_GUTTER / 2
            for start, end in gutters
        )

    def column(block: Block) -> int:
        centre = (block.left + block.right) / 2
        return sum(1 for start, _ in gutters if centre > start)

    wide = sorted((b for b in blocks if spans(b)), key=lambda b: b.top)
    narrow = [b for b in blocks if not spans(b)]
    ordered: list[Block] = []
    for separator in [*wide, None]:
        limit = separator.top if separator is not None else float("inf")
        band = [b for b in narrow if (b.top + b.bottom) / 2 < limit]
        narrow = [b for b in narrow if (b.top + b.bottom) / 2 >= limit]
        ordered += sorted(band, key=lambda b: (column(b), b.top))
        if separator is not None:
            ordered.append(separator)
    return ordered


def _gutters(blocks: list[Block]) -> list[tuple[float, float]]:
    """The empty vertical strips between columns: x ranges that (almost) no line crosses, with
    text on both sides. A centred title or page number may cross one; a paragraph does not."""
    left = int(min(b.left for b in blocks))
    right = int(max(b.right for b in blocks)) + 1
    lines = [(b.left, b.right) for b in blocks for _ in b.lines]
    crossing = [0] * (right - left)
    for start, end in lines:
        for x in range(int(start) - left, int(end) - left):
            crossing[x] += 1
    allowed = max(1, len(lines) // 10)
    gutters: list[tuple[float, float]] = []
    run_start = None
    for x, count in enumerate(crossing):
        if count <= allowed and run_start is None:
            run_start = x
        elif count > allowed and run_start is not None:
            if x - run_start >= _MIN_GUTTER and run_start > 0:
                gutters.append((left + run_start, left + x))
            run_start = None
    return gutters


def clean(text: str) -> str:
    """Ligatures as letters; soft hyphens and markers dropped."""
    return text.translate(_INVISIBLE).translate(_LIGATURES)


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one: a word hyphenated at a line end is joined again."""
    out = ""
    for line in (clean(line).strip() for line in lines):
        if not line:
            continue
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return out


def ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text))


def continues(previous: str, following: str) -> bool:
    """Whether ``following`` goes on with the sentence ``previous`` left open (a column, page
    or block break inside a sentence), rather than starting a paragraph of its own."""
    head = following.lstrip()[:1]
    return bool(previous) and not ends_sentence(previous) and (head.islower() or head.isdigit())


def _joined_paragraphs(blocks: list[str]) -> list[str]:
    paragraphs: list[str] = []
    for text in blocks:
        if paragraphs and continues(paragraphs[-1], text):
            paragraphs[-1] = join_lines([paragraphs[-1], text])
        else:
            paragraphs.append(text)
    return paragraphs


def _line_text(line: tuple[Word, ...]) -> str:
    size = statistics.median(word.height for word in line)
    words = [
        w.text
        for w in line
        if not (w.height < size * _SUPERSCRIPT_SHARE and _MARKERS.match(w.text))
    ]
    return " ".join(words)


def _note_text(text: str) -> str:
    marker, _, rest = text.partition(" ")
    if _MARKERS.match(marker) and rest:
        return f"Note {marker}: {rest}"
    return f"Note: {text}"


def _body_size(blocks: list[Block]) -> float:
    heights = [w.height for b in blocks for line in b.lines for w in line]
    return statistics.median(heights) if heights else 0.0


def _is_footnote(block: Block, page: Page, body_size: float) -> bool:
    return (
        block.top >= page.height * _FOOTNOTE_ZONE
        and body_size > 0
        and block.height < body_size * _FOOTNOTE_SHARE
    )


def _is_page_number(block: Block) -> bool:
    return bool(_PAGE_NUMBER.match(_words(block)))


def _shape(block: Block) -> str:
    """A header's text with its numbers masked: "Chapter 2 · 14" and "Chapter 2 · 15" match."""
    return _DIGITS.sub("#", _words(block)).casefold()


def _words(block: Block) -> str:
    return join_lines([" ".join(w.text for w in line) for line in block.lines])
