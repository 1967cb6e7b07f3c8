"""Where text comes from on the command line: arguments, standard input or a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from readaloud.errors import BadInput

#: The most text one request may carry (about 27 hours of speech). A bigger input is almost
#: always a mistake (a binary file, a whole book piped by accident) and would sit in memory.
MAX_TEXT_BYTES = 1_000_000


def decode(raw: bytes, origin: str) -> str:
    """Bytes → text, or a BadInput that says where the problem is and what to do."""
    if len(raw) > MAX_TEXT_BYTES:
        raise BadInput(
            f"{origin} holds {len(raw) / 1e6:.1f} MB of text; readaloud reads at most "
            f"{MAX_TEXT_BYTES // 1_000_000} MB at a time. Split it into smaller parts."
        )
    if b"\x00" in raw:
        raise BadInput(f"{origin} contains NUL bytes: it looks like a binary file, not text.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadInput(
            f"{origin} is not UTF-8 text (bad byte at offset {error.start}). "
            f"Convert it first, e.g. iconv -f LATIN1 -t UTF-8."
        ) from None
    if not text.strip():
        raise BadInput(f"There is no text to read: {origin} is empty or only whitespace.")
    return text


def read_stream(stream: BinaryIO, origin: str = "standard input") -> str:
    # Read one byte past the cap so an oversized input is reported, not silently cut.
    return decode(stream.read(MAX_TEXT_BYTES + 1), origin)


def read_file(path: str) -> str:
    """Read a text file, or ``-`` for standard input."""
    if path == "-":
        return read_stream(sys.stdin.buffer)
    file = Path(path)
    try:
        with file.open("rb") as handle:
            return read_stream(handle, f"File {path}")
    except FileNotFoundError:
        raise BadInput(f"File {path} does not exist.") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a folder; give a text file.") from None
    except PermissionError:
        raise BadInput(f"Cannot read {path}: permission denied.") from None
    except OSError as error:
        raise BadInput(f"Cannot read {path}: {error.strerror}.") from None


def from_arguments(words: list[str]) -> str:
    """``say`` arguments: the words themselves, or ``-`` for standard input."""
    if words == ["-"]:
        return read_stream(sys.stdin.buffer)
    text = " ".join(words)
    if not text.strip():
        raise BadInput(
            "There is no text to read. Give it as an argument, or '-' to read standard input."
        )
    return decode(text.encode("utf-8", "surrogateescape"), "The text")
