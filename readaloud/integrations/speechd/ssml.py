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


#: A run of what is not a letter or digit: what speechd's symbol pass leaves of markup.
_NOT_WORD = re.compile(r"[\W_]+")
_MARK_TAG = re.compile(r"<mark\b[^<>]*>", re.I)


def resent_from(source: str, resent: str) -> str | None:
    """The SSML of a paused message from where speechd resumes it, or None.

    speechd 0.11 resends a paused text-mode message as its own SSML run through its symbol
    pass, so the markup arrives as words (``<mark name="__spd_0"/>`` as ``mark name spd 0``) and
    would be read aloud. ``source`` is the SSML the paused message came as: the part of it, from
    its start or from one of its marks, whose words are the words of ``resent`` is what speechd
    meant. Hand-written: no library knows this quirk.
    """
    wanted = _bare(resent)
    if not wanted:
        return None
    starts = [0]
    for tag in _MARK_TAG.finditer(source):
        starts += [tag.start(), tag.end()]
    for start in starts:
        if _bare(source[start:]) == wanted:
            rest = source[start:]
            return rest if rest.lstrip().lower().startswith("<speak") else f"<speak>{rest}"
    return None


def _bare(text: str) -> str:
    """The words of ``text``, lower case, without the ``speak`` words of its wrappers."""
    words = _NOT_WORD.sub(" ", html.unescape(text)).lower().split()
    while words[:1] == ["speak"]:
        words = words[1:]
    while words[-1:] == ["speak"]:
        words = words[:-1]
    return " ".join(words)
