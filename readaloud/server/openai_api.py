"""The OpenAI-compatible speech API, for Open WebUI, Read Aloud's custom server option, the
``openai`` client and another readaloud's remote engine.

Routes: POST /v1/audio/speech; GET /v1/models, /v1/models/{id}, /v1/audio/voices,
/v1/audio/models. Read Aloud appends ``/models`` and ``/audio/speech`` to whatever base URL the
user typed, so both also answer without the ``/v1`` prefix.

Audio is streamed while it is made: the first bytes leave after the first text fragment is
synthesized, not after the whole input. Everything is made at 24 kHz mono (OpenAI's ``pcm`` rate);
a client that goes away stops the synthesis made for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, Literal

import numpy as np
import soxr
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from readaloud.audio.encode import FORMATS, Encoder
from readaloud.engines.base import MAX_RATE, MIN_RATE, Engine
from readaloud.errors import UnknownVoice
from readaloud.server.errors import error_fields, error_response
from readaloud.server.services import VOICE_ID, Services
from readaloud.speech.scheduler import QueueFull
from readaloud.speech.segments import SegmentSource
from readaloud.speech.synthesis import prepare, synthesize
from readaloud.speech.utterance import Utterance
from readaloud.text.segment import Segment

log = logging.getLogger(__name__)

#: OpenAI's voice names; each speaks with a configured local voice (default: the engine's own).
OPENAI_VOICES = (
    *("alloy", "ash", "ballad", "coral", "echo", "fable"),
    *("nova", "onyx", "sage", "shimmer", "verse"),
)
#: Model names clients send; all of them are the daemon's engine.
MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "readaloud")
#: OpenAI's ``pcm`` is 24 kHz; every format is made at that rate, whatever the engine's own.
API_SAMPLE_RATE = 24_000
MAX_INPUT_CHARS = 4096
#: Encoded pieces the synthesis thread may run ahead of a slow reader.
_MAX_PENDING = 64


class VoiceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: Annotated[str, Field(min_length=1, max_length=128)]


class SpeechRequest(BaseModel):
    # Clients add fields of their own (normalization options, lang_code, ...): ignore them.
    model_config = ConfigDict(extra="ignore")

    model: str = Field("tts-1", max_length=256, description="Any name; the daemon's engine speaks.")
    input: str = Field(..., max_length=MAX_INPUT_CHARS, description="The text to speak.")
    voice: str | VoiceRef | None = Field(
        None, description="An OpenAI voice name, a voice id from /v1/audio/voices, or {'id': ...}."
    )
    instructions: str | None = Field(None, description="Accepted and ignored.")
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=MIN_RATE, le=MAX_RATE)
    stream_format: Literal["audio", "sse"] = "audio"
    language: Annotated[str, Field(max_length=35)] | None = Field(
        None, description="readaloud extension: the language code of the input (en, pt-BR)."
    )


class OpenAISpeech:
    """The state the OpenAI-compatible routes share: the voice map and the stream slots.

    It speaks through ``services.scheduler.engine`` (shared with the speech queue);
    ``[openai] voices`` maps OpenAI voice names to local voice ids (unmapped names use the
    default voice) and ``max_streams`` caps the syntheses running at once (more get 429).
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.voice_map = {
            name.lower(): local for name, local in services.openai_voices.items() if local
        }
        self.max_streams = services.openai_max_streams
        self._slots = threading.BoundedSemaphore(self.max_streams)
        self._voice_id = re.compile(VOICE_ID)

    @property
    def engine(self) -> Engine:
        return self.services.scheduler.engine

    def local_voice(self, voice: str | VoiceRef | None) -> str | None:
        name = voice.id if isinstance(voice, VoiceRef) else voice
        if not name:
            return self.services.default_voice
        if name.lower() in OPENAI_VOICES:
            return self.voice_map.get(name.lower()) or self.services.default_voice
        if not self._voice_id.fullmatch(name):
            raise UnknownVoice(_unknown_voice(name))
        return name

    async def speech(self, request: SpeechRequest) -> StreamingResponse:
        voice = self.local_voice(request.voice)
        utterance = Utterance(
            text=request.input,
            voice=voice,
            language=request.language,  # None: detected, else [speech] language
            rate=request.speed,
        )
        words = self.services.scheduler.first_fragment_words
        try:
            segments = await run_in_threadpool(prepare, self.engine, utterance, words)
        except UnknownVoice:
            if voice is None:
                raise  # the configured default voice is missing: the engine's message says so
            raise UnknownVoice(_unknown_voice(voice)) from None
        if not self._slots.acquire(blocking=False):
            raise QueueFull(
                f"{self.max_streams} speech requests are already being answered; try again shortly."
            )
        cancel = threading.Event()
        released = threading.Event()

        def close() -> None:
            cancel.set()  # the client is gone or the response is done: stop synthesizing
            if not released.is_set():
                released.set()
                self._slots.release()

        audio = _AudioStream(self.engine, utterance, segments, request.response_format, cancel)
        if request.stream_format == "sse":
            return _SpeechResponse(
                _sse(audio.chunks()),
                on_close=close,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store"},
            )
        return _SpeechResponse(
            audio.chunks(),
            on_close=close,
            media_type=FORMATS[request.response_format].media_type,
            headers={"Cache-Control": "no-store"},
        )

    def client_audio(
        self, utterance: Utterance, segments: SegmentSource, cancel: threading.Event
    ) -> tuple[_AudioStream, Callable[[], None]]:
        """Audio for a client that plays it itself (``/v1/stream`` with ``audio: "pcm"``):
        24 kHz 16-bit PCM with a ``segment_start`` event before each segment, in one of the
        same slots; call the returned ``release`` when done."""
        if not self._slots.acquire(blocking=False):
            raise QueueFull(
                f"{self.max_streams} audio streams are already being made; try again shortly."
            )
        released = threading.Event()

        def release() -> None:
            cancel.set()
            if not released.is_set():
                released.set()
                self._slots.release()

        audio = _AudioStream(
            self.engine, utterance, segments, "pcm", cancel, segment_events=True
        )
        return audio, release

    def voices(self) -> dict[str, Any]:
        default = self.services.default_voice  # None: the engine's own default voice
        named = [
            {
                "id": name,
                "name": name,
                "object": "voice",
                "speaks_with": self.voice_map.get(name) or default,
            }
            for name in OPENAI_VOICES
        ]
        own = [
            {
                "id": v.id,
                "name": v.description or v.id,
                "object": "voice",
                "engine": v.engine,
                "languages": list(v.languages),
            }
            for v in self.engine.voices()
        ]
        return {"object": "list", "default": default, "voices": named + own}


async def _openai_of(request: Request) -> OpenAISpeech:
    # async: a sync dependency would run in the thread pool (see services.services_of).
    api: OpenAISpeech = request.app.state.openai
    return api


OpenAIDep = Annotated[OpenAISpeech, Depends(_openai_of)]

router = APIRouter(tags=["OpenAI-compatible"])
#: The audio in the format asked for, or OpenAI's events with stream_format "sse".
_STREAMED: dict[str, Any] = {f.media_type: {} for f in FORMATS.values()}
_STREAMED["text/event-stream"] = {}


@router.post(
    "/v1/audio/speech",
    response_class=StreamingResponse,
    responses={200: {"content": _STREAMED}},
)
async def speech(request: SpeechRequest, api: OpenAIDep) -> StreamingResponse:
    """Speak ``input``; the audio streams back as it is synthesized."""
    return await api.speech(request)


@router.get("/v1/models")
def models() -> dict[str, Any]:
    """The model names this server answers to (OpenAI's list shape)."""
    return {"object": "list", "data": [_model(name) for name in MODELS]}


@router.get("/v1/models/{model_id}")
def model(model_id: str) -> Any:
    if model_id not in MODELS:
        return error_response(
            404, "model_not_found", f"The model '{model_id}' does not exist.", "model"
        )
    return _model(model_id)


@router.get("/v1/audio/voices")
def audio_voices(api: OpenAIDep) -> dict[str, Any]:
    """OpenAI's names (and the local voice each speaks with; null: the engine's default),
    then the engine's own voices."""
    return api.voices()


@router.get("/v1/audio/models")
def audio_models() -> dict[str, Any]:
    """Open WebUI's shape for an OpenAI-compatible server's speech models."""
    return {"models": [{"id": name, "name": name} for name in MODELS]}


# The same without /v1, for a base URL typed without it (Read Aloud's custom server).
router.add_api_route("/audio/speech", speech, methods=["POST"], include_in_schema=False)
router.add_api_route("/models", models, methods=["GET"], include_in_schema=False)


def _unknown_voice(name: str) -> str:
    return (
        f"Unknown voice '{name}'. Use an OpenAI voice name ({', '.join(OPENAI_VOICES)}) "
        "or a voice id from GET /v1/audio/voices."
    )


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "readaloud"}


class _SpeechResponse(StreamingResponse):
    """A streaming response that always runs ``on_close`` when it ends, however it ends:
    finished, client gone (Starlette cancels the send), or never iterated at all."""

    def __init__(
        self,
        content: AsyncIterator[bytes] | AsyncIterator[str],
        *,
        on_close: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


class _AudioStream:
    """Synthesis, resampling and encoding on a thread of its own; encoded bytes reach the
    event loop through a queue, with at most ``_MAX_PENDING`` pieces waiting."""

    def __init__(
        self,
        engine: Engine,
        utterance: Utterance,
        segments: list[Segment] | SegmentSource,
        response_format: str,
        cancel: threading.Event,
        *,
        segment_events: bool = False,
    ) -> None:
        self.engine = engine
        self.utterance = utterance
        self.segments = segments
        self.response_format = response_format
        self.cancel = cancel
        #: Put a ``segment_start`` event (a dict) before each segment's audio.
        self.segment_events = segment_events
        self._slots = threading.Semaphore(_MAX_PENDING)

    async def chunks(self) -> AsyncIterator[bytes]:
        async for item in self.items():
            if isinstance(item, bytes):
                yield item

    async def items(self) -> AsyncIterator[bytes | dict[str, Any]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()

        def deliver(item: object) -> bool:
            while not self._slots.acquire(timeout=0.1):  # the reader is slow: wait for it
                if self.cancel.is_set():
                    return False
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is closed: the daemon is going away
                self.cancel.set()
                return False
            return True

        # Started on the first read, so a response that is never sent starts nothing.
        thread = threading.Thread(
            target=self._produce, args=(deliver,), name="readaloud-openai-speech", daemon=True
        )
        thread.start()
        try:
            while True:
                item = await queue.get()
                self._slots.release()
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                assert isinstance(item, bytes | dict)
                yield item
        finally:
            self.cancel.set()

    def _produce(self, deliver: Callable[[object], bool]) -> None:
        try:
            for data in self._encoded():
                if data and not deliver(data):
                    return
        except Exception as error:  # noqa: BLE001 - reported to the response, which aborts
            log.warning("OpenAI-style speech failed: %s: %s", type(error).__name__, error)
            deliver(_Failed(error))
            return
        if not self.cancel.is_set():
            deliver(_END)

    def _encoded(self) -> Iterator[bytes | dict[str, Any]]:
        encoder = Encoder(self.response_format, API_SAMPLE_RATE)
        resampler: soxr.ResampleStream | None = None
        in_rate = API_SAMPLE_RATE
        index = -1
        try:
            spoken = synthesize(self.engine, self.utterance, self.cancel, segments=self.segments)
            for piece in spoken:
                if self.segment_events and piece.index != index:
                    index, segment = piece.index, piece.segment
                    if resampler is not None:  # the audio before it goes out whole first
                        yield encoder.encode(resampler.resample_chunk(_EMPTY, last=True))
                        resampler, in_rate = None, API_SAMPLE_RATE
                    yield {
                        "type": "segment_start",
                        "index": index,
                        "start": segment.start,
                        "end": segment.end,
                        "text": segment.text,
                    }
                chunk = piece.chunk
                if chunk.sample_rate != in_rate:
                    if resampler is not None:
                        yield encoder.encode(resampler.resample_chunk(_EMPTY, last=True))
                    in_rate = chunk.sample_rate
                    resampler = None
                    if in_rate != API_SAMPLE_RATE:
                        # One resampler for the whole stream: no click at chunk joins.
                        resampler = soxr.ResampleStream(
                            in_rate, API_SAMPLE_RATE, 1, dtype="float32", quality="HQ"
                        )
                samples = chunk.samples.astype(np.float32, copy=False)
                if resampler is not None:
                    samples = resampler.resample_chunk(samples)
                yield encoder.encode(samples)
            if self.cancel.is_set():
                return
            if resampler is not None:
                yield encoder.encode(resampler.resample_chunk(_EMPTY, last=True))
            yield encoder.finish()
        finally:
            encoder.close()


_EMPTY = np.zeros(0, dtype=np.float32)


async def _sse(audio: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """OpenAI's speech events: ``speech.audio.delta`` with base64 audio, then ``.done``."""
    try:
        async for data in audio:
            event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
            yield f"data: {json.dumps(event)}\n\n"
    except Exception as error:  # noqa: BLE001 - told to the client as an event
        failure = error_fields(type(error).__name__, str(error))
        yield f"data: {json.dumps({'type': 'error', **failure})}\n\n"
        return
    # readaloud counts no tokens; the field is there for clients that read it.
    usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    yield f"data: {json.dumps({'type': 'speech.audio.done', 'usage': usage})}\n\n"
