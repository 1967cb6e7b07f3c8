"""Words in a scanned page, through Tesseract (Debian's ``tesseract-ocr`` and its language packs).

The ``tesseract`` program is run directly: a page image goes in on standard input and text comes
out; the Python wrappers on PyPI do the same through temporary files.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from readaloud.documents.layout import join_lines

#: What to run to get Tesseract, for the messages that say so.
INSTALL = "sudo apt install tesseract-ocr"
#: Tesseract's language packs by our language codes (ISO 639-1), for the ones people ask for.
_PACKS = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld",
    "pl": "pol", "ru": "rus", "uk": "ukr", "cs": "ces", "sv": "swe", "da": "dan", "fi": "fin",
    "nb": "nor", "no": "nor", "tr": "tur", "hu": "hun", "el": "ell", "ar": "ara", "he": "heb",
    "hi": "hin", "ja": "jpn", "zh": "chi_sim", "ko": "kor",
}  # fmt: skip
_SECONDS_PER_PAGE = 120


def available() -> bool:
    return shutil.which("tesseract") is not None


@functools.cache
def installed_packs() -> frozenset[str]:
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in listed.splitlines()[1:] if line.strip())


def pack_for(language: str | None) -> str:
    """The installed pack for ``language`` (else English, which every install has)."""
    pack = _PACKS.get((language or "en").split("-")[0].lower(), "eng")
    return pack if pack in installed_packs() else "eng"


def recognise(png: bytes, language: str | None = None) -> str:
    """The paragraphs Tesseract reads in a page image, separated by blank lines."""
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", pack_for(language)],
        input=png,
        capture_output=True,
        timeout=_SECONDS_PER_PAGE,
        # Tesseract's OpenMP threads spin against each other and the voice: 5x slower on 2 cores.
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    if done.returncode != 0:
        raise OSError(done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or "")
    text = done.stdout.decode("utf-8", "replace").replace("\f", "")
    paragraphs = (join_lines(block.splitlines()) for block in text.split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)
