"""Which phoneme each text word begins at, with Piper's real phonemizer (espeak-ng)."""

from __future__ import annotations

import pytest

from readaloud.engines.piper import PiperEngine
from readaloud.engines.piper.words import pair_words


@pytest.fixture(scope="module")
def piper():
    engine = PiperEngine()
    return engine._voice_for(engine.resolve(None, None)).piper


def words_at(piper, text: str) -> list[tuple[str, str]]:
    """(text word, the spoken phonemes from where it begins to the next word's start)."""
    sentences = [p for p in piper.phonemize(text) if p]
    words = pair_words(
        text, sentences, lambda word: [p for s in piper.phonemize(word) for p in s]
    )
    heard = []
    for word, after in zip(words, [*words[1:], None], strict=True):
        phonemes = sentences[word.sentence]
        stop = after.phoneme if after and after.sentence == word.sentence else len(phonemes)
        heard.append((text[word.start : word.end], "".join(phonemes[word.phoneme : stop]).strip()))
    return heard


def test_words_espeak_joins_are_placed_inside_the_joined_word(piper) -> None:
    # espeak says "on the" as one word, "ɔnðə": "the" still begins at its own sound.
    heard = dict(words_at(piper, "The crowd on the platform waited."))
    assert heard["on"] == "ɔn"
    assert heard["the"] == "ðə"


def test_a_number_is_one_text_word_of_several_spoken_words(piper) -> None:
    heard = words_at(piper, "In 1990 we paid.")
    assert [w for w, _ in heard] == ["In", "1990", "we", "paid."]
    assert heard[1][1].startswith("nˈaɪntiːn") and heard[1][1].endswith("nˈaɪnti")
    assert heard[2][1] == "wiː"


def test_words_without_sound_are_not_timed_and_sentences_are_followed(piper) -> None:
    heard = words_at(piper, "Stop — now. Go on!")
    assert [w for w, _ in heard] == ["Stop", "now.", "Go", "on!"]
    assert heard[2][1].startswith("ɡ")
