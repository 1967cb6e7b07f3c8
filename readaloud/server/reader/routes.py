"""The reader page's routes.

- ``POST /v1/reader/link`` (the socket, or the token): a one-time link to the page.
- ``GET /reader?once=CODE``: trades the code for the page's cookie, then shows ``/reader``.
- ``GET /reader``: the page (with the cookie); ``GET /reader/page/NAME``: its script, style
  and fonts (nothing secret).
- With the cookie: ``GET /reader/api/now`` (what is being read), ``GET /reader/api/events``
  (the daemon's events), ``POST /reader/api/control`` (pause, resume, toggle, stop, skip,
  rate).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from readaloud.config import MAX_RATE, MIN_RATE
from readaloud.server.errors import error_response
from readaloud.server.events_api import event_stream
from readaloud.server.reader.access import COOKIE, ReaderAccess
from readaloud.server.services import ServicesDep
from readaloud.speech.events import Event, SegmentStarted, UtteranceEnded, UtteranceStarted
from readaloud.speech.scheduler import Scheduler

router = APIRouter()

PAGE = Path(__file__).with_name("page")
#: The page's own files, by name (nothing else is served from the folder).
ASSETS = {"reader.js": "text/javascript", "reader.css": "text/css"}
#: Debian's fonts-opendyslexic, served to the page when installed.
FONTS = Path("/usr/share/fonts/opentype/opendyslexic")
FONT_NAMES = {"OpenDyslexic-Regular.otf", "OpenDyslexic-Bold.otf"}
#: The page runs only its own script and style, and no other site may frame it.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
REFUSED = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>readaloud: this link does not open the reader</title>
<main><h1>This link does not open the reader</h1>
<p>It was used already, it is more than two minutes old, or it was not made by readaloud.
Run <code>readaloud reader</code> for a new one.</p></main></html>"""


class ReaderState:
    """What is being read, for a page opened in the middle of it: the reading's text (empty
    for a document or page, whose text arrives as it is read) and the sentence heard."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._lock = threading.Lock()
        self._utterance: dict[str, Any] | None = None
        self._segment: dict[str, Any] | None = None
        scheduler.add_listener(self._on_event)

    def _on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, UtteranceStarted):
                self._utterance, self._segment = event.to_dict(), None
            elif isinstance(event, SegmentStarted):
                self._segment = event.to_dict()
            elif isinstance(event, UtteranceEnded):
                self._utterance = self._segment = None

    def now(self) -> dict[str, Any]:
        with self._lock:
            return {"utterance": self._utterance, "segment": self._segment}


class Link(BaseModel):
    url: str


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["pause", "resume", "toggle", "stop", "skip", "rate"]
    count: int = Field(1, ge=-1000, le=1000, strict=True, description="with skip")
    rate: float | None = Field(None, ge=MIN_RATE, le=MAX_RATE, description="with rate")


def access_of(request: Request) -> ReaderAccess:
    access: ReaderAccess = request.app.state.reader_access
    return access


def signed_in(request: Request) -> bool:
    return access_of(request).valid(request.cookies.get(COOKIE))


def not_signed_in() -> Response:
    return error_response(
        403, "reader_closed", "Open the reader with 'readaloud reader' (a one-time link)."
    )


@router.post("/v1/reader/link", response_model=Link)
def link(request: Request, services: ServicesDep) -> Link:
    """A link that opens the reader page once, within two minutes."""
    return Link(url=f"{services.http_base}/reader?once={access_of(request).new_code()}")


@router.get("/reader", include_in_schema=False, response_model=None)
def page(request: Request, once: str | None = None) -> Response:
    if once is not None:
        session = access_of(request).redeem(once)
        if session is None:
            return HTMLResponse(REFUSED, status_code=403, headers=HEADERS)
        answer = RedirectResponse("/reader", status_code=303, headers=HEADERS)
        answer.set_cookie(COOKIE, session, path="/reader", httponly=True, samesite="strict")
        return answer
    if not signed_in(request):
        return HTMLResponse(REFUSED, status_code=403, headers=HEADERS)
    return HTMLResponse((PAGE / "reader.html").read_text(), headers=HEADERS)


@router.get("/reader/page/{name}", include_in_schema=False, response_model=None)
def asset(name: str) -> Response:
    if name in ASSETS:
        return FileResponse(PAGE / name, media_type=ASSETS[name], headers=HEADERS)
    if name in FONT_NAMES and (FONTS / name).is_file():
        return FileResponse(FONTS / name, media_type="font/otf")
    return error_response(404, "not_found", f"The reader page has no {name}.")


@router.get("/reader/api/now", include_in_schema=False, response_model=None)
def now(request: Request, services: ServicesDep) -> Response | dict[str, Any]:
    if not signed_in(request):
        return not_signed_in()
    state: ReaderState = request.app.state.reader_state
    status = services.scheduler.status()
    return {**state.now(), "state": status.state}


@router.get("/reader/api/events", include_in_schema=False, response_model=None)
async def events(request: Request, services: ServicesDep) -> Response:
    if not signed_in(request):
        return not_signed_in()
    return await event_stream(request, services.scheduler)


@router.post("/reader/api/control", include_in_schema=False, response_model=None)
async def control(request: Request, body: Control, services: ServicesDep) -> Response | dict:
    if not signed_in(request):
        return not_signed_in()
    scheduler = services.scheduler
    if body.action == "rate":
        if body.rate is None:
            return error_response(400, "invalid_request", "rate: give the speed (1 is normal).")
        return {"ok": scheduler.set_rate(body.rate), "state": scheduler.status().state}
    if body.action == "stop":
        scheduler.stop()
        done = True
    elif body.action == "skip":
        done = scheduler.skip(body.count)
    elif body.action == "toggle":
        scheduler.toggle()
        done = True
    else:
        done = scheduler.pause() if body.action == "pause" else scheduler.resume()
    return {"ok": done, "state": scheduler.status().state}
