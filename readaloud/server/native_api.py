"""The daemon's own API: speak, control playback, status and voices.

Routes: POST /v1/speak, /v1/stop, /v1/pause, /v1/resume, /v1/toggle, /v1/skip, /v1/rate;
GET /v1/status, /v1/voices, /healthz (no token).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException

from readaloud.config import MAX_RATE, MIN_RATE
from readaloud.engines.base import Sampling
from readaloud.errors import BadInput, ReadaloudError
from readaloud.server.security import is_unix_socket
from readaloud.server.services import VOICE_ID, Services, ServicesDep, voice_settings_of
from readaloud.speech.documents import DocumentRequest, open_stream, page_stream
from readaloud.speech.scheduler import Mode
from readaloud.speech.utterance import MAX_PITCH, MAX_VOLUME, Utterance
from readaloud.text.extract import MAX_HTML_BYTES, TooLarge
from readaloud.text.sources import MAX_TEXT_BYTES


class SpeakRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    text: str | None = Field(None, description="Text to read.")
    url: str | None = Field(None, description="An http(s) page to fetch and read.", max_length=8192)
    html: str | None = Field(None, description="Page HTML to extract the main text from.")
    source: Literal["selection", "clipboard"] | None = Field(
        None, description="Read the desktop's primary selection or clipboard."
    )
    file: Annotated[str, Field(max_length=4096)] | None = Field(
        None,
        description=(
            "An absolute path of a document (PDF, EPUB, DOCX, ODT, text, Markdown, HTML) for "
            "the daemon to open and read; only over the daemon's local socket. It goes on "
            "where its reading stopped last time unless chapter, from or from_start is given."
        ),
    )
    password: Annotated[str, Field(max_length=1024)] | None = Field(
        None, description="With file: the password of a protected PDF."
    )
    chapter: Annotated[int, Field(ge=1, le=100_000, strict=True)] | None = Field(
        None, description="With file: start at this chapter (from 1)."
    )
    from_words: Annotated[str, Field(max_length=1000)] | None = Field(
        None,
        alias="from",
        description=(
            "With file, url or html: start at the sentence holding these words (a browser's "
            '"read from here" sends the page\'s html and the words where the reader points).'
        ),
    )
    from_start: bool = Field(
        False,
        strict=True,
        description="With file or url: read from the beginning, not from the bookmark.",
    )
    voice: Annotated[str, Field(pattern=VOICE_ID)] | None = Field(
        None, description="Voice id from GET /v1/voices."
    )
    language: Annotated[str, Field(max_length=35)] | None = Field(
        None, description="Language code such as en or pt-BR."
    )
    # strict: a JSON number, never true/false or "1.5" quietly taken for one
    rate: float | None = Field(
        None, ge=MIN_RATE, le=MAX_RATE, strict=True, description="1 is normal speed."
    )
    pitch: float | None = Field(
        None,
        ge=-MAX_PITCH,
        le=MAX_PITCH,
        strict=True,
        description="Semitones up (negative: down) from the voice's own pitch; 0 is normal.",
    )
    volume: float | None = Field(
        None,
        ge=0.0,
        le=MAX_VOLUME,
        strict=True,
        description="1 is the voice as made, 0 silent, up to 2 louder (never clipped).",
    )
    temperature: float | None = Field(
        None, strict=True, description="XTTS sampling, 0.01-2: 0.7 steady, 1.2 livelier."
    )
    top_p: float | None = Field(None, strict=True, description="XTTS sampling, 0.01-1.")
    top_k: int | None = Field(None, strict=True, description="XTTS sampling, 1-1000.")
    repetition_penalty: float | None = Field(None, strict=True, description="XTTS sampling, 1-20.")
    length_penalty: float | None = Field(None, strict=True, description="XTTS sampling, -10 to 10.")
    mode: Mode = Field(Mode.INTERRUPT, description="interrupt what plays, or queue behind it")

    @model_validator(mode="after")
    def one_source(self) -> SpeakRequest:
        given = [name for name in ("text", "url", "html", "source", "file") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of text, url, html, source or file")
        starts = [self.chapter is not None, self.from_words is not None, self.from_start]
        if sum(starts) > 1:
            raise ValueError("give at most one of chapter, from and from_start")
        if self.file is None and (self.chapter is not None or self.password is not None):
            raise ValueError("password and chapter go with file")
        page = self.url is not None or (self.html is not None and not self.from_start)
        if self.file is None and not page and any(starts):
            raise ValueError("from goes with file, url or html; from_start with file or url")
        return self


class SkipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(
        1, ge=-1000, le=1000, strict=True, description="+1 next sentence, -1 previous"
    )


class RateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = Field(ge=MIN_RATE, le=MAX_RATE, description="1 is normal, 2 twice as fast")


class Accepted(BaseModel):
    id: str


class Done(BaseModel):
    ok: bool


def _check_size(text: str, limit: int, what: str) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise TooLarge(f"{what} is over {limit // 1_000_000} MB; send it in parts.")


router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/v1/speak", status_code=202, response_model=Accepted)
def speak(request: SpeakRequest, services: ServicesDep, http: Request) -> Accepted:
    """Read text, a page (url or html), a document (file) or the desktop selection/clipboard
    aloud."""
    began = time.perf_counter()
    if request.file is not None:
        return _speak_file(request, services, http, began)
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
    streamed = bool(request.url or request.from_words)
    utterance = _utterance(request, services, None if streamed else text)
    extract_ms = (time.perf_counter() - began) * 1000
    if streamed:  # a page keeps its place, like a document; HTML sent by a browser does not
        stream = page_stream(
            request.url or "the page",
            text,
            words=request.from_words,
            from_start=request.from_start,
            bookmarks=services.bookmarks if request.url else None,
            language=request.language or services.default_language,
            first_fragment_words=services.scheduler.first_fragment_words,
        )
    else:
        stream = None
    uid = services.scheduler.submit(utterance, request.mode, extract_ms=extract_ms, stream=stream)
    return Accepted(id=uid)


def _utterance(request: SpeakRequest, services: Services, text: str | None) -> Utterance:
    """The request's utterance: of ``text``, or streamed (a page or a document) if None."""
    voice = request.voice or services.default_voice
    volume, sampling = voice_settings_of(services, voice, request.volume, Sampling.of(request))
    return Utterance(
        text=text or "",
        voice=voice,
        language=request.language,  # None: detected, else [speech] language
        rate=request.rate if request.rate is not None else services.default_rate,
        pitch=request.pitch or 0.0,
        volume=volume,
        sampling=sampling,
        streamed=text is None,
    )


def _speak_file(
    request: SpeakRequest, services: ServicesDep, http: Request, began: float
) -> Accepted:
    assert request.file is not None
    if not is_unix_socket(dict(http.scope)):
        # A page that learnt the token must not have the user's files read out.
        raise HTTPException(403, "Files are opened only when asked over the daemon's socket.")
    path = Path(request.file)
    utterance = _utterance(request, services, None)
    try:
        if not path.is_absolute():
            raise BadInput(f"{request.file} is not an absolute path; give the whole path.")
        stream = open_stream(
            DocumentRequest(
                path,
                password=request.password,
                chapter=request.chapter,
                words=request.from_words,
                from_start=request.from_start,
            ),
            bookmarks=services.bookmarks,
            language=request.language or services.default_language,
            first_fragment_words=services.scheduler.first_fragment_words,
        )
    except ReadaloudError as error:
        services.feedback(error, request.mode)
        raise
    extract_ms = (time.perf_counter() - began) * 1000
    uid = services.scheduler.submit(utterance, request.mode, extract_ms=extract_ms, stream=stream)
    return Accepted(id=uid)


# Stop and pause run on the event loop, not in the thread pool: under load a pool thread
# can be a long wait away, and these two must act at once (they only take short locks).
@router.post("/v1/stop", response_model=Done)
async def stop(services: ServicesDep) -> Done:
    services.scheduler.stop()
    return Done(ok=True)


@router.post("/v1/pause", response_model=Done)
async def pause(services: ServicesDep) -> Done:
    return Done(ok=services.scheduler.pause())


@router.post("/v1/resume", response_model=Done)
def resume(services: ServicesDep) -> Done:
    return Done(ok=services.scheduler.resume())


@router.post("/v1/toggle")
def toggle(services: ServicesDep) -> dict[str, str]:
    return {"state": services.scheduler.toggle()}


@router.post("/v1/skip", response_model=Done)
def skip(request: SkipRequest, services: ServicesDep) -> Done:
    return Done(ok=services.scheduler.skip(request.count))


@router.post("/v1/rate", response_model=Done)
def rate(request: RateRequest, services: ServicesDep) -> Done:
    """Read on at another speed, from the start of the sentence being heard."""
    return Done(ok=services.scheduler.set_rate(request.rate))


@router.get("/v1/status")
def status(services: ServicesDep) -> dict[str, Any]:
    changed = services.config_changed() if services.config_changed else None
    return {
        **services.scheduler.status().to_dict(),
        "engine_reason": services.engine_reason,
        "config_changed": changed,
    }


@router.get("/v1/voices")
def voices(services: ServicesDep) -> dict[str, Any]:
    engine = services.scheduler.engine
    return {
        "engine": services.engine_reason,
        "voices": [
            {
                "id": v.id,
                "engine": v.engine,
                "languages": list(v.languages),
                "description": v.description,
            }
            for v in engine.voices()
        ],
    }
