"""The 17 languages XTTS v2 speaks, as readaloud names them and as the model's tokenizer does."""

from __future__ import annotations

from readaloud.engines.languages import base_language
from readaloud.errors import UnsupportedLanguage

#: readaloud's codes (ISO 639-1, what ``readaloud voices`` shows) in the model's order.
LANGUAGES: tuple[str, ...] = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh", "hu", "ko",
    "ja", "hi",
)  # fmt: skip

# The tokenizer knows Chinese as "zh-cn"; every other code is the same.
_MODEL_CODES = {"zh": "zh-cn"}

#: Typical speaking speed in characters per second, used to place a chunk in its text when the
#: model does not say (failover resumes there). Erring low repeats a word rather than drop one.
CHARS_PER_SECOND: dict[str, float] = {"zh": 4.0, "ja": 6.0, "ko": 6.0}
DEFAULT_CHARS_PER_SECOND = 13.0


def xtts_language(code: str) -> str:
    """readaloud's code for ``code`` ("en-GB" → "en", "zh-CN" → "zh"), or UnsupportedLanguage."""
    try:
        base = base_language(code)
    except ValueError:
        raise UnsupportedLanguage(
            f"'{code}' is not a language code; use one like en, de or pt-BR."
        ) from None
    if base not in LANGUAGES:
        raise UnsupportedLanguage(
            f"XTTS does not speak '{code}'. It speaks: {', '.join(LANGUAGES)}. "
            "Pick one of them with --lang, or use a Piper voice for this language."
        )
    return base


def model_language(code: str) -> str:
    """The tokenizer's code for one of ``LANGUAGES``."""
    return _MODEL_CODES.get(code, code)


def chars_per_second(code: str) -> float:
    return CHARS_PER_SECOND.get(code, DEFAULT_CHARS_PER_SECOND)
