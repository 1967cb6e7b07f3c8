"""Names for symbols in many languages, from Speech Dispatcher's own tables.

speechd ships NVDA's symbol dictionaries per language (``locale/<lang>/symbols.dic`` and
``emojis.dic``: ``symbol<TAB>name[<TAB>level[<TAB>preserve]]`` under a ``symbols:`` line), so
the names a screen-reader user knows are used rather than ones of our own. No library reads this
format; it is a few lines.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

_TABLES = ("symbols.dic", "emojis.dic")
_ESCAPES = {"0": "\0", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "#": "#", "\\": "\\"}


def symbol_name(char: str, language: str | None) -> str | None:
    """speechd's name for the one character ``char`` in ``language`` (e.g. "±" → "plus or
    minus" in English), or None when its tables for that language do not name it."""
    for candidate in _candidates(language or "en"):
        name = _names(candidate).get(char)
        if name:
            return name
    return None


def _candidates(language: str) -> list[str]:
    """"pt-BR" → ["pt_BR", "pt"]: the regional table first, then the language's own."""
    parts = re.split(r"[-_]", language)
    regional = "_".join([parts[0].lower(), *(p.upper() for p in parts[1:2])])
    return list(dict.fromkeys([regional, parts[0].lower()]))


def _locale_dirs() -> list[Path]:
    data_dirs = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    return [Path(d) / "speech-dispatcher" / "locale" for d in data_dirs.split(":") if d]


@functools.cache
def _names(language: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for folder in reversed(_locale_dirs()):  # the first folder of XDG_DATA_DIRS wins
        for table in _TABLES:
            path = folder / language / table
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                continue
            names.update(_parse(text))
    return names


def _parse(text: str) -> dict[str, str]:
    names: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if re.fullmatch(r"\w+:", line):
            section = line[:-1]
            continue
        if section != "symbols":
            continue
        fields = line.split("\t")
        symbol = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), fields[0])
        name = fields[1].strip() if len(fields) > 1 else ""
        if len(symbol) == 1 and name:
            names[symbol] = name
    return names
