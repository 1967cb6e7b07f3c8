"""Language detection for requests that give no language: short, long and mixed texts."""

from __future__ import annotations

import pytest

from readaloud.text.language import LanguageDetector
from readaloud.text.segment import split

XTTS_LANGUAGES = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh", "hu", "ko",
    "ja", "hi",
)  # fmt: skip


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    detector = LanguageDetector(XTTS_LANGUAGES)
    detector.preload()
    return detector


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The library opened its doors in the spring of that year.", "en"),
        ("Die Bibliothek öffnete im Frühling jenes Jahres ihre Türen.", "de"),
        ("La bibliothèque a ouvert ses portes au printemps de cette année-là.", "fr"),
        ("La biblioteca abrió sus puertas en la primavera de ese año.", "es"),
        ("La biblioteca aprì le sue porte nella primavera di quell'anno.", "it"),
        ("A biblioteca abriu as suas portas na primavera daquele ano.", "pt"),
        ("Biblioteka otworzyła swoje drzwi wiosną tego roku.", "pl"),
        ("Kütüphane o yılın baharında kapılarını açtı.", "tr"),
        ("Библиотека открыла свои двери весной того года.", "ru"),
        ("De bibliotheek opende haar deuren in de lente van dat jaar.", "nl"),
        ("Knihovna otevřela své dveře na jaře toho roku.", "cs"),
        ("فتحت المكتبة أبوابها في ربيع ذلك العام.", "ar"),
        ("图书馆在那年春天开门了。", "zh"),
        ("A könyvtár abban az évben tavasszal nyitotta meg kapuit.", "hu"),
        ("도서관은 그해 봄에 문을 열었다.", "ko"),
        ("図書館はその年の春に開館した。", "ja"),
        ("पुस्तकालय ने उस वर्ष वसंत में अपने दरवाजे खोले।", "hi"),
    ],
)
def test_a_sentence_in_each_xtts_language(detector: LanguageDetector, text, expected) -> None:
    assert detector.detect(text) == expected


@pytest.mark.parametrize("text", ["OK", "Tab", "Hello", "x", "Ctrl+Alt+Delete", "ciao", "42", "…"])
def test_text_too_short_to_tell_gets_the_default(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) is None
    assert detector.language_of(text, "en") == "en"
    assert detector.language_of(text, "de") == "de"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Привет", "ru"),
        ("こんにちは", "ja"),
        ("안녕하세요", "ko"),
        ("谢谢", "zh"),
        ("Guten Tag", "de"),
    ],
)
def test_a_word_or_two_in_a_distinctive_script_or_spelling(detector, text, expected) -> None:
    assert detector.detect(text) == expected


def test_a_mixed_text_is_told_apart_segment_by_segment(detector: LanguageDetector) -> None:
    text = (
        "This report is written in English for most readers.\n\n"
        "Dieser Abschnitt ist für die Kolleginnen und Kollegen in Berlin geschrieben.\n\n"
        "Ce dernier paragraphe s'adresse à l'équipe de Paris.\n\n"
        "Спасибо всем за внимание."
    )
    segments = split(text, None, first_fragment_words=0)
    assert [detector.language_of(s.text, "en") for s in segments] == ["en", "de", "fr", "ru"]


def test_a_quotation_does_not_flip_a_long_sentence(detector: LanguageDetector) -> None:
    text = (
        "When we arrived in Munich, the waiter greeted us with a cheerful 'Guten Morgen' and "
        "then explained the whole breakfast menu to us in perfect English."
    )
    assert detector.detect(text) == "en"


def test_only_the_given_languages_are_candidates() -> None:
    english_and_german = LanguageDetector(["en", "de-AT"])
    assert english_and_german.languages == ["de", "en"]
    assert english_and_german.detect("Dit is een zin in het Nederlands, geen Duits.") in (
        "de",
        "en",
        None,
    )
    assert LanguageDetector(["en"]).detect("Dies ist ein deutscher Satz.") is None  # no choice
