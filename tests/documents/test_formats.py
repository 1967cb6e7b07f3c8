"""What `readaloud text FILE` gives for real documents made by real tools: every word, in the
order a reader reads them, and nothing a listener should not hear."""

from __future__ import annotations

import difflib
import re
import subprocess
from pathlib import Path

import pytest
from support.cli import run_readaloud
from support.documents import (
    AUTHOR,
    FOOTNOTE,
    TITLE,
    Book,
    book,
    cover_image,
    groff_pdf,
    joined_pdf,
    numbers_in,
    pandoc,
    scanned_pdf,
    words_of,
)

BOOK = book(chapters=3, paragraphs=8)
SENTENCES = len(BOOK.sentences)
FOOTNOTE_AFTER = 10


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("documents")
    made = {
        "pdf": groff_pdf(folder / "book.pdf", BOOK, footnote_after=FOOTNOTE_AFTER),
        "one-column": groff_pdf(folder / "plain.pdf", book(1, 3, seed=5), columns=1),
    }
    for kind in ("epub", "docx", "odt"):
        made[kind] = pandoc(folder / f"book.{kind}", BOOK, with_list_and_table=True)
    cover = cover_image(folder / "cover.png")
    made["epub2"] = pandoc(
        folder / "book2.epub", BOOK, with_list_and_table=True, to="epub2", cover=cover
    )
    made["scan"] = scanned_pdf(folder / "scan.pdf", made["one-column"])
    made["mixed"] = joined_pdf(folder / "mixed.pdf", made["pdf"], made["scan"])
    return made


def segments(*args: str) -> list[str]:
    result = run_readaloud("text", *map(str, args))
    assert result.code == 0, result.stderr
    return result.stdout.splitlines()


def unique_words_inside(index: int) -> str:
    """Some words from the middle of sentence ``index`` that stand nowhere else in the book."""
    whole = " ".join(BOOK.sentences)
    words = BOOK.sentences[index].rstrip(".").split()
    for size in range(3, len(words)):
        for start in range(1, len(words) - size + 1):
            found = " ".join(words[start : start + size])
            if whole.count(found) == 1:
                return found
    raise AssertionError("no unique words")


def headings(made: Book) -> list[str]:
    return [title for title, _ in made.chapters]


def test_a_two_column_pdf_is_read_column_by_column_with_every_word(files) -> None:
    lines = segments(files["pdf"])
    text = "\n".join(lines)
    assert numbers_in(text) == list(range(1, SENTENCES + 1))
    # The running header ("Harbour Notes ... Chapter 2") and the page numbers are not read;
    # the title page's title is, once.
    assert lines[:2] == [TITLE, AUTHOR]
    assert text.count(TITLE) == 1
    assert not [line for line in lines if re.fullmatch(r"[\d\s-]+", line)]
    # Words hyphenated at line ends are whole again: nothing but the book's words is read.
    extra = set(words_of(text)) - set(BOOK.words) - set(words_of(FOOTNOTE))
    assert extra <= set(words_of(" ".join([TITLE, AUTHOR, "Note", *headings(BOOK)])))
    assert [h for h in headings(BOOK) if h in lines] == headings(BOOK)


def test_a_footnote_is_read_after_its_sentence_with_ligatures_as_letters(files) -> None:
    lines = segments(files["pdf"])
    note = next(i for i, line in enumerate(lines) if line.startswith("Note"))
    assert lines[note] == f"Note 1: {FOOTNOTE}".replace("'", "’")  # groff's apostrophe
    assert not re.search("[\ufb00-\ufb06]", "\n".join(lines))
    # Not in the middle of a sentence: what comes before it ends one.
    assert lines[note - 1].endswith(".")
    # The footnote mark is not read as a number inside the sentence it marks.
    marked = next(line for line in lines if line.startswith(f"Sentence{FOOTNOTE_AFTER} "))
    assert marked == BOOK.sentences[FOOTNOTE_AFTER - 1]


@pytest.mark.parametrize("kind", ["epub", "epub2", "docx", "odt"])
def test_pandoc_documents_are_read_in_order_with_lists_and_tables(files, kind: str) -> None:
    lines = segments(files[kind])
    text = "\n".join(lines)
    assert numbers_in(text) == list(range(1, SENTENCES + 1))
    for heading in headings(BOOK):
        assert heading in lines
    # List items are lines of their own; a table is read row by row, its cells in order.
    assert "first item of the list" in lines and "second item of the list" in lines
    rows = [line.rstrip(".") for line in lines if ", " in line and len(line) < 20]
    assert rows == ["Name, Boat", "Ann, Heron", "Bob, Tern"]
    extra = set(words_of(text)) - set(BOOK.words)
    assert extra <= set(
        words_of(
            f"{TITLE} {AUTHOR} first second item of the list name boat "
            f"ann heron bob tern {' '.join(headings(BOOK))}"
        )
    )


@pytest.mark.parametrize("kind", ["pdf", "epub", "epub2", "docx", "odt"])
def test_chapter_and_from_start_elsewhere(files, kind: str) -> None:
    # pandoc's EPUB 2 table of contents (the NCX) lists its title page first.
    second = segments(files[kind], "--chapter", "3" if kind == "epub2" else "2")
    assert second[0] == BOOK.chapters[1][0]
    assert numbers_in("\n".join(second))[0] == 33
    words = unique_words_inside(49)
    found = segments(files[kind], "--from", words.upper())
    assert numbers_in(found[0]) == [50]
    assert numbers_in("\n".join(found)) == list(range(50, SENTENCES + 1))


@pytest.mark.parametrize("kind", ["docx", "odt"])
def test_word_and_opendocument_footnotes_follow_their_paragraph(tmp_path, kind: str) -> None:
    source = tmp_path / "note.md"
    source.write_text(
        "# Notes\n\nThe keeper lit the lamp.[^1] Then he slept.\n\nMorning came.\n\n"
        "[^1]: The lamp burned paraffin.\n"
    )
    made = tmp_path / f"note.{kind}"
    subprocess.run(["pandoc", str(source), "-o", str(made)], check=True)
    assert segments(made) == [
        "Notes",
        "The keeper lit the lamp.",
        "Then he slept.",
        "(Note: The lamp burned paraffin.)",
        "Morning came.",
    ]


def test_a_chapter_or_words_that_are_not_there_are_named(files) -> None:
    result = run_readaloud("text", str(files["epub"]), "--chapter", "9")
    assert result.code == 2
    assert result.stderr.strip().endswith("has 3 chapters; give --chapter 1 to 3.")
    result = run_readaloud("text", str(files["pdf"]), "--from", "purple elephants")
    assert result.code == 2
    assert 'The words "purple elephants" are not in' in result.stderr
    result = run_readaloud("text", str(files["one-column"]), "--chapter", "1")
    assert result.code == 0  # groff gave its one chapter an outline entry


def test_a_scanned_pdf_is_read_through_tesseract(files) -> None:
    lines = segments(files["scan"])
    assert lines[0].startswith("Page 1 is a scanned image")
    made = book(1, 3, seed=5)
    heard = words_of("\n".join(lines[2:]))
    expected = words_of(f"{TITLE} {AUTHOR} {made.chapters[0][0]}") + made.words
    # OCR is not perfect ("moming"); nearly every word and the order must be right.
    assert difflib.SequenceMatcher(None, heard, expected, autojunk=False).ratio() > 0.9


def test_a_mixed_pdf_recognises_only_its_scanned_page(files) -> None:
    text = "\n".join(segments(files["mixed"]))
    typeset, _, scanned = text.rpartition(AUTHOR)  # the scanned page: a title page
    assert numbers_in(typeset)[:SENTENCES] == list(range(1, SENTENCES + 1))
    assert len(numbers_in(scanned)) >= 10
    assert "scanned image" not in typeset


def test_scanned_pages_without_tesseract_say_how_to_get_it(files, tmp_path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "pdftotext").symlink_to("/usr/bin/pdftotext")
    result = run_readaloud("text", str(files["scan"]), env={"PATH": str(tools)})
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        f"readaloud: {files['scan']} is scanned pages (images without text); reading them "
        "needs Tesseract: sudo apt install tesseract-ocr"
    ]
    # A mixed PDF still reads its text pages, and says what the scanned page is.
    mixed = run_readaloud("text", str(files["mixed"]), env={"PATH": str(tools)})
    assert mixed.code == 0, mixed.stderr
    assert numbers_in(mixed.stdout) == list(range(1, SENTENCES + 1))
    assert "install Tesseract: sudo apt install tesseract-ocr" in mixed.stdout
