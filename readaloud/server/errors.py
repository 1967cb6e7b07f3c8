"""One shape for every error the API answers, from any router or the security middleware:
OpenAI's ``{"error": {"message", "type", "param", "code"}}``, which every client can read."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from readaloud.errors import (
    BadInput,
    EngineError,
    NoOutputDevice,
    ReadaloudError,
    UnknownVoice,
    UnsupportedLanguage,
)
from readaloud.speech.scheduler import QueueFull


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is over {limit} bytes.")


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


def error_fields(kind: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": kind}}


def error_body(kind: str, message: str, param: str | None = None) -> bytes:
    """The error as the bytes of a JSON body (for the raw ASGI middleware)."""
    return json.dumps(error_fields(kind, message, param)).encode()


def error_response(status: int, kind: str, message: str, param: str | None = None) -> JSONResponse:
    return JSONResponse(error_fields(kind, message, param), status_code=status)


def status_for(error: ReadaloudError) -> int:
    if isinstance(error, QueueFull):
        return 429
    if isinstance(error, UnknownVoice | UnsupportedLanguage):
        return 400
    if isinstance(error, NoOutputDevice | EngineError):
        return 503
    if isinstance(error, BadInput):
        return 400
    return 422  # the request was understood but cannot be done (page unreachable, ...)


def install_error_handlers(app: FastAPI) -> None:
    """Our errors, FastAPI's validation errors and Starlette's own, all in the one shape."""

    @app.exception_handler(ReadaloudError)
    async def readaloud_error(request: Request, error: ReadaloudError) -> JSONResponse:
        return error_response(status_for(error), type(error).__name__, str(error))

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
        return error_response(400, "invalid_request", message, where or None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # Starlette's own errors (unknown path, wrong method, undecodable body) in our shape.
        if isinstance(error.__cause__, BodyTooLarge):  # FastAPI wraps what the body read raised
            return error_response(413, "too_large", str(error.__cause__))
        path, status = request.url.path, error.status_code
        kind, message = {
            400: ("invalid_request", "The body could not be read: send UTF-8 JSON."),
            404: ("not_found", f"There is no {path}; the API is described at /openapi.json."),
            405: ("method_not_allowed", f"{request.method} is not allowed on {path}."),
        }.get(status, ("http_error", str(error.detail)))
        response = error_response(status, kind, message)
        response.headers.update(error.headers or {})
        return response

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
        return error_response(413, "too_large", str(error))
