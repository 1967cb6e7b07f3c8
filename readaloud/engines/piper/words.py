"""When each word of a sentence is heard, from the duration predictor's frames per phoneme.

Piper phonemizes a text into sentences of phonemes, words separated by a space phoneme; each
phoneme becomes its ids plus a pad id, and the duration predictor gives frames per id. So a word's
first frame is the sum of the frames before its first phoneme.

Text words and phoneme words do not pair one to one: "1990" is two spoken words, and espeak joins
some ("on the" is one). So each text word is phonemized alone and the concatenation is aligned
with the sentence's phonemes (difflib's longest matching blocks), which places every word at the
phoneme where its sound begins, even inside a joined spoken word.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"\S+")
_SPACE = " "
_BOS, _EOS, _PAD = "^", "$", "_"


@dataclass(frozen=True)
class SpokenWord:
    """A text word (character span) and the sentence and phoneme where it is first heard."""

    start: int
    end: int
    sentence: int
    phoneme: int


def phoneme_words(phonemes: Sequence[str]) -> list[int]:
    """Index of the first phoneme of each word of one sentence."""
    starts: list[int] = []
    in_word = False
    for index, phoneme in enumerate(phonemes):
        if phoneme == _SPACE:
            in_word = False
        elif not in_word:
            starts.append(index)
            in_word = True
    return starts


def phoneme_frames(
    phonemes: Sequence[str], id_map: Mapping[str, Sequence[int]], durations: np.ndarray
) -> list[int] | None:
    """The frame where each phoneme begins, or None when the ids do not line up with
    ``durations`` (a voice with another id layout)."""
    pad = len(id_map.get(_PAD, ()))
    ends = np.cumsum(durations)
    position = len(id_map.get(_BOS, ())) + pad
    frames: list[int] = []
    for phoneme in phonemes:
        frames.append(int(ends[position - 1]) if position else 0)
        if phoneme in id_map:  # phonemes_to_ids skips unknown phonemes the same way
            position += len(id_map[phoneme]) + pad
    if position + len(id_map.get(_EOS, ())) != len(durations):
        return None
    return frames


def pair_words(
    text: str, sentences: Sequence[Sequence[str]], phonemes_of: Callable[[str], list[str]]
) -> list[SpokenWord]:
    """Every text word that is spoken, with the sentence and phoneme where it begins.

    ``phonemes_of(word)`` is the phonemes of a word said alone (spaces and all).
    """
    heard = [(s, i) for s, phonemes in enumerate(sentences) for i, p in enumerate(phonemes)]
    heard = [(s, i) for s, i in heard if sentences[s][i] != _SPACE]
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    alone: list[str] = []
    firsts: list[int] = []  # where each text word's phonemes begin in ``alone``
    for a, b in spans:
        firsts.append(len(alone))
        alone.extend(p for p in phonemes_of(text[a:b]) if p != _SPACE)
    if not heard or not alone:
        return []
    matcher = difflib.SequenceMatcher(
        None, alone, [sentences[s][i] for s, i in heard], autojunk=False
    )
    opcodes = [op for op in matcher.get_opcodes() if op[0] != "insert"]
    words: list[SpokenWord] = []
    latest = 0
    for (a, b), first, after in zip(spans, firsts, [*firsts[1:], len(alone)], strict=True):
        if first == after:
            continue  # nothing to say (a dash, a stray symbol)
        latest = max(latest, min(_aligned(opcodes, first), len(heard) - 1))  # never back in time
        words.append(SpokenWord(a, b, *heard[latest]))
    return words


def _aligned(opcodes: Sequence[tuple[str, int, int, int, int]], position: int) -> int:
    """Where phoneme ``position`` of the words said alone falls in the sentence: exactly in a
    matching run, in proportion inside a run that differs (stress, vowel reduction)."""
    for _, a1, a2, b1, b2 in opcodes:
        if a1 <= position < a2:
            return b1 + (position - a1) * (b2 - b1) // (a2 - a1)
    return opcodes[-1][4] if opcodes else 0
