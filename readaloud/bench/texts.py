"""The texts the benchmark reads: fixed, so figures from different runs compare."""

from __future__ import annotations

#: 30 words, one sentence: the case where waiting for the whole sentence hurts most.
FIRST_SENTENCE = (
    "Although the morning train was late again, the small crowd on the platform waited "
    "patiently, reading newspapers, drinking coffee and talking quietly about the weather and "
    "the long holiday weekend."
)

_ARTICLE_SENTENCES = [
    "The town library opened its doors in the spring of that year.",
    "Nobody expected the reading room to fill up so quickly, but by the end of the first week "
    "every chair was taken from morning until closing time.",
    "Children came after school to borrow picture books.",
    "Their grandparents came for the newspapers, the warm radiators and the company.",
    "The librarian, a patient woman with a remarkable memory for names, soon knew everyone.",
    "She kept a notebook of requests, and each month she ordered a few of the most wanted titles.",
    "Some were novels; others were practical guides to gardening, cooking or repairing bicycles.",
    "When the council threatened to cut the budget, the readers wrote letters, signed petitions "
    "and filled the public gallery at every meeting until the plan was dropped.",
    "Years later, people still talk about that winter.",
    "It was the season, they say, when the town learned how much a quiet room full of books "
    "could matter.",
]


def article(words: int = 2000) -> str:
    """About ``words`` words of plain prose in paragraphs of five sentences."""
    paragraphs: list[str] = []
    count = index = 0
    while count < words:
        paragraph = []
        for _ in range(5):
            sentence = _ARTICLE_SENTENCES[index % len(_ARTICLE_SENTENCES)]
            paragraph.append(sentence)
            count += len(sentence.split())
            index += 1
        paragraphs.append(" ".join(paragraph))
    return "\n\n".join(paragraphs)
