"""The SSML speechd sends, reduced to plain text plus the positions of its ``<mark/>`` tags.

speechd wraps every message in ``<speak>``, escapes ``&``/``<``, and inserts its own marks
(``__spd_0``...) after sentences; Orca puts one mark before each word. Only the marks matter
to us: other tags are dropped (a tag between two words still separates them).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_TAG = re.compile(r"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[(?P<cdata>.*?)\]\]>|<(?P<tag>[^<>]*)>", re.S)
_NAME = re.compile(r"""\bname\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Elements that end a phrase: dropping them must not glue the words around them together.
_BREAKING = {
    "p",
    "s",
    "break",
    "speak",
    "voice",
    "sub",
    "say-as",
    "audio",
    "lang",
    "paragraph",
    "sentence",
}


@dataclass(frozen=True)
class Mark:
    name: str
    #: Character offset in ``SpeechText.text`` where the mark stands.
    offset: int


@dataclass(frozen=True)
class SpeechText:
    text: str
    marks: tuple[Mark, ...] = ()


def parse(ssml: str) -> SpeechText:
    """Plain text and marks; text that is not SSML at all comes back unchanged (unescaped)."""
    parts: list[str] = []
    length = 0
    marks: list[Mark] = []

    def add(text: str) -> None:
        nonlocal length
        if text:
            parts.append(text)
            length += len(text)

    position = 0
    for match in _TAG.finditer(ssml):
        add(html.unescape(ssml[position : match.start()]))
        position = match.end()
        if match.group("cdata") is not None:
            add(match.group("cdata"))
            continue
        tag = match.group("tag")
        if tag is None:
            continue  # a comment or a processing instruction
        element = (tag.strip().lstrip("/").split(None, 1) or [""])[0].rstrip("/").lower()
        if element == "mark":
            found = _NAME.search(tag)
            if found:
                quoted = found.group(1) if found.group(1) is not None else found.group(2)
                marks.append(Mark(html.unescape(quoted), length))
        elif element in _BREAKING and parts and not parts[-1][-1:].isspace():
            add(" ")
    add(html.unescape(ssml[position:]))
    return SpeechText("".join(parts), tuple(marks))
