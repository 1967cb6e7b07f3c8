"""The XTTS v2 engine behind the Engine protocol: load once, warm up, stream cloned voices."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from readaloud.engines.base import AudioChunk, SynthesisRequest, Voice, WordTiming
from readaloud.engines.xtts.checkpoint import ModelFiles, default_model_dir
from readaloud.engines.xtts.languages import (
    LANGUAGES,
    chars_per_second,
    model_language,
    xtts_language,
)
from readaloud.engines.xtts.options import XttsOptions
from readaloud.engines.xtts.voices import (
    VoiceStore,
    XttsVoice,
    default_voices_dir,
    read_studio_voices,
    studio_id,
)
from readaloud.errors import BadInput, EngineError, ReadaloudError, UnknownVoice

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 24000
_WARM_UP_TEXT = "Hello."
_WARM_UP_TOKENS = 6
# Estimated text positions err this much on the early side (a word repeated, never one lost).
_POSITION_MARGIN = 0.75
#: Words, for the estimated word timings; and the level where a chunk's sound begins.
_WORD_RUN = re.compile(r"\S+")
_WORD_ONSET = 0.01


class VoiceMismatch(UnknownVoice):
    """An enrolled voice was made with another model; it must be enrolled again."""


class XttsEngine:
    """XTTS v2. ``load`` puts the model on the device and warms it up; ``stream`` speaks."""

    name = "xtts"
    #: Concurrent streams share each GPT step (decoder.py): they need not take turns.
    batches = True

    def __init__(self, options: XttsOptions | None = None) -> None:
        self.options = options or XttsOptions()
        self.store = VoiceStore(self.options.voices_dir or default_voices_dir())
        # Set by load(); the model classes import PyTorch, so they are not named at import.
        self._loaded: Any = None  # loader.LoadedModel
        self._synthesizer: Any = None  # streaming.Synthesizer
        self._studio: dict[str, XttsVoice] | None = None
        self._conditioning: dict[tuple[str, float], object] = {}
        self._lock = threading.Lock()
        self._speaking = 0  # streams under way: the model is not unloaded under them
        self._idle_timer: threading.Timer | None = None
        #: How many times an idle model was unloaded ([xtts] unload_after_s).
        self.unloads = 0

    # -- model ---------------------------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        return self.options.model_dir or default_model_dir()

    def model_files(self) -> ModelFiles:
        return ModelFiles.open(self.model_dir)

    @property
    def loaded(self):  # -> LoadedModel | None
        return self._loaded

    @property
    def sample_rate(self) -> int:
        if self._loaded is not None:
            return self._loaded.sample_rate
        try:
            config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
            return int(config.get("model_args", {}).get("output_sample_rate", DEFAULT_SAMPLE_RATE))
        except (OSError, ValueError, TypeError, AttributeError):
            return DEFAULT_SAMPLE_RATE

    def load(self, warm_up: bool | None = None) -> None:
        """Load the model on its device; then one short synthesis so the first request is warm."""
        with self._lock:
            if self._loaded is not None:
                return
            from readaloud.engines.xtts.loader import load_model, placement_for
            from readaloud.engines.xtts.streaming import Synthesizer

            files = self.model_files()
            placement = placement_for(self.options.device, self.options.precision)
            began = time.perf_counter()
            loaded = load_model(files, placement)
            self._synthesizer = Synthesizer(
                loaded.model, loaded.dtype, self.options.stream, loaded.inference_settings
            )
            self._loaded = loaded
            self._studio = None
            log.info("XTTS ready in %.1f s", time.perf_counter() - began)
        if self.options.warm_up if warm_up is None else warm_up:
            self._warm_up()

    def _warm_up(self) -> None:
        import torch

        from readaloud.engines.xtts.streaming import Conditioning

        loaded = self._loaded
        channels = int(loaded.model.args.gpt_n_model_channels)
        embedding = torch.ones(1, int(loaded.model.args.d_vector_dim), 1, device=loaded.device)
        silent = Conditioning(
            gpt_cond_latent=torch.zeros(1, 32, channels, device=loaded.device),
            speaker_embedding=embedding / embedding.norm(),
        )
        # The default voice when there is one: its part of the prompt is then kept for the
        # first request (decoder.py).
        try:
            voice = self._conditioning_for(self.default_voice())
        except ReadaloudError:
            voice = silent
        began = time.perf_counter()
        language = self.options.language if self.options.language in LANGUAGES else "en"
        limit = {"max_new_tokens": _WARM_UP_TOKENS, "min_new_tokens": _WARM_UP_TOKENS}
        for _ in self._synthesizer.stream(
            _WARM_UP_TEXT, model_language(language), voice, threading.Event(), generation=limit
        ):
            pass
        log.info("XTTS warmed up in %.2f s", time.perf_counter() - began)

    # -- voices and languages -------------------------------------------------------------------

    def studio_voices(self) -> dict[str, XttsVoice]:
        if self._studio is None:
            try:
                speakers = self.model_files().speakers
            except EngineError:
                speakers = None
            self._studio = read_studio_voices(speakers)
        return self._studio

    def voices(self) -> list[Voice]:
        voices = []
        for name in self.store.names():
            try:
                description = self.store.load(name).description
            except ReadaloudError as error:
                description = f"(unusable: {error})"
            voices.append(Voice(name, self.name, LANGUAGES, f"enrolled, {description}"))
        enrolled = set(self.store.names())
        voices += [
            Voice(v.id, self.name, LANGUAGES, v.description)
            for v in self.studio_voices().values()
            if v.id not in enrolled
        ]
        return voices

    def has_voice(self, voice_id: str) -> bool:
        try:
            return voice_id in self.store or studio_id(voice_id) in self.studio_voices()
        except ReadaloudError:
            return False

    def languages(self) -> list[str]:
        return list(LANGUAGES)

    def default_voice(self) -> str:
        if self.options.voice:
            return self.options.voice
        studio = self.studio_voices()
        if studio:
            return next(iter(studio))
        names = self.store.names()
        if names:
            return names[0]
        raise UnknownVoice(
            "XTTS has no voice yet: enrol one with 'readaloud voice add NAME clip.wav' "
            "(6 s or more of clean speech)."
        )

    def validate(self, voice: str | None, language: str | None) -> None:
        if language:
            xtts_language(language)
        voice_id = voice or self.default_voice()
        if not self.has_voice(voice_id):
            raise UnknownVoice(
                f"Unknown voice '{voice_id}'. Run 'readaloud voices' to list the voices, or "
                f"enrol it: readaloud voice add {voice_id} clip.wav"
            )

    def voice(self, voice_id: str) -> XttsVoice:
        if voice_id in self.store:
            return self.store.load(voice_id)
        studio = self.studio_voices().get(studio_id(voice_id))  # "Ana Florence" works too
        if studio is None:
            raise UnknownVoice(
                f"Unknown voice '{voice_id}'. Run 'readaloud voices' to list the voices."
            )
        return studio

    def _conditioning_for(self, voice_id: str):  # -> streaming.Conditioning
        import torch

        from readaloud.engines.xtts.streaming import Conditioning

        path = self.store.path(voice_id) if voice_id in self.store else None
        key = (voice_id, path.stat().st_mtime if path else 0.0)
        cached = self._conditioning.get(key)
        if cached is not None:
            return cached
        voice = self.voice(voice_id)
        loaded = self._loaded
        if voice.fingerprint and voice.fingerprint != loaded.fingerprint:
            raise VoiceMismatch(
                f"Voice '{voice_id}' was enrolled with another XTTS model; enrol it again: "
                f"readaloud voice add --replace {voice_id} CLIP.wav"
            )
        conditioning = Conditioning(
            gpt_cond_latent=torch.from_numpy(voice.gpt_cond_latent).to(loaded.device),
            speaker_embedding=torch.from_numpy(voice.speaker_embedding).to(loaded.device),
        )
        self._conditioning = {k: v for k, v in self._conditioning.items() if k[0] != voice_id}
        self._conditioning[key] = conditioning
        return conditioning

    # -- enrolment ------------------------------------------------------------------------------

    def enrol(self, name: str, clips: Sequence[Path], *, replace: bool = False) -> XttsVoice:
        """Compute a voice from ``clips`` and store it; clips are checked before the model loads."""
        from readaloud.engines.xtts.enrol import compute_voice, read_clips
        from readaloud.engines.xtts.voices import check_name

        name = check_name(name)
        if name in self.store and not replace:
            raise BadInput(
                f"A voice named '{name}' exists already; pick another name, or replace it: "
                f"readaloud voice add --replace {name} ..."
            )
        checked = read_clips(clips)
        self.load(warm_up=False)
        voice = compute_voice(self._loaded, name, checked)
        self.store.save(voice, replace=replace)
        return voice

    # -- speech ---------------------------------------------------------------------------------

    def unload(self) -> None:
        """Free the model (and the GPU memory it holds); the next request loads it again.
        ``unloads`` counts up once all is freed."""
        with self._lock:
            if self._loaded is None or self._speaking:
                return
            if self._idle_timer is not None and self._idle_timer is not threading.current_thread():
                self._idle_timer.cancel()
            self._idle_timer = None
            placement = self._loaded.placement
            self._synthesizer.decoder.close()  # its thread lets go of the model
            self._loaded = self._synthesizer = None
            self._conditioning = {}
            import gc

            gc.collect()
            if placement.is_cuda:
                import torch

                torch.cuda.empty_cache()
            self.unloads += 1
        after = self.options.unload_after_s
        log.info("XTTS unloaded after %.0f s unused; the next request loads it again", after)

    def stream(
        self,
        request: SynthesisRequest,
        cancel: threading.Event,
    ) -> Iterator[AudioChunk]:
        with self._lock:
            self._speaking += 1
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
        try:
            yield from self._speak(request, cancel)
        finally:
            with self._lock:
                self._speaking -= 1
                if not self._speaking and self.options.unload_after_s > 0:
                    self._idle_timer = threading.Timer(self.options.unload_after_s, self.unload)
                    self._idle_timer.daemon = True
                    self._idle_timer.start()

    def _speak(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[AudioChunk]:
        language = request.language
        code = xtts_language(language) if language else xtts_language(self.options.language)
        voice_id = request.voice or self.default_voice()
        if self._loaded is None:
            self.load()
        conditioning = self._conditioning_for(voice_id)
        sampling = request.sampling.over(self.options.sampling).given()
        if "top_k" in sampling:
            sampling["top_k"] = int(sampling["top_k"])
        for start, piece in _pieces(request.text, code):
            yield from self._stream_piece(
                piece, start, code, conditioning, request.rate, cancel, sampling
            )
            if cancel.is_set():
                return
        self._log_memory()

    def _stream_piece(
        self,
        piece: str,
        offset: int,
        code: str,
        conditioning,
        speed: float,
        cancel: threading.Event,
        sampling: dict[str, float] | None = None,
    ) -> Iterator[AudioChunk]:
        rate = self.sample_rate
        spoken_s = 0.0
        position = offset
        pending: np.ndarray | None = None
        try:
            audio_pieces = self._synthesizer.stream(
                piece, model_language(code), conditioning, cancel, speed=speed, generation=sampling
            )
            for audio in audio_pieces:
                # One piece of lookahead, so the last chunk can claim the rest of the text.
                if pending is not None:
                    spoken_s += len(pending) / rate
                    end = _estimated_end(piece, offset, spoken_s * speed, code, position)
                    yield _with_words(AudioChunk(pending, rate, position, end), piece, offset)
                    position = end
                pending = audio
        except ReadaloudError:
            raise
        except Exception as error:
            raise EngineError(
                f"XTTS failed while speaking: {type(error).__name__}: {error}"
            ) from error
        if pending is not None and not cancel.is_set():
            chunk = AudioChunk(pending, rate, position, offset + len(piece))
            yield _with_words(chunk, piece, offset)

    def _log_memory(self) -> None:
        if self._loaded is None or not self._loaded.placement.is_cuda:
            return
        import torch

        log.debug(
            "GPU memory after utterance: %.1f MB allocated, %.1f MB reserved",
            torch.cuda.memory_allocated() / 1e6,
            torch.cuda.memory_reserved() / 1e6,
        )


def _pieces(text: str, code: str) -> list[tuple[int, str]]:
    """``text`` as (offset, piece) parts within the language's character limit."""
    from readaloud.text.segment import max_chars_for, split

    limit = max_chars_for(code)
    if len(text) <= limit:
        return [(0, text)]
    return [
        (s.start, text[s.start : s.end])
        for s in split(text, code, max_chars=limit, first_fragment_words=0)
    ]


def _with_words(chunk: AudioChunk, piece: str, offset: int) -> AudioChunk:
    """The chunk with the words that begin in its text span, each placed in its sound by its
    share of the span's characters: an estimate (XTTS gives no timing), marked as such."""
    span = piece[chunk.start - offset : chunk.end - offset]
    if not span.strip():
        return chunk
    loud = np.flatnonzero(np.abs(chunk.samples) > _WORD_ONSET)
    first = loud[0] / chunk.sample_rate if loud.size else 0.0
    last = (loud[-1] + 1) / chunk.sample_rate if loud.size else chunk.duration
    words = tuple(
        WordTiming(
            chunk.start + match.start(),
            chunk.start + match.end(),
            first + (last - first) * match.start() / len(span),
            estimated=True,
        )
        for match in _WORD_RUN.finditer(span)
    )
    return dataclasses.replace(chunk, words=words)


def _estimated_end(piece: str, offset: int, seconds: float, code: str, floor: int) -> int:
    """Where in the text ``seconds`` of speech probably got to, snapped back to a word start."""
    reach = int(_POSITION_MARGIN * seconds * chars_per_second(code))
    if reach >= len(piece):
        reach = len(piece) - 1
    cut = piece.rfind(" ", 0, max(reach, 0) + 1)
    end = offset + (cut + 1 if cut >= 0 else 0)
    return max(end, floor)
