"""What the API's routes need from the daemon: built once in daemon.py, kept on the app
(``app.state.services``) and handed to each route by the ``ServicesDep`` dependency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from readaloud.documents.bookmarks import Bookmarks
from readaloud.engines.base import Sampling
from readaloud.errors import ReadaloudError
from readaloud.speech.scheduler import Mode, Scheduler
from readaloud.voices.settings import VoiceDefaults, VoiceSettings

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
    #: [speech] volume, for requests that give none (and whose voice has none of its own).
    default_volume: float = 1.0
    #: Each voice's own volume and sampling (``readaloud voice set``).
    voice_settings: VoiceSettings | None = None
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
    #: The daemon's HTTP address as a browser on this machine reaches it (the reader's links).
    http_base: str = "http://127.0.0.1:7412"


async def services_of(request: Request) -> Services:
    # async: FastAPI runs a sync dependency in its thread pool, and the routes that must act at
    # once (stop, pause) run on the event loop.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(services_of)]


def voice_settings_of(
    services: Services, voice: str | None, volume: float | None, sampling: Sampling
) -> tuple[float, Sampling]:
    """A request's volume and sampling: its own, else its voice's, else the config's."""
    store = services.voice_settings
    engine = services.scheduler.engine
    own = store.for_request(voice, lambda: engine) if store else VoiceDefaults()
    return own.under(volume, sampling, services.default_volume)
