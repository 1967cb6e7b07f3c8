"""Documents that cannot be read get one line that says why and what to do, exit 2, and no
traceback: locked, damaged, empty, protected, mislabelled or far too large."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.cli import run_readaloud
from support.documents import book, groff_pdf, numbers_in, pandoc

SMALL = book(chapters=1, paragraphs=2, sentences=3)
ENCRYPTION_XML = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
            xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData>
    <enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
    <enc:CipherData><enc:CipherReference URI="EPUB/text/ch001.xhtml"/></enc:CipherData>
  </enc:EncryptedData>
</encryption>
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad")


@pytest.fixture(scope="module")
def pdf(folder: Path) -> Path:
    return groff_pdf(folder / "small.pdf", SMALL, columns=1)


def refused(path: Path, *extra: str) -> str:
    result = run_readaloud("text", str(path), *extra)
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert result.stdout == ""
    return lines[0].removeprefix("readaloud: ")


def test_a_password_protected_pdf_asks_for_its_password(folder: Path, pdf: Path) -> None:
    locked = folder / "locked.pdf"
    subprocess.run(
        ["qpdf", "--encrypt", "harbour", "owner-word", "256", "--", str(pdf), str(locked)],
        check=True,
    )
    assert refused(locked) == f"{locked} is protected by a password. Give it with --password."
    assert refused(locked, "--password", "wrong") == f"The password for {locked} is wrong."
    opened = run_readaloud("text", str(locked), "--password", "harbour")
    assert opened.code == 0, opened.stderr
    assert numbers_in(opened.stdout) == list(range(1, 7))


def test_damaged_empty_and_pageless_pdfs(folder: Path, pdf: Path) -> None:
    damaged = folder / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    assert refused(damaged).startswith(f"{damaged} is damaged: it could not be opened as a PDF")
    empty = folder / "empty.pdf"
    empty.write_bytes(b"")
    assert refused(empty) == f"{empty} is empty."
    pageless = folder / "pageless.pdf"
    subprocess.run(["qpdf", "--empty", str(pageless)], check=True)
    assert refused(pageless) == f"{pageless} is a PDF with no pages."
    text = folder / "notes.pdf"
    text.write_text("Just some words, saved with the wrong name.\n")
    assert refused(text) == f"{text} is named .pdf but is not a PDF: it could not be opened."


def test_an_epub_with_drm_or_a_zip_that_is_no_epub(folder: Path) -> None:
    good = pandoc(folder / "good.epub", SMALL)
    protected = folder / "protected.epub"
    shutil.copy(good, protected)
    with zipfile.ZipFile(protected, "a") as archive:
        archive.writestr("META-INF/encryption.xml", ENCRYPTION_XML)
    assert refused(protected) == (
        f"{protected} is protected by DRM: its text is encrypted for one reading app. "
        "Open it in the app it was bought for, or get a DRM-free copy."
    )
    # Fonts obfuscated the standard way are not DRM: the book reads.
    fonts = folder / "fonts.epub"
    shutil.copy(good, fonts)
    with zipfile.ZipFile(fonts, "a") as archive:
        archive.writestr(
            "META-INF/encryption.xml",
            ENCRYPTION_XML.replace(
                "http://www.w3.org/2001/04/xmlenc#aes128-cbc", "http://www.idpf.org/2008/embedding"
            ),
        )
    assert numbers_in(run_readaloud("text", str(fonts)).stdout) == list(range(1, 7))
    fake = folder / "fake.epub"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("chapter.txt", "Not a book.")
    assert refused(fake) == (
        f"{fake} is a ZIP archive, not an EPUB e-book (it has no META-INF/container.xml)."
    )
    archive_file = folder / "photos.zip"
    shutil.copy(fake, archive_file)
    assert refused(archive_file).startswith(f"{archive_file} is a ZIP archive, not a document")


def test_a_word_file_locked_with_a_password(folder: Path) -> None:
    plain = pandoc(folder / "plain.docx", SMALL)
    locked = folder / "locked.docx"
    subprocess.run(
        [sys.executable, "-m", "msoffcrypto.__main__", "-e", "-p", "harbour", str(plain),
         str(locked)],
        check=True,
    )  # fmt: skip
    assert refused(locked) == (
        f"{locked} is protected by a password, which readaloud cannot open. Save a copy "
        "without the password (Word: File > Info > Protect Document) and read that."
    )


def test_a_cut_off_word_file_and_a_huge_file(folder: Path) -> None:
    whole = pandoc(folder / "letter.docx", SMALL)
    cut = folder / "cut.docx"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert refused(cut) == f"{cut} is a damaged Word document: it is not a readable ZIP archive."
    huge = folder / "huge.pdf"
    with huge.open("wb") as handle:
        handle.write(b"%PDF-1.7\n")
        handle.truncate(2 * 1024**3)  # sparse: 2 GB that take no room
    assert refused(huge) == (
        f"{huge} is 2.1 GB, over the 512 MB readaloud opens; split it into smaller files."
    )
