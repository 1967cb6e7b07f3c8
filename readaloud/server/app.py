"""The daemon's HTTP API (FastAPI). Served on loopback TCP and on the user's Unix socket.

Routes: POST /v1/speak, /v1/stop, /v1/pause, /v1/resume, /v1/toggle, /v1/skip;
GET /v1/status, /v1/voices, /v1/events (server-sent events), /healthz (no token).
Errors are JSON: {"error": {"message", "type", "param", "code"}} with a 4xx status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException

from readaloud import __version__
from readaloud.errors import (
    BadInput,
    EngineError,
    NoOutputDevice,
    ReadaloudError,
    UnknownVoice,
    UnsupportedLanguage,
)
from readaloud.server.openai_api import openai_router
from readaloud.server.security import BodyTooLarge, SecurityMiddleware, error_body
from readaloud.speech.scheduler import Mode, QueueFull, Scheduler
from readaloud.speech.utterance import Utterance
from readaloud.text.extract import MAX_HTML_BYTES, TooLarge
from readaloud.text.sources import MAX_TEXT_BYTES

log = logging.getLogger(__name__)

#: Voice ids are names, never file paths.
VOICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}$"


@dataclass
class Services:
    """What the API needs from the daemon; built in daemon.py."""

    scheduler: Scheduler
    engine_reason: str
    #: source name ("url", "html", "selection", "clipboard") → callable returning text to read.
    text_from: Callable[[str, str | None], str]
    #: Say a failure aloud (the user may not see the client that asked).
    feedback: Callable[[ReadaloudError, Mode], None]
    default_voice: str | None
    default_language: str | None
    default_rate: float
    #: None while the config file is as the daemon loaded it, else what to do (restart).
    config_changed: Callable[[], str | None] | None = None
    #: The OpenAI-compatible endpoint: OpenAI voice name → local voice id, and stream limit.
    openai_voices: dict[str, str] = field(default_factory=dict)
    openai_max_streams: int = 4


class SpeakRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="Text to read.")
    url: str | None = Field(None, description="An http(s) page to fetch and read.", max_length=8192)
    html: str | None = Field(None, description="Page HTML to extract the main text from.")
    source: Literal["selection", "clipboard"] | None = Field(
        None, description="Read the desktop's primary selection or clipboard."
    )
    voice: Annotated[str, Field(pattern=VOICE_ID)] | None = Field(
        None, description="Voice id from GET /v1/voices."
    )
    language: Annotated[str, Field(max_length=35)] | None = Field(
        None, description="Language code such as en or pt-BR."
    )
    # strict: a JSON number, never true/false or "1.5" quietly taken for one
    rate: float | None = Field(None, ge=0.25, le=4.0, strict=True, description="1 is normal speed.")
    mode: Mode = Field(Mode.INTERRUPT, description="interrupt what plays, or queue behind it")

    @model_validator(mode="after")
    def one_source(self) -> SpeakRequest:
        given = [name for name in ("text", "url", "html", "source") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of text, url, html or source")
        return self


class SkipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(
        1, ge=-1000, le=1000, strict=True, description="+1 next sentence, -1 previous"
    )


class Accepted(BaseModel):
    id: str


class Done(BaseModel):
    ok: bool


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail


#: Every error any route may answer, declared so the OpenAPI spec tells clients (and the
#: schemathesis fuzz test checks) the real shape; 422 replaces FastAPI's validation schema.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": why}
    for status, why in {
        400: "A bad field, value or body",
        401: "Missing or wrong token (TCP only)",
        403: "A request from an Origin that is not allowed",
        404: "No such endpoint or model",
        405: "Method not allowed on this endpoint",
        413: "Body too large",
        415: "Body not sent as JSON",
        421: "Host header not localhost (DNS rebinding)",
        422: "Understood but cannot be done (page unreachable, no desktop session)",
        429: "Queue full or too many streams; retry later",
        503: "No sound output or the engine failed",
    }.items()
}


def _status_for(error: ReadaloudError) -> int:
    if isinstance(error, QueueFull):
        return 429
    if isinstance(error, UnknownVoice | UnsupportedLanguage):
        return 400
    if isinstance(error, NoOutputDevice | EngineError):
        return 503
    if isinstance(error, BadInput):
        return 400
    return 422  # the request was understood but cannot be done (page unreachable, ...)


def _check_size(text: str, limit: int, what: str) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise TooLarge(f"{what} is over {limit // 1_000_000} MB; send it in parts.")


def _error(status: int, kind: str, message: str, param: str | None = None) -> JSONResponse:
    return JSONResponse(json.loads(error_body(kind, message, param)), status_code=status)


def create_app(
    services: Services,
    *,
    token: str,
    allowed_hosts: list[str],
    allowed_origins: list[str],
    max_body_bytes: int = 8 * MAX_TEXT_BYTES,
) -> FastAPI:
    app = FastAPI(
        title="readaloud",
        version=__version__,
        description="Read text aloud. Send 'Authorization: Bearer <token>' over TCP.",
        docs_url=None,  # the docs page loads scripts from a CDN; the spec is at /openapi.json
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    scheduler = services.scheduler

    @app.exception_handler(ReadaloudError)
    async def readaloud_error(request: Request, error: ReadaloudError) -> JSONResponse:
        return _error(_status_for(error), type(error).__name__, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            message = "The body is not valid JSON."
        elif first.get("type") == "string_pattern_mismatch" and where == "voice":
            message = (
                f"Unknown voice {first.get('input')!r}: give a voice id from GET /v1/voices "
                "(voices are named, never given as file paths)."
            )
        elif where:
            message = f"{where}: {message}"
        return _error(400, "invalid_request", message, where or None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # Starlette's own errors (unknown path, wrong method, undecodable body) in our shape.
        if isinstance(error.__cause__, BodyTooLarge):  # FastAPI wraps what the body read raised
            return _error(413, "too_large", str(error.__cause__))
        path, status = request.url.path, error.status_code
        kind, message = {
            400: ("invalid_request", "The body could not be read: send UTF-8 JSON."),
            404: ("not_found", f"There is no {path}; the API is described at /openapi.json."),
            405: ("method_not_allowed", f"{request.method} is not allowed on {path}."),
        }.get(status, ("http_error", str(error.detail)))
        response = _error(status, kind, message)
        response.headers.update(error.headers or {})
        return response

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
        return _error(413, "too_large", str(error))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/speak", status_code=202, response_model=Accepted)
    def speak(request: SpeakRequest) -> Accepted:
        """Read text, a page (url or html) or the desktop selection/clipboard aloud."""
        began = time.perf_counter()
        if request.text is not None:
            text = request.text
            _check_size(text, MAX_TEXT_BYTES, "The text")
        else:
            kind = "url" if request.url else "html" if request.html else request.source
            assert kind is not None
            try:
                # Pages and their text have the caps typed text and fetched pages have.
                _check_size(request.html or "", MAX_HTML_BYTES, "The page HTML")
                text = services.text_from(kind, request.url or request.html)
                _check_size(text, MAX_TEXT_BYTES, "The page's text")
            except ReadaloudError as error:
                services.feedback(error, request.mode)  # the user may see nothing
                raise
        utterance = Utterance(
            text=text,
            voice=request.voice or services.default_voice,
            language=request.language or services.default_language,
            rate=request.rate if request.rate is not None else services.default_rate,
        )
        extract_ms = (time.perf_counter() - began) * 1000
        return Accepted(id=scheduler.submit(utterance, request.mode, extract_ms=extract_ms))

    # Stop and pause run on the event loop, not in the thread pool: under load a pool thread
    # can be a long wait away, and these two must act at once (they only take short locks).
    @app.post("/v1/stop", response_model=Done)
    async def stop() -> Done:
        scheduler.stop()
        return Done(ok=True)

    @app.post("/v1/pause", response_model=Done)
    async def pause() -> Done:
        return Done(ok=scheduler.pause())

    @app.post("/v1/resume", response_model=Done)
    def resume() -> Done:
        return Done(ok=scheduler.resume())

    @app.post("/v1/toggle")
    def toggle() -> dict[str, str]:
        return {"state": scheduler.toggle()}

    @app.post("/v1/skip", response_model=Done)
    def skip(request: SkipRequest) -> Done:
        return Done(ok=scheduler.skip(request.count))

    @app.get("/v1/status")
    def status() -> dict[str, Any]:
        changed = services.config_changed() if services.config_changed else None
        return {
            **scheduler.status(),
            "engine_reason": services.engine_reason,
            "config_changed": changed,
        }

    @app.get("/v1/voices")
    def voices() -> dict[str, Any]:
        engine = scheduler.engine
        return {
            "engine": services.engine_reason,
            "voices": [
                {"id": v.id, "engine": v.engine, "languages": list(v.languages),
                 "description": v.description}
                for v in engine.voices()
            ],
        }

    @app.get("/v1/events")
    async def events(request: Request) -> StreamingResponse:
        """Server-sent events: utterance_start, segment_start (offsets), utterance_end, error."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)

        def put(event: dict[str, Any]) -> None:
            if not queue.full():  # a stalled client loses events, never slows speech
                queue.put_nowait(event)

        def listener(event: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(put, event)

        scheduler.add_listener(listener)

        async def stream() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), 1.0)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                    if event["type"] == "stopping":
                        return  # the daemon is shutting down: end the stream cleanly
            finally:
                scheduler.remove_listener(listener)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    app.include_router(openai_router(services))

    app.add_middleware(
        SecurityMiddleware,  # type: ignore[arg-type]
        token=token,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        max_body_bytes=max_body_bytes,
    )
    return app
