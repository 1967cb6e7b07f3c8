"""What an export will say: the document's chapters, each cut into the sentences an engine makes
one at a time, every sentence named by a hash of all that changes its sound, so that work done
before (an export stopped by kill -9) is found again and not redone."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from readaloud.documents.layout import continues
from readaloud.documents.model import Document
from readaloud.errors import BadInput
from readaloud.speech.languages import LanguageTrack
from readaloud.text.segment import split

#: Silence after a sentence, and after the last sentence of a paragraph (seconds).
SENTENCE_PAUSE_S = 0.25
PARAGRAPH_PAUSE_S = 0.7
#: Silence that opens each chapter, and closes the book.
CHAPTER_PAUSE_S = 1.5
_PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Sentence:
    text: str  # what the voice says: the sentence respelled by the lexicon, or a notice
    key: str  # the file name of its audio in the work folder
    pause_s: float  # silence after it
    voice: str | None = None  # None: the engine's voice for ``language``
    language: str | None = None  # None: the engine's default


@dataclass
class ChapterPlan:
    number: int  # from 1, as --chapters counts
    title: str
    sentences: list[Sentence] = field(default_factory=list)


@dataclass
class Plan:
    title: str
    author: str | None
    chapters: list[ChapterPlan]
    cover: bytes | None = None
    #: What the listener was told: a language no installed voice speaks (once each).
    notices: list[str] = field(default_factory=list)

    @property
    def sentences(self) -> list[Sentence]:
        return [s for chapter in self.chapters for s in chapter.sentences]


@dataclass(frozen=True)
class Voicing:
    """Everything besides the text that changes the sound."""

    engine: str
    voice: str | None
    language: str | None
    rate: float

    def key(self, text: str) -> str:
        made = f"{self.engine}\0{self.voice}\0{self.language}\0{self.rate:g}\0{text}"
        return hashlib.blake2b(made.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()

    def sentence(
        self, text: str, pause_s: float, voice: str | None, language: str | None
    ) -> Sentence:
        key = dataclasses.replace(self, voice=voice, language=language).key(text)
        return Sentence(text, key, pause_s, voice, language)


def chapters_wanted(spec: str | None, count: int) -> set[int] | None:
    """``--chapters 2-4,7`` as chapter numbers (from 1); None for all."""
    if not spec:
        return None
    wanted: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise BadInput(
                f"--chapters {spec}: give chapter numbers and ranges, e.g. 2-4 or 1,3,5."
            ) from None
        if not 1 <= low <= high <= count:
            raise BadInput(f"--chapters {spec}: the document has chapters 1 to {count}.")
        wanted.update(range(low, high + 1))
    return wanted


def make_plan(
    document: Document, voicing: Voicing, track: LanguageTrack, chapters: str | None = None
) -> Plan:
    """The chapters (all, or those ``chapters`` names) with their sentences, each with the
    voice of its language as ``track`` chooses it (as when the book is read aloud)."""
    title = document.title or Path(document.source).stem
    texts = _chapter_texts(document, title)
    wanted = chapters_wanted(chapters, len(texts))
    planned, notices = [], []
    for number, (heading, text) in enumerate(texts, start=1):
        if wanted is not None and number not in wanted:
            continue
        chapter = ChapterPlan(number, heading)
        segments = split(text, voicing.language or "en", first_fragment_words=0)
        for segment, following in zip(segments, [*segments[1:], None], strict=True):
            turn = track.turn(segment.text)
            if turn is None:  # no voice for its language, and the book said so already
                continue
            if turn.notice:
                notices.append(turn.notice)
            between = text[segment.end : following.start] if following else "\n\n"
            pause = PARAGRAPH_PAUSE_S if _PARAGRAPH.search(between) else SENTENCE_PAUSE_S
            ask = turn.ask
            chapter.sentences.append(
                voicing.sentence(turn.said.text, pause, ask.voice, ask.language)
            )
        if chapter.sentences:
            planned.append(chapter)
    if not planned:
        raise BadInput(f"There is nothing to read in {document.source}: it has no words.")
    return Plan(title, document.author, planned, document.cover, notices)


def _chapter_texts(document: Document, title: str) -> list[tuple[str, str]]:
    """(title, text) of each chapter; what comes before the first is a chapter of its own,
    named after the book, and a book without chapters is one."""
    titles = {n: chapter.title for n, chapter in enumerate(document.chapters, start=1)}
    found: list[tuple[str, list[str]]] = []
    for part in document.parts(0):
        if part.chapter is not None or not found:
            found.append((titles.get(part.chapter or 0, title), []))
        pieces = found[-1][1]
        if pieces and continues(pieces[-1], part.text):
            pieces[-1] += " " + part.text
        elif part.text.strip():
            pieces.append(part.text)
    return [(heading, "\n\n".join(pieces)) for heading, pieces in found if pieces]
