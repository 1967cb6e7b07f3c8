"""Cut text that arrives a piece at a time (an LLM's answer, a chat, a log) into segments as soon
as each one's end is certain, so speech starts while the rest is still being written.

The segments are the ones ``segment.split`` makes, offsets counted from the start of the stream:
the text not yet cut is split again with each new piece, and every segment but the last is
final (the splitter saw what follows it). The last one is final only when its end is certain:
sentence punctuation that a capitalised next word would not continue ("Dr." does; and until
the next word comes, "p.m." and "e.g." may go on, so may "3." before a digit, a full stop after
a single letter, a sentence with a quote still open), or a blank line,
or the end of a line in line mode. ``flush`` cuts whatever is left (the input paused, or ended).

Every character fed lands in exactly one segment or in the whitespace between two: no word is
dropped, repeated or moved, however the input is split into pieces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from readaloud.text.segment import Segment, split

__all__ = ["LineCutter", "SentenceCutter", "Unit"]

#: One piece of speech the stream decides on at once: a sentence (or a part of a long one), or
#: in line mode every segment of one line (a line is kept, or skipped, whole).
Unit = tuple[Segment, ...]

_CLOSERS = "'\"”’»)]」』）"
_OPENERS = {"“": "”", "«": "»", "(": ")", "[": "]", "「": "」", "『": "』", "（": "）"}
# Sentence punctuation, then optional closing quotes and brackets, at the end of a segment.
_SENTENCE_END = re.compile(rf"([.!?…。！？．]+)([{re.escape(_CLOSERS)}]*)$")
_ALWAYS_FINAL = set("。！？")  # CJK stops are never part of an abbreviation or a number
_PARAGRAPH_END = re.compile(r"\n[^\S\n]*\n")
# A piece with neither of these cannot end a sentence, a clause or a word: nothing new to cut.
_MAY_CUT = re.compile(r"[\s.!?…。！？．,;:，、；：—–)\]\"'”’»」』）]")
# What a new sentence would start with, to see whether the splitter ends the last one.
_PROBE = " The"


@dataclass
class _Pending:
    text: str = ""
    offset: int = 0  # stream offset of text[0]

    def advance(self, count: int) -> None:
        self.text = self.text[count:]
        self.offset += count


class _Cutter:
    def __init__(self, language: str | None = "en", *, max_chars: int | None = None) -> None:
        self.language = language
        self.max_chars = max_chars
        self._pending = _Pending()

    @property
    def pending(self) -> str:
        """The text fed and not yet cut."""
        return self._pending.text


class SentenceCutter(_Cutter):
    """Sentence by sentence: ``feed`` returns the units now certain, ``flush`` all the rest."""

    def __init__(
        self,
        language: str | None = "en",
        *,
        first_fragment_words: int = 6,
        max_chars: int | None = None,
    ) -> None:
        super().__init__(language, max_chars=max_chars)
        self._fragment_words = first_fragment_words  # only the stream's first sentence is cut

    def feed(self, text: str) -> list[Unit]:
        self._pending.text += text
        if not _MAY_CUT.search(text):
            return []  # the last word goes on: what was uncertain still is
        return self._cut(final=False)

    def flush(self) -> list[Unit]:
        return self._cut(final=True)

    def _cut(self, *, final: bool) -> list[Unit]:
        pending = self._pending
        segments = split(
            pending.text,
            self.language,
            max_chars=self.max_chars,
            first_fragment_words=self._fragment_words,
        )
        if not final and segments and not self._certain(pending.text, segments[-1]):
            segments.pop()
        base = pending.offset
        if final:
            pending.advance(len(pending.text))  # what is left after the last is only space
        elif segments:
            pending.advance(segments[-1].end)
        if segments:
            self._fragment_words = 0
        return [(_moved(segment, base),) for segment in segments]

    def _certain(self, text: str, last: Segment) -> bool:
        after = text[last.end :]
        if _PARAGRAPH_END.search(after):
            return True
        found = _SENTENCE_END.search(last.text)
        if found is None:
            return False
        marks, closers = found.groups()
        if marks[-1] in _ALWAYS_FINAL:
            return True
        if not closers and _may_go_on(last.text[: found.start()], marks, after):
            return False
        if _open_quote(last.text):
            return False
        probe = split(text[last.start : last.end] + _PROBE, self.language, first_fragment_words=0)
        return len(probe) > 1 and probe[-1].text == _PROBE.strip()


class LineCutter(_Cutter):
    """Line by line (logs, ``tail -f``): each complete line is one unit of its segments."""

    def feed(self, text: str) -> list[Unit]:
        self._pending.text += text
        if "\n" not in text and "\r" not in text:
            return []
        complete = max(self._pending.text.rfind("\n"), self._pending.text.rfind("\r")) + 1
        return self._lines(complete)

    def flush(self) -> list[Unit]:
        return self._lines(len(self._pending.text))

    def _lines(self, count: int) -> list[Unit]:
        pending = self._pending
        units = []
        position = 0
        for line in pending.text[:count].splitlines(keepends=True):
            base = pending.offset + position
            segments = split(line, self.language, max_chars=self.max_chars, first_fragment_words=0)
            if segments:
                units.append(tuple(_moved(s, base) for s in segments))
            position += len(line)
        pending.advance(count)
        return units


def _moved(segment: Segment, offset: int) -> Segment:
    return replace(segment, start=segment.start + offset, end=segment.end + offset)


def _may_go_on(before: str, marks: str, after: str) -> bool:
    """Whether what comes next could still make ``before + marks`` no sentence's end: "3."
    before "5", and abbreviations a lower-case word continues ("p.m. today", "e.g. this")."""
    if marks != ".":
        return False
    token = before.rsplit(" ", 1)[-1]
    if not token or len(token) == 1 or "." in token:
        return True  # wait for the next word, which tells
    return token[-1].isdigit() and not after


def _open_quote(text: str) -> bool:
    """A quotation or bracket opened in ``text`` and not closed: its closer is still to come."""
    if text.count('"') % 2:
        return True
    return any(text.count(opener) > text.count(closer) for opener, closer in _OPENERS.items())
