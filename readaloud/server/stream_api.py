"""WebSocket /v1/stream: text that a program makes while it waits (an LLM answer, a chat, a log)
is spoken as it arrives, sentence by sentence, and the client hears back its utterance's events.

The protocol (README, "Streaming text"):

* Token: the subprotocol ``readaloud.token.<token>`` (the daemon answers ``readaloud``), or a
  first message ``{"type": "auth", "token": ...}``; never in the URL. None on the Unix socket.
  The Host and Origin checks are the HTTP ones (``security.py``).
* Then an optional ``{"type": "start", ...}`` with voice, language, rate, pitch, volume, mode
  (interrupt or queue), lines, keep_up, flush_s. The daemon answers ``{"type": "accepted",
  "id": ...}`` and sends every event of that utterance as ``/v1/events`` does.
* Text comes as ``{"type": "text", "text": ...}`` or as binary frames of UTF-8 (a character may
  be split between frames); ``{"type": "flush"}`` speaks what has come; ``{"type": "end"}``
  ends the input (the rest is spoken, ``utterance_end`` follows, the daemon closes);
  ``{"type": "stop"}`` silences it at once and drops the rest.
* Bad input (not UTF-8, a NUL, a piece over 64 KB, text over 1 MB ahead of the speech, an
  unknown message) gets ``{"type": "error", "code", "message"}`` and a close; what came before
  it is still spoken. A client that goes away, or sends nothing for ``idle_s``, ends its input
  the same way: what it sent is spoken to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from readaloud.config import MAX_RATE, MIN_RATE
from readaloud.engines.base import Sampling
from readaloud.errors import BadInput, ReadaloudError
from readaloud.server.openai_api import API_SAMPLE_RATE
from readaloud.server.security import AUTHENTICATED, PROTOCOL, TOKEN_PROTOCOL
from readaloud.server.services import VOICE_ID, Services, voice_settings_of
from readaloud.speech.events import Event, Stopping, UtteranceEnded
from readaloud.speech.scheduler import Mode
from readaloud.speech.stream import StreamOptions, TextStream, TooMuch
from readaloud.speech.utterance import MAX_PITCH, MAX_VOLUME, Utterance

log = logging.getLogger(__name__)

router = APIRouter()

#: Close codes (RFC 6455): normal, going away, policy (token), bad data, too big.
NORMAL, GOING_AWAY, POLICY, INVALID_DATA, TOO_BIG = 1000, 1001, 1008, 1007, 1009
AUTH_TIMEOUT_S = 10.0


class StreamStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["start"]
    voice: Annotated[str, Field(pattern=VOICE_ID)] | None = None
    language: Annotated[str, Field(max_length=35)] | None = None
    rate: float | None = Field(None, ge=MIN_RATE, le=MAX_RATE, strict=True)
    pitch: float | None = Field(None, ge=-MAX_PITCH, le=MAX_PITCH, strict=True)
    volume: float | None = Field(None, ge=0.0, le=MAX_VOLUME, strict=True)
    temperature: float | None = Field(None, strict=True)
    top_p: float | None = Field(None, strict=True)
    top_k: int | None = Field(None, strict=True)
    repetition_penalty: float | None = Field(None, strict=True)
    length_penalty: float | None = Field(None, strict=True)
    mode: Mode = Mode.INTERRUPT
    lines: bool = False
    keep_up: bool | None = None
    flush_s: float | None = Field(None, ge=0.05, le=60, strict=True)
    #: "play": the daemon plays it; "pcm": it sends the audio back instead (24 kHz s16le).
    audio: Literal["play", "pcm"] = "play"


class Refused(Exception):
    """End the connection with an error message and a close code."""

    def __init__(self, code: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.close_code = code
        self.kind = kind


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
    session = _Session(websocket, services)
    try:
        await session.run()
    except Refused as refusal:
        await session.refuse(refusal)
    except WebSocketDisconnect:
        pass  # the client went away: what it sent is spoken (finally)
    finally:
        session.finish()


class _Session:
    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.websocket = websocket
        self.services = services
        self.stream: TextStream | None = None
        self.id: str | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self.sender: asyncio.Task[None] | None = None
        self.listener: Callable[[Event], None] | None = None
        #: How the connection closes once the utterance has ended.
        self.close_code = NORMAL
        #: The client plays the audio itself (``audio: "pcm"``); its synthesis stops on cancel.
        self.client_audio = False
        self.cancel = threading.Event()
        self.stopped = False

    async def run(self) -> None:
        await self._authenticate()
        await self._begin()
        while True:
            message = await self._receive(self.services.stream_idle_s)
            if message is None:
                raise Refused(
                    NORMAL,
                    "idle",
                    f"No text came for {self.services.stream_idle_s:g} s: the stream was ended "
                    "(what came is spoken). Open a new one for more.",
                )
            if self._handle(message):
                break
        await self._input_over()

    # -- steps -------------------------------------------------------------------------------

    async def _authenticate(self) -> None:
        if self.websocket.scope.get(AUTHENTICATED):
            return
        message = await self._receive(AUTH_TIMEOUT_S)
        data = _json(message) if message else None
        token = data.get("token") if isinstance(data, dict) and data.get("type") == "auth" else None
        expected: str = self.websocket.app.state.token
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8", "replace"), expected.encode()
        ):
            raise Refused(
                POLICY,
                "unauthorized",
                "Missing or wrong token: offer the subprotocol "
                f'\'{TOKEN_PROTOCOL}<token>\' or send {{"type": "auth", "token": ...}} '
                "first (run 'readaloud token' to see it).",
            )

    async def _begin(self) -> None:
        """Start the utterance with the first message's settings (a start message), or with
        the defaults when the first message is already text."""
        message = await self._receive(self.services.stream_idle_s)
        if message is None:
            raise WebSocketDisconnect(GOING_AWAY)
        start = StreamStart.model_validate({"type": "start"})
        data = _json(message)
        if isinstance(data, dict) and data.get("type") == "start":
            start, message = _parse_start(data), None
        services = self.services
        keep_up = services.stream_keep_up if start.keep_up is None else start.keep_up
        try:
            options = StreamOptions(
                lines=start.lines,
                keep_up=keep_up and start.lines,
                flush_s=start.flush_s if start.flush_s is not None else services.flush_s,
            )
            voice = start.voice or services.default_voice
            volume, sampling = voice_settings_of(services, voice, start.volume, Sampling.of(start))
            utterance = Utterance(
                text="",
                voice=voice,
                language=start.language,
                rate=start.rate if start.rate is not None else services.default_rate,
                pitch=start.pitch or 0.0,
                volume=volume,
                sampling=sampling,
                streamed=True,
            )
        except BadInput as error:
            raise Refused(POLICY, "bad_input", str(error)) from None
        self.stream = TextStream(
            start.language or services.default_language,
            options,
            first_fragment_words=services.scheduler.first_fragment_words,
        )
        if start.audio == "pcm":
            await self._begin_client_audio(utterance)
        else:
            await self._begin_speech(utterance, start.mode)
        if message is not None and self._handle(message):
            await self._input_over()

    async def _begin_speech(self, utterance: Utterance, mode: Mode) -> None:
        """The daemon speaks it, in its queue; the client gets the utterance's events."""
        services = self.services
        assert self.stream is not None
        self._listen()
        try:
            self.id = await run_in_threadpool(
                services.scheduler.submit, utterance, mode, stream=self.stream
            )
        except ReadaloudError as error:
            raise Refused(POLICY, type(error).__name__, str(error)) from None
        await self.websocket.send_json({"type": "accepted", "id": self.id})
        self.sender = asyncio.create_task(self._send_events())

    async def _begin_client_audio(self, utterance: Utterance) -> None:
        """The client plays it: PCM frames, each segment's ``segment_start`` before its audio
        (made, not yet heard), then ``utterance_end``. Synthesized beside the speech queue, in
        the OpenAI endpoint's stream slots."""
        assert self.stream is not None
        engine = self.services.scheduler.engine
        try:
            await run_in_threadpool(engine.validate, utterance.voice, utterance.language)
            audio, release = self.websocket.app.state.openai.client_audio(
                utterance, self.stream, self.cancel
            )
        except ReadaloudError as error:
            raise Refused(POLICY, type(error).__name__, str(error)) from None
        self.client_audio = True
        self.id = f"s-{uuid.uuid4().hex[:12]}"
        await self.websocket.send_json({"type": "accepted", "id": self.id})
        await self.websocket.send_json(
            {"type": "audio_format", "format": "pcm_s16le", "sample_rate": API_SAMPLE_RATE}
            | {"channels": 1}
        )
        self.sender = asyncio.create_task(self._send_audio(audio, release))

    async def _send_audio(self, audio: Any, release: Callable[[], None]) -> None:
        completed = False
        try:
            async for item in audio.items():
                if self.stopped:
                    break
                if isinstance(item, bytes):
                    await self.websocket.send_bytes(item)
                else:
                    await self.websocket.send_json({**item, "id": self.id})
            else:
                completed = not self.stopped
        except ReadaloudError as error:
            await self.websocket.send_json(
                {"type": "error", "code": type(error).__name__, "message": str(error)}
            )
        finally:
            release()
        await self.websocket.send_json(
            {"type": UtteranceEnded.type, "id": self.id, "completed": completed}
        )
        await self._close(self.close_code)

    async def _input_over(self) -> None:
        """Tell the client its input is all taken, then follow the speech to its end."""
        assert self.stream is not None and self.sender is not None
        if not self.stream.closed:
            await self.websocket.send_json(
                {"type": "input_end", "characters": self.stream.received}
            )
        await self.sender  # the utterance's events to its end; the sender closes

    def _listen(self) -> None:
        loop = asyncio.get_running_loop()

        def put(event: dict[str, Any]) -> None:
            if not self.events.full():  # a stalled client loses events, never slows speech
                self.events.put_nowait(event)

        def listener(event: Event) -> None:
            loop.call_soon_threadsafe(put, event.to_dict())

        self.listener = listener
        self.services.scheduler.add_listener(listener)

    def _handle(self, message: dict[str, Any]) -> bool:
        """Act on one message; True once the input is over."""
        stream = self.stream
        assert stream is not None
        try:
            if message.get("bytes") is not None:
                return not stream.write_bytes(message["bytes"])
            data = _json(message)
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "text" and isinstance(data.get("text"), str):
                return not stream.write(data["text"])
            if kind == "flush":
                stream.flush()
                return False
            if kind == "end":
                stream.end()
                return True
            if kind == "stop":
                assert self.id is not None
                if self.client_audio:
                    self.stopped = True
                    stream.close()  # the synthesis ends at once, and its sender with it
                else:
                    self.services.scheduler.cancel(self.id)
                return True
        except BadInput as error:
            code = TOO_BIG if isinstance(error, TooMuch) else INVALID_DATA
            raise Refused(code, "bad_input", str(error)) from None
        stream.end()
        raise Refused(
            INVALID_DATA,
            "bad_input",
            'Unknown message: send {"type": "text", "text": ...}, "flush", "end" or "stop", '
            "or the text as binary UTF-8 frames.",
        )

    async def _send_events(self) -> None:
        while True:
            event = await self.events.get()
            if event.get("id") not in (self.id, None) or event["type"] == "utterance_timing":
                continue
            if event["type"] == Stopping.type:
                await self._close(GOING_AWAY)
                return
            if "id" not in event and event["type"] not in ("paused", "resumed"):
                continue
            await self.websocket.send_json(event)
            if event["type"] == UtteranceEnded.type:
                await self._close(self.close_code)
                return

    async def refuse(self, refusal: Refused) -> None:
        """Say what was wrong; once speech has begun, what came before it is still spoken and
        its events follow to the end, then the connection closes with the refusal's code."""
        if self.stream is not None:
            self.stream.end()
        try:
            await self.websocket.send_json(
                {"type": "error", "code": refusal.kind, "message": str(refusal)}
            )
            self.close_code = refusal.close_code
            if self.sender is not None:
                await self.sender
                return
            await self._close(refusal.close_code)
        except (WebSocketDisconnect, RuntimeError):
            pass  # it is gone already

    def finish(self) -> None:
        """Whatever way the connection ended: the input is over, the listener is removed."""
        if self.stream is not None:
            self.stream.end()
            if self.client_audio:
                self.stream.close()  # nobody is left to hear it
                self.cancel.set()
        if self.sender is not None and not self.sender.done():
            self.sender.cancel()
        if self.listener is not None:
            self.services.scheduler.remove_listener(self.listener)

    # -- wire --------------------------------------------------------------------------------

    async def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message; None after ``timeout``. Raises WebSocketDisconnect."""
        try:
            message = dict(await asyncio.wait_for(self.websocket.receive(), timeout))
        except TimeoutError:
            return None
        if message.get("type") == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", GOING_AWAY))
        return message

    async def _close(self, code: int) -> None:
        with contextlib.suppress(RuntimeError):  # closed already
            await self.websocket.close(code)


def _json(message: dict[str, Any]) -> Any:
    text = message.get("text")
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise Refused(INVALID_DATA, "bad_input", "A text frame must be a JSON message.") from None


def _parse_start(data: dict[str, Any]) -> StreamStart:
    try:
        return StreamStart.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in error.errors()
        )
        raise Refused(POLICY, "bad_input", f"Bad start message: {problems}") from None
