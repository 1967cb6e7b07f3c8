"""Real documents made by real tools for the tests: PDFs typeset by groff (two columns, running
headers, page numbers, footnotes, hyphenation, an outline), EPUB, DOCX and ODT written by pandoc,
and scanned pages made by pdftoppm and img2pdf. Their text is numbered sentences, so a test can
check the reading order and that every word is there."""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

WORDS = [
    "the",
    "lighthouse",
    "keeper",
    "walked",
    "along",
    "the",
    "international",
    "shore",
    "carefully",
    "remembering",
    "extraordinary",
    "storms",
    "while",
    "seabirds",
    "circled",
    "above",
    "quiet",
    "harbour",
    "boats",
    "waiting",
    "patiently",
    "for",
    "morning",
    "light",
    "over",
    "the",
    "grey",
    "water",
]
TITLE = "Harbour Notes"
AUTHOR = "Ann Author"
#: Its "ffi", "fi" and "fl" are set as ligatures.
FOOTNOTE = "The official flight office kept the keeper's lamp."
_NUMBERED = re.compile(r"Sentence(\d+)")


@dataclass(frozen=True)
class Book:
    """The text a document was made from: chapters of paragraphs of sentences."""

    chapters: list[tuple[str, list[list[str]]]]

    @property
    def sentences(self) -> list[str]:
        return [s for _, paragraphs in self.chapters for p in paragraphs for s in p]

    @property
    def words(self) -> list[str]:
        return words_of(" ".join(self.sentences))


def book(chapters: int = 3, paragraphs: int = 6, sentences: int = 4, seed: int = 1) -> Book:
    rng = random.Random(seed)
    number = 0
    made = []
    for c in range(chapters):
        body = []
        for _ in range(paragraphs):
            paragraph = []
            for _ in range(sentences):
                number += 1
                words = [rng.choice(WORDS) for _ in range(rng.randint(9, 18))]
                paragraph.append(f"Sentence{number} " + " ".join(words) + ".")
            body.append(paragraph)
        made.append((f"Chapter {c + 1} {rng.choice(WORDS).title()}", body))
    return Book(made)


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.casefold())


def numbers_in(text: str) -> list[int]:
    """The sentence numbers in ``text``, in the order they come."""
    return [int(n) for n in _NUMBERED.findall(text)]


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, capture_output=True, timeout=120, **kwargs)


# -- PDF -------------------------------------------------------------------------------------


def groff_pdf(
    path: Path, made: Book, *, columns: int = 2, footnote_after: int | None = None
) -> Path:
    """A PDF as a typesetter makes one: title and author in the metadata, a running header
    with the title and the chapter, the page number in the footer, an outline entry for each
    chapter, justified and hyphenated text in ``columns`` columns, and (after sentence
    ``footnote_after``) a footnote."""
    lines = [
        f".pdfinfo /Title {TITLE}",
        f".pdfinfo /Author {AUTHOR}",
        ".nr HY 1",
        f".ds LH {TITLE}",
        ".ds CH",
        ".ds RH Chapter \\\\n[chap]",
        ".ds CF \\\\n%",
        ".TL",
        TITLE,
        ".AU",
        AUTHOR,
    ]
    if columns == 2:
        lines.append(".2C")
    number = 0
    for index, (title, paragraphs) in enumerate(made.chapters, start=1):
        if index > 1:
            lines.append(".bp")
        lines += [f".nr chap {index}", ".SH", f'.pdfbookmark 1 "{title}"', title]
        for paragraph in paragraphs:
            lines.append(".PP")
            for sentence in paragraph:
                number += 1
                lines.append(sentence)
                if number == footnote_after:
                    lines[-1] += "\\**"
                    lines += [".FS", FOOTNOTE, ".FE"]
    source = path.with_suffix(".ms")
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with path.open("wb") as out:
        subprocess.run(["groff", "-ms", "-Tpdf", str(source)], stdout=out, check=True, timeout=120)
    return path


def scanned_pdf(path: Path, pdf: Path, *, pages: str | None = None) -> Path:
    """``pdf`` printed and scanned: its pages as images only (pdftoppm, then img2pdf)."""
    stem = path.with_suffix("")
    command = ["pdftoppm", "-r", "300", "-gray", "-png"]
    if pages:
        first, _, last = pages.partition("-")
        command += ["-f", first, "-l", last or first]
    _run([*command, str(pdf), str(stem)])
    images = sorted(path.parent.glob(f"{stem.name}-*.png"))
    _run(["img2pdf", *map(str, images), "-o", str(path)])
    return path


def joined_pdf(path: Path, *parts: Path) -> Path:
    """One PDF of the pages of ``parts``, in order (Poppler's pdfunite)."""
    _run(["pdfunite", *map(str, parts), str(path)])
    return path


# -- pandoc ----------------------------------------------------------------------------------


def markdown_of(made: Book, *, with_list_and_table: bool = False) -> str:
    out = [f"---\ntitle: {TITLE}\nauthor: {AUTHOR}\n---\n"]
    for title, paragraphs in made.chapters:
        out.append(f"# {title}\n")
        for paragraph in paragraphs:
            out.append(" ".join(paragraph) + "\n")
        if with_list_and_table and title == made.chapters[0][0]:
            out.append("- first item of the list\n- second item of the list\n")
            out.append("| Name | Boat |\n|------|------|\n| Ann | Heron |\n| Bob | Tern |\n")
    return "\n".join(out)


def pandoc(
    path: Path,
    made: Book,
    *,
    with_list_and_table: bool = False,
    to: str | None = None,
    cover: Path | None = None,
) -> Path:
    """``made`` written by pandoc as whatever ``path``'s suffix says (.epub, .docx, .odt), or
    as ``to`` (epub2: with an NCX, no navigation document), with a ``cover`` image."""
    source = path.with_suffix(".md")
    source.write_text(markdown_of(made, with_list_and_table=with_list_and_table), "utf-8")
    extra = (["-t", to] if to else []) + ([f"--epub-cover-image={cover}"] if cover else [])
    _run(["pandoc", str(source), *extra, "-o", str(path)])
    return path


def cover_image(path: Path) -> Path:
    """A small PNG, as a book cover."""
    from PIL import Image

    Image.new("RGB", (120, 180), (30, 60, 120)).save(path)
    return path
