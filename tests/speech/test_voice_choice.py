"""Each sentence in its language: judged with hysteresis, read by a voice of that language, or
told once and skipped when none speaks it; volume above 1 is limited, never clipped; XTTS's
sampling settings are checked for every engine."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from readaloud.config import Config, parse
from readaloud.engines.base import Sampling
from readaloud.engines.registry import choose_engine
from readaloud.errors import BadInput
from readaloud.speech.synthesis import synthesize
from readaloud.speech.utterance import Utterance
from readaloud.text.language import KNOWN_LANGUAGES, LanguageDetector

ENGLISH = "This is the first sentence, in English."
RUSSIAN = "Правительство объявило о новых мерах поддержки."
RUSSIAN_2 = "Это второе предложение на русском языке."
GERMAN = "Die Bundesregierung hat am Mittwoch ein neues Gesetz beschlossen."
BACK = "And now we are back to plain English again."


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(KNOWN_LANGUAGES)


@pytest.mark.parametrize(
    "sentence",
    [
        # English sentences lingua alone takes for Dutch, Swahili, Spanish... (measured).
        "speechd starts the module as `MODULE CONFIGFILE`; lines over stdin end in CRLF.",
        "**Starlette and httpx (Encode).",
        "No systemd runs here.",
        "xtts-api-server, Speech Note, NVDA add-ons)",
        "XTTS v2 on a GPU",
        "Security model",
    ],
)
def test_english_full_of_names_stays_english(detector: LanguageDetector, sentence: str) -> None:
    assert detector.judge(sentence, "en") in ("en", None)


def test_a_language_is_kept_until_a_sentence_clearly_leaves_it(
    detector: LanguageDetector,
) -> None:
    assert detector.judge(GERMAN, "en") == "de"
    assert detector.judge("OK.", "de") is None  # too short: the caller keeps German
    assert detector.judge("Ich bin müde.", "en") == "de"
    assert detector.judge(BACK, "de") == "en"
    assert detector.judge(RUSSIAN, "en") == "ru"  # another script: at once
    assert detector.judge("東京は日本の首都です。", "en") == "ja"
    assert detector.judge("北京是中国的首都。", "en") == "zh"


@pytest.fixture(scope="module")
def engine():
    choice = choose_engine(config=Config())
    choice.engine.load()
    return choice.engine


def pieces(engine, text: str, **settings):
    return list(synthesize(engine, Utterance(text=text, **settings), threading.Event()))


def test_sentences_with_no_voice_are_told_once_and_skipped(engine) -> None:
    text = " ".join([ENGLISH, RUSSIAN, RUSSIAN_2, BACK, GERMAN])
    spoken = pieces(engine, text)
    notices = [p.notice for p in spoken if p.notice]
    assert notices == [
        "No Russian voice is installed. Run: readaloud voice download ru. "
        "The Russian sentences are skipped.",
        "No German voice is installed. Run: readaloud voice download de. "
        "The German sentences are skipped.",
    ]
    by_segment = {}
    for piece in spoken:
        by_segment.setdefault(piece.segment.text, set()).add(piece.language)
    assert by_segment[ENGLISH] == {"en"} and by_segment[BACK] == {"en"}
    assert by_segment[RUSSIAN] == {"ru"}  # the notice, heard in its place
    assert RUSSIAN_2 not in by_segment  # told once: the second one is skipped silently
    for piece in spoken:  # a notice's words are not the page's: no word events for them
        if piece.language != "en":
            assert piece.chunk.words == ()


def test_text_too_short_to_judge_is_asked_for_as_it_came(engine) -> None:
    """A key echo ("a") is the same request the echo set and the short-text cache hold: no
    language of its own, the engine's default."""
    assert {p.language for p in pieces(engine, "a")} == {None}
    anyway = choose_engine(config=parse('[speech]\nmissing_voice = "read-anyway"\n')).engine
    spoken = pieces(anyway, f"{GERMAN} OK.")
    assert {p.language for p in spoken if p.segment.text == "OK."} == {"de"}  # kept, not reset


def test_read_anyway_reads_them_with_the_default_voice(engine) -> None:
    anyway = choose_engine(config=parse('[speech]\nmissing_voice = "read-anyway"\n')).engine
    spoken = pieces(anyway, f"{ENGLISH} {RUSSIAN}")
    notices = [p.notice for p in spoken if p.notice]
    assert len(notices) == 1 and "read with the default voice" in notices[0]
    assert {p.segment.text for p in spoken} == {ENGLISH, RUSSIAN}


def test_a_request_that_names_its_language_is_read_in_it(engine) -> None:
    spoken = pieces(engine, f"{ENGLISH} {GERMAN}", language="en")
    assert not [p for p in spoken if p.notice]
    assert {p.segment.text for p in spoken} == {ENGLISH, GERMAN}


def test_by_language_names_the_voice_that_reads_a_language() -> None:
    config = parse('[voices]\nby_language = { en = "en_US-joe-medium" }\n')
    spoken = pieces(choose_engine(config=config).engine, ENGLISH)
    assert {p.voice for p in spoken} == {"en_US-joe-medium"}


def test_louder_is_limited_not_clipped(engine) -> None:
    plain = np.concatenate([p.chunk.samples for p in pieces(engine, ENGLISH, language="en")])
    loud = np.concatenate(
        [p.chunk.samples for p in pieces(engine, ENGLISH, language="en", volume=2.0)]
    )
    assert np.abs(loud).max() < 10 ** (-1 / 20) + 1e-6  # held under -1 dB
    rms = lambda a: float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))  # noqa: E731
    assert rms(loud) > 1.6 * rms(plain)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"temperature": 9.0}, "temperature 9 is out of range; use 0.01 to 2"),
        ({"top_p": 0.0}, "top_p 0 is out of range"),
        ({"top_k": 0}, "top_k 0 is out of range"),
        ({"repetition_penalty": 50.0}, "repetition_penalty 50 is out of range"),
    ],
)
def test_bad_sampling_is_refused_for_every_engine(settings: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Sampling(**settings)


def test_volume_out_of_range_is_refused() -> None:
    with pytest.raises(BadInput, match="use 0 .silent. to 2"):
        Utterance(text="Hello there.", volume=2.5)
