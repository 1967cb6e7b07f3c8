"""Split text into the segments an engine synthesizes one at a time.

Sound starts as soon as the first segment is synthesized, so the first one is kept short, and every
segment fits the engine's per-language length limit. Sentences come from pysbd; paragraphs,
headings and list items come from the line structure around it.

Fidelity rule: a Segment's text is always rebuilt from a slice of the caller's string, never taken
from pysbd's output, so offsets are exact and no word is lost even when pysbd rewrites its input.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import pysbd
from pysbd.languages import LANGUAGE_CODES as _PYSBD_LANGUAGES

__all__ = [
    "DEFAULT_MAX_CHARS",
    "LANGUAGE_MAX_CHARS",
    "Segment",
    "iter_segments",
    "max_chars_for",
    "split",
]


@dataclass(frozen=True)
class Segment:
    """One piece of text for the engine, with where it came from in the caller's string."""

    text: str  # source[start:end], whitespace runs collapsed, list/heading markers dropped
    start: int  # offset of the segment's first character in the original text
    end: int  # offset just past its last character


# Character limits of the XTTS v2 tokenizer; longer input is truncated or garbled by the model.
LANGUAGE_MAX_CHARS: dict[str, int] = {
    "en": 250,
    "de": 253,
    "fr": 273,
    "es": 239,
    "it": 213,
    "pt": 203,
    "pl": 224,
    "zh": 82,
    "zh-cn": 82,
    "ar": 166,
    "cs": 186,
    "ru": 182,
    "nl": 251,
    "tr": 226,
    "ja": 71,
    "hu": 224,
    "ko": 95,
    "hi": 150,
}
DEFAULT_MAX_CHARS = 250

# pysbd gets about this many characters at once: its rules are superlinear on long input, and
# text full of abbreviations costs it 3x more per character in 2000-character windows than in 1000.
_WINDOW_CHARS = 1000
# A heading is a line this short, so hard-wrapped prose is not mistaken for one.
_HEADING_MAX_WORDS = 8
_HEADING_MAX_CHARS = 50
# The first fragment may end at a clause mark only after this many words.
_FRAGMENT_MIN_WORDS = 3

_Span = tuple[int, int]  # [start, end) offsets into the original text

_WORD = re.compile(r"\w")
_NON_SPACE = re.compile(r"\S+")
_WINDOW_BREAK = re.compile(r"[\s。！？]")
_SENTENCE_END_CHAR = re.compile(r"[.!?…。！？．]")
_MARKDOWN_HEADING = re.compile(r" {0,3}#{1,6}(?=\s|$)")
# ASCII bullets need a space after them so "-5 degrees" and "*emphasis*" stay text.
_BULLET = re.compile(r"\s*(?:[-*+]\s|[•◦▪▫‣⁃●○■□–—]\s?)")
_NUMBERED = re.compile(r"\s*(\d{1,3}[.)]|[A-Za-z]\))\s")
_CLOSERS = "'\"”’»)\\]」』）"
_ENDS_SENTENCE = re.compile(rf"[.!?…。！？．:;][{_CLOSERS}]*$")
_ENDS_NON_HEADING = re.compile(rf"[.!?…。！？．:;,，、；：\-–—][{_CLOSERS}]*$")
_ENDS_CLAUSE = re.compile(rf"[,;:—–，、；：][{_CLOSERS}]*$")
_CLAUSE_CHAR = re.compile(r"[,;:—–，、；：。！？!?]")
# Possessive quantifiers and the look-behind keep these linear on runs like "......" or "aaaa".
_REGEX_SENTENCE_END = re.compile(
    rf"(?<![.!?…。！？．])(?:[.!?…。！？．]++[{_CLOSERS}]*+(?=\s|$)|[。！？．]++[{_CLOSERS}]*+)"
)
_URL = re.compile(
    r"(?:https?|ftp)://[^\s<>\"]++|www\.[^\s<>\"]++|(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+"
)
_URL_TRAILING = re.compile(rf"[.,;:!?{_CLOSERS}]+$")
# pysbd uses these characters as internal placeholders; real ones in the input corrupt its output.
_PYSBD_PLACEHOLDERS = str.maketrans(dict.fromkeys("∯♟♝ǃ♨☝ƪᓴᓷ✂☏∮ȹȸ☉☈☇☄⎋⌬ᓸᓳᓱᓰ♭♬", "x"))
_WHITESPACE_TO_SPACE = re.compile(r"\s")
_WHITESPACE_RUN = re.compile(r"\s+")


def max_chars_for(language: str | None) -> int:
    """The longest segment the engine takes for `language` ("en", "en-US", "zh_CN", ...)."""
    if not language:
        return DEFAULT_MAX_CHARS
    tag = language.strip().lower().replace("_", "-")
    if tag in LANGUAGE_MAX_CHARS:
        return LANGUAGE_MAX_CHARS[tag]
    return LANGUAGE_MAX_CHARS.get(tag.split("-", 1)[0], DEFAULT_MAX_CHARS)


def split(
    text: str,
    language: str | None = "en",
    *,
    max_chars: int | None = None,
    first_fragment_words: int = 6,
) -> list[Segment]:
    """Split `text` into segments in reading order; [] when it has no words."""
    return list(
        iter_segments(
            text, language, max_chars=max_chars, first_fragment_words=first_fragment_words
        )
    )


def iter_segments(
    text: str,
    language: str | None = "en",
    *,
    max_chars: int | None = None,
    first_fragment_words: int = 6,
) -> Iterator[Segment]:
    """Like `split`, but lazily: the first segment comes before a long text is all read."""
    limit = max_chars_for(language) if max_chars is None else max_chars
    if limit < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    if first_fragment_words < 0:
        raise ValueError(f"first_fragment_words must be 0 or more, got {first_fragment_words}")
    segmenter = _segmenter(_pysbd_language(language))
    sentences = _cut_first_sentence(text, _sentences(text, segmenter), first_fragment_words)
    pieces = ((block, piece) for block, tokens in sentences for piece in _fit(text, tokens, limit))
    for piece in _absorb_wordless(text, pieces, limit):
        start, end = piece[0][0], piece[-1][1]
        # Everything between a piece's tokens is whitespace, so this is exactly its tokens.
        yield Segment(_WHITESPACE_RUN.sub(" ", text[start:end]), start, end)


# --- languages -------------------------------------------------------------------------------


def _pysbd_language(language: str | None) -> str:
    """pysbd's code for `language`; English rules for languages pysbd lacks (pt, cs, tr, ...)."""
    primary = (language or "en").strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if primary in _PYSBD_LANGUAGES else "en"


@functools.cache
def _segmenter(code: str) -> pysbd.Segmenter:
    # Building a Segmenter compiles its language's rules; only `processor()` is called on it
    # afterwards, which keeps no state on the Segmenter, so one per language can be shared.
    return pysbd.Segmenter(language=code, clean=False)


# --- line structure: paragraphs, headings, list items ------------------------------------------


@dataclass(frozen=True)
class _Block:
    """A run of text that no segment may cross: a paragraph, a heading or a list item."""

    start: int  # body to split into sentences, markers excluded; start == end when there is none
    end: int
    number: _Span | None = None  # a list item's number ("1."), spoken before its body


def _blocks(text: str) -> Iterator[_Block]:
    lines = _line_spans(text)
    current: _Block | None = None
    in_item = False  # `current` is a list item, which indented or lower-case lines continue
    previous = ""  # the last line added to `current`
    for index, (line_start, line_end) in enumerate(lines):
        line = text[line_start:line_end]
        if line.isspace() or not line:
            if current is not None:
                yield current
            current = None
            continue
        heading = _MARKDOWN_HEADING.match(line)
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if current is not None and not (heading or bullet or numbered):
            if in_item:
                continues = line[0].isspace() or _starts_lower(line)
            else:
                continues = not (
                    _ENDS_SENTENCE.search(previous.rstrip()[-16:])
                    and _looks_like_heading(line, _line_after(text, lines, index))
                )
            if continues:
                current = _Block(current.start, line_start + len(line.rstrip()), current.number)
                previous = line
                continue
        if current is not None:
            yield current
            current = None
        number = None
        in_item = bool(bullet or numbered)
        if heading:
            body_start = line_start + heading.end()
            yield _trimmed(text, body_start, _heading_end(text, body_start, line_end))
            continue
        if bullet:
            body_start = line_start + bullet.end()
        elif numbered:
            number = (line_start + numbered.start(1), line_start + numbered.end(1))
            body_start = line_start + numbered.end()
        elif _looks_like_heading(line, _line_after(text, lines, index)):
            yield _trimmed(text, line_start, line_end)
            continue
        else:
            body_start = line_start
        current = _trimmed(text, body_start, line_end, number)
        previous = line
    if current is not None:
        yield current


def _line_spans(text: str) -> list[_Span]:
    """Each line's span without its line break (any break str.splitlines knows)."""
    spans = []
    position = 0
    for line in text.splitlines(keepends=True):
        spans.append((position, position + len(line.splitlines()[0])))
        position += len(line)
    return spans


def _line_after(text: str, lines: list[_Span], index: int) -> str | None:
    return text[slice(*lines[index + 1])] if index + 1 < len(lines) else None


def _looks_like_heading(line: str, following: str | None) -> bool:
    """A short, unpunctuated line before a line that starts a sentence: read it on its own."""
    if following is None or not following.strip():
        return False  # nothing follows to be glued to it
    stripped = line.strip()
    return (
        len(stripped) <= _HEADING_MAX_CHARS
        and len(stripped.split()) <= _HEADING_MAX_WORDS
        and _WORD.search(stripped) is not None
        and not _starts_lower(stripped)
        and not _starts_lower(following)
        and _ENDS_NON_HEADING.search(stripped) is None
    )


def _starts_lower(line: str) -> bool:
    stripped = line.lstrip()
    return bool(stripped) and stripped[0].islower()


def _heading_end(text: str, body_start: int, line_end: int) -> int:
    """End of a Markdown heading's text, without its optional closing "##"."""
    body = text[body_start:line_end].rstrip()
    bare = body.rstrip("#")
    if bare != body and (not bare or bare[-1].isspace()):
        body = bare
    return body_start + len(body)


def _trimmed(text: str, start: int, end: int, number: _Span | None = None) -> _Block:
    body = text[start:end]
    left = start + len(body) - len(body.lstrip())
    return _Block(left, max(left, start + len(body.rstrip())), number)


# --- sentences ---------------------------------------------------------------------------------


def _sentences(text: str, segmenter: pysbd.Segmenter) -> Iterator[tuple[int, list[_Span]]]:
    """(block number, tokens) of each sentence; tokens are the spans of its non-space runs."""
    for block_number, block in enumerate(_blocks(text)):
        number = [block.number] if block.number else []
        for start, end in _sentence_spans(text, block.start, block.end, segmenter):
            yield block_number, number + _tokens(text, start, end)
            number = []
        if number:  # a list number with nothing after it
            yield block_number, number


def _sentence_spans(text: str, start: int, end: int, segmenter: pysbd.Segmenter) -> Iterator[_Span]:
    """Sentence spans in text[start:end], fed to pysbd a window at a time."""
    if _SENTENCE_END_CHAR.search(text, start, end - 1) is None:
        # Nothing could end a sentence before the last character (a list item, a heading):
        # spare pysbd's fixed cost, which dominates on short blocks.
        if start < end:
            yield start, end
        return
    cursor = start
    while cursor < end:
        stop = _window_stop(text, cursor, end)
        spans = _pysbd_spans(text, cursor, stop, segmenter)
        if stop == end:
            yield from spans
            return
        if len(spans) > 1:
            spans.pop()  # it may go on past the window: split it again with what follows
        yield from spans
        cursor = spans[-1][1] if spans else stop


def _window_stop(text: str, cursor: int, end: int) -> int:
    if end - cursor <= _WINDOW_CHARS:
        return end
    limit = min(end, cursor + 2 * _WINDOW_CHARS)
    found = _WINDOW_BREAK.search(text, cursor + _WINDOW_CHARS, limit)
    return found.end() if found else limit


def _pysbd_spans(text: str, start: int, stop: int, segmenter: pysbd.Segmenter) -> list[_Span]:
    """pysbd's sentences in text[start:stop], located in the original text."""
    chunk = _prepare_for_pysbd(text[start:stop])
    try:
        sentences = segmenter.processor(chunk).process()
    except Exception:  # pysbd is a pile of regexes; no input may stop the reading
        return list(_regex_spans(text, start, stop))
    spans = []
    cursor = 0
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence:
            continue
        found = chunk.find(sentence, cursor)
        if found < 0 or chunk[cursor:found].strip():
            break  # pysbd rewrote or dropped characters: split the rest ourselves
        spans.append((start + found, start + found + len(sentence)))
        cursor = found + len(sentence)
    spans.extend(_regex_spans(text, start + cursor, stop))
    return spans


def _prepare_for_pysbd(chunk: str) -> str:
    """Same length as `chunk`, so offsets carry over, with what pysbd gets wrong taken out.

    Line breaks become spaces (pysbd ends a sentence at every one, but the line structure has
    already been handled) and URLs and e-mail addresses become letters (pysbd splits them at
    "?" and "!").
    """
    chunk = _WHITESPACE_TO_SPACE.sub(" ", chunk).translate(_PYSBD_PLACEHOLDERS)
    return _URL.sub(_mask_url, chunk)


def _mask_url(match: re.Match[str]) -> str:
    url = match.group()
    trailing = _URL_TRAILING.search(url)  # a sentence's own full stop after the URL
    kept = trailing.start() if trailing else len(url)
    return "x" * kept + url[kept:]


def _regex_spans(text: str, start: int, stop: int) -> Iterator[_Span]:
    """Sentences by end punctuation alone: the fallback where pysbd fails."""
    cursor = start
    for match in _REGEX_SENTENCE_END.finditer(text, start, stop):
        yield from _stripped_span(text, cursor, match.end())
        cursor = match.end()
    yield from _stripped_span(text, cursor, stop)


def _stripped_span(text: str, start: int, end: int) -> Iterator[_Span]:
    body = text[start:end]
    stripped = body.strip()
    if stripped:
        left = start + len(body) - len(body.lstrip())
        yield left, left + len(stripped)


def _tokens(text: str, start: int, end: int) -> list[_Span]:
    return [match.span() for match in _NON_SPACE.finditer(text, start, end)]


def _has_words(text: str, tokens: list[_Span]) -> bool:
    return any(_WORD.search(text, s, e) for s, e in tokens)


def _joined_length(tokens: list[_Span]) -> int:
    """Length of the tokens' text with the whitespace between them collapsed to one space."""
    gaps = sum(a[1] != b[0] for a, b in zip(tokens, tokens[1:], strict=False))
    return sum(e - s for s, e in tokens) + gaps


# --- fast first fragment -----------------------------------------------------------------------


def _cut_first_sentence(
    text: str, sentences: Iterator[tuple[int, list[_Span]]], words: int
) -> Iterator[tuple[int, list[_Span]]]:
    """Cut the first sentence with words short, so the engine can start speaking sooner."""
    pending = words > 0
    for block, tokens in sentences:
        if pending and _has_words(text, tokens):
            pending = False
            for part in _first_fragment(text, tokens, words):
                yield block, part
        else:
            yield block, tokens


def _first_fragment(text: str, tokens: list[_Span], words: int) -> list[list[_Span]]:
    word_indexes = [i for i, (s, e) in enumerate(tokens) if _WORD.search(text, s, e)]
    if len(word_indexes) <= words + 2:
        return [tokens]  # short already: cutting would only add a pause
    cut = word_indexes[words - 1] + 1
    # A clause mark reads more naturally, if it leaves 3 to 2*words words in the fragment.
    first = word_indexes[_FRAGMENT_MIN_WORDS - 1]
    stop = word_indexes[min(2 * words, len(word_indexes) - 1)]  # this word stays in the rest
    for index in range(first, stop):
        s, e = tokens[index]
        if _ENDS_CLAUSE.search(text[s:e]):
            cut = index + 1
            break
    return [tokens[:cut], tokens[cut:]]


# --- length limit ------------------------------------------------------------------------------


def _fit(text: str, tokens: list[_Span], limit: int) -> Iterator[list[_Span]]:
    """Pieces of `tokens` whose text is at most `limit` characters."""
    piece: list[_Span] = []
    length = 0
    for token in _short_tokens(text, tokens, limit):
        while piece and length + _gap(piece[-1], token) + token[1] - token[0] > limit:
            cut = _best_cut(text, piece, limit)
            yield piece[:cut]
            piece = piece[cut:]
            length = _joined_length(piece)
        length += (_gap(piece[-1], token) if piece else 0) + token[1] - token[0]
        piece.append(token)
    if piece:
        yield piece


def _gap(before: _Span, after: _Span) -> int:
    """1 for the space between two tokens, 0 where a long token was broken in two."""
    return int(before[1] != after[0])


def _best_cut(text: str, piece: list[_Span], limit: int) -> int:
    """How many tokens of an overfull piece to emit: up to its last clause mark, else all."""
    cut = len(piece)
    length = 0
    for index, (s, e) in enumerate(piece[:-1]):
        length += (_gap(piece[index - 1], piece[index]) if index else 0) + e - s
        # Too early a clause mark would leave a tiny segment and gain nothing.
        if length >= limit // 3 and _ENDS_CLAUSE.search(text[s:e]):
            cut = index + 1
    return cut


def _short_tokens(text: str, tokens: list[_Span], limit: int) -> Iterator[_Span]:
    """The tokens, with any longer than `limit` broken into pieces that fit."""
    for start, end in tokens:
        while end - start > limit:
            cut = _token_cut(text, start, limit)
            yield start, start + cut
            start += cut
        yield start, end


def _token_cut(text: str, start: int, limit: int) -> int:
    """Where to break an over-long token: after punctuation, else after a non-word character
    (so no word is cut), else inside a word but not before a combining mark."""
    chunk = text[start : start + limit + 1]  # one more, to see what follows a cut at `limit`
    floor = max(1, limit // 3)
    clause = None
    for match in _CLAUSE_CHAR.finditer(chunk, floor - 1, limit):
        clause = match.end()
    if clause is not None:
        return clause
    for cut in range(limit, floor - 1, -1):
        if not _WORD.match(chunk[cut - 1]) and not unicodedata.combining(chunk[cut]):
            return cut
    for cut in range(limit, floor - 1, -1):
        if not unicodedata.combining(chunk[cut]):
            return cut
    return limit


# --- wordless pieces ---------------------------------------------------------------------------


def _absorb_wordless(
    text: str, pieces: Iterator[tuple[int, list[_Span]]], limit: int
) -> Iterator[list[_Span]]:
    """Pieces with words; wordless ones ("???", "* * *") join a neighbour in their block.

    A wordless piece is never yielded alone: an engine would only mumble it. Joining keeps its
    punctuation with the sentence it belongs to; one that fits nowhere is dropped.
    """
    held: list[_Span] | None = None  # last piece with words: a wordless one after it may join
    held_block = -1
    orphan: list[_Span] = []  # wordless tokens waiting to join the next piece in their block
    orphan_block = -1
    for block, piece in pieces:
        if _has_words(text, piece):
            if orphan and orphan_block == block and _joined_length(orphan + piece) <= limit:
                piece = orphan + piece
            orphan = []
            if held is not None:
                yield held
            held, held_block = piece, block
        elif (
            held is not None
            and not orphan  # else the orphan lies between them
            and held_block == block
            and _joined_length(held + piece) <= limit
        ):
            held = held + piece
        elif orphan and orphan_block == block and _joined_length(orphan + piece) <= limit:
            orphan = orphan + piece
        else:
            orphan, orphan_block = piece, block
    if held is not None:
        yield held
