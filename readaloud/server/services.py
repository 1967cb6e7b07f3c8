"""What the API's routes need from the daemon: built once in daemon.py, kept on the app
(``app.state.services``) and handed to each route by the ``ServicesDep`` dependency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from readaloud.documents.bookmarks import Bookmarks
from readaloud.errors import ReadaloudError
from readaloud.speech.scheduler import Mode, Scheduler

#: Voice ids are names, never file paths.
VOICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}$"


@dataclass
class Services:
    scheduler: Scheduler
    engine_reason: str
    #: source name ("url", "html", "selection", "clipboard") → callable returning text to read.
    text_from: Callable[[str, str | None], str]
    #: Say a failure aloud (the user may not see the client that asked).
    feedback: Callable[[ReadaloudError, Mode], None]
    default_voice: str | None
    default_rate: float
    #: [speech] volume, for requests that give none.
    default_volume: float = 1.0
    #: None while the config file is as the daemon loaded it, else what to do (restart).
    config_changed: Callable[[], str | None] | None = None
    #: The OpenAI-compatible endpoint: OpenAI voice name → local voice id, and stream limit.
    openai_voices: dict[str, str] = field(default_factory=dict)
    openai_max_streams: int = 4
    #: Streamed text (``/v1/stream``): the language its sentences are cut by when the client
    #: names none, the flush time, keep-up line mode by default, and the idle limit.
    default_language: str = "en"
    flush_s: float = 0.7
    stream_keep_up: bool = False
    stream_idle_s: float = 300.0
    #: Where reading stopped in each document (None: not kept).
    bookmarks: Bookmarks | None = None


async def services_of(request: Request) -> Services:
    # async: FastAPI runs a sync dependency in its thread pool, and the routes that must act at
    # once (stop, pause) run on the event loop.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(services_of)]
