"""The user's pronunciation dictionary: words (or patterns) said otherwise, per language.

``$XDG_CONFIG_HOME/readaloud/lexicon.toml`` holds one table per language code, and ``"*"`` for
every language::

    ["*"]
    Nguyen = "Win"
    WHO = "World Health Organization"
    "re:\\bDr\\.(?= [A-Z])" = "Doctor"     # a pattern: "re:" and a Python regular expression

    [de]
    Zug = "Tsoog"

A word written in lower case matches it in any case; a word with a capital letter matches only
as written ("US" is not "us"). Whole words only. A value in ``[[ ]]`` is phonemes, read as they
are by Piper voices. All entries are applied in one pass (a respelling is never respelled again),
longest first; the engine gets the respelled text, and every offset it reports is mapped back to
the original text (``Respelled.original``), so events and highlighting still point at what the
user sees. The file is read again when it changes.

Written here: no library respells text while keeping a map of offsets back to the original.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readaloud.errors import BadInput

log = logging.getLogger(__name__)

#: The table whose entries apply to every language.
EVERY_LANGUAGE = "*"
PATTERN_PREFIX = "re:"


@dataclass(frozen=True)
class Respelled:
    """``text`` with its replacements: ``spans`` is (new start, new end, old start, old end)."""

    text: str
    spans: tuple[tuple[int, int, int, int], ...] = ()

    def original(self, position: int, end: bool = False) -> int:
        """Where ``position`` in the respelled text is in the original. A position inside a
        replacement goes to the start of the word it replaced, or with ``end`` to its end (a
        word of "World Health Organization" is a word of "WHO")."""
        shift = 0
        for new_start, new_end, old_start, old_end in self.spans:
            if position <= new_start:
                break
            if position < new_end:
                return old_end if end else old_start
            shift = old_end - new_end
        return position + shift


def check_entry(word: str, says: str) -> None:
    """Raise BadInput for an entry that cannot be used."""
    if not word.strip() or not says.strip():
        raise BadInput("Give the word and how it is said, e.g.: readaloud lexicon add SQL sequel")
    if word.startswith(PATTERN_PREFIX):
        try:
            re.compile(word[len(PATTERN_PREFIX) :])
        except re.error as error:
            raise BadInput(f"'{word}' is not a regular expression ({error}).") from None


def _regex(word: str) -> str:
    if word.startswith(PATTERN_PREFIX):
        return word[len(PATTERN_PREFIX) :]
    exact = re.escape(word)
    edges = rf"(?<!\w){exact}(?!\w)"
    return edges if any(ch.isupper() for ch in word) else f"(?i:{edges})"


class Lexicon:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: float | None = None
        self._tables: dict[str, dict[str, str]] = {}
        self._compiled: dict[str, tuple[re.Pattern[str], list[str]] | None] = {}

    def tables(self) -> dict[str, dict[str, str]]:
        """Language → {word or pattern: how it is said}, as the file has them now."""
        with self._lock:
            self._reload()
            return {language: dict(entries) for language, entries in self._tables.items()}

    def add(self, word: str, says: str, language: str = EVERY_LANGUAGE) -> None:
        """Say ``word`` as ``says`` in ``language`` (``"*"``: every language); saved at once."""
        check_entry(word, says)
        data = self._raw()
        data.setdefault(language.lower(), {})[word] = says
        self._write(data)

    def remove(self, word: str, language: str | None = None) -> list[str]:
        """Forget ``word`` (in ``language``, else in every table); the tables it was in."""
        data = self._raw()
        found = [
            name
            for name, entries in data.items()
            if isinstance(entries, dict) and word in entries and language in (None, name)
        ]
        for name in found:
            del data[name][word]
            if not data[name]:
                del data[name]
        if found:
            self._write(data)
        return found

    def _raw(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise BadInput(f"{self.path} cannot be read ({error}); fix it or remove it.") from None

    def _write(self, data: dict[str, Any]) -> None:
        import tomli_w

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "wb", dir=self.path.parent, delete=False, suffix=".tmp"
        ) as out:
            tomli_w.dump(data, out)
        os.replace(out.name, self.path)

    def respell(self, text: str, language: str | None) -> Respelled:
        """``text`` as the engine should read it in ``language``."""
        with self._lock:
            self._reload()
            key = (language or "").split("-")[0].lower()
            if key not in self._compiled:
                self._compiled[key] = self._compile(key)
            compiled = self._compiled[key]
        if compiled is None:
            return Respelled(text)
        pattern, says = compiled
        parts: list[str] = []
        spans: list[tuple[int, int, int, int]] = []
        last = length = 0
        for match in pattern.finditer(text):
            if match.end() == match.start():
                continue
            parts.append(text[last : match.start()])
            length += match.start() - last
            replacement = says[int((match.lastgroup or "e0")[1:])]
            spans.append((length, length + len(replacement), match.start(), match.end()))
            parts.append(replacement)
            length += len(replacement)
            last = match.end()
        if not spans:
            return Respelled(text)
        parts.append(text[last:])
        return Respelled("".join(parts), tuple(spans))

    def _compile(self, language: str) -> tuple[re.Pattern[str], list[str]] | None:
        entries = {**self._tables.get(EVERY_LANGUAGE, {}), **self._tables.get(language, {})}
        if not entries:
            return None
        words = sorted(entries, key=lambda w: (not w.startswith(PATTERN_PREFIX), -len(w)))
        alternatives = "|".join(f"(?P<e{i}>{_regex(w)})" for i, w in enumerate(words))
        return re.compile(alternatives), [entries[w] for w in words]

    def _reload(self) -> None:
        try:
            seen: float | None = self.path.stat().st_mtime
        except OSError:
            seen = None
        if seen == self._seen:
            return
        self._seen, self._compiled = seen, {}
        self._tables = self._read() if seen is not None else {}

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            log.warning("%s cannot be read (%s); no word is respelled", self.path, error)
            return {}
        tables: dict[str, dict[str, str]] = {}
        for language, entries in data.items():
            if not isinstance(entries, dict):
                log.warning("%s: '%s' is not a table of words; ignored", self.path, language)
                continue
            good: dict[str, str] = {}
            for word, says in entries.items():
                try:
                    if not isinstance(says, str):
                        raise BadInput(f"how '{word}' is said must be text")
                    check_entry(word, says)
                except BadInput as error:
                    log.warning("%s [%s]: %s; ignored", self.path, language, error)
                    continue
                good[word] = says
            tables[language.lower()] = good
        return tables
