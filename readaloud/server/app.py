"""The daemon's HTTP API (FastAPI), served on loopback TCP and on the user's Unix socket: one
router per concern (native_api, events_api, stream_api, openai_api, the reader page), errors
in one shape (errors.py), and the token, Host, Origin and body checks in front of them all
(security.py).
"""

from __future__ import annotations

from fastapi import FastAPI

from readaloud import __version__
from readaloud.server.errors import ERROR_RESPONSES, install_error_handlers
from readaloud.server.events_api import router as events_router
from readaloud.server.native_api import router as native_router
from readaloud.server.openai_api import OpenAISpeech
from readaloud.server.openai_api import router as openai_router
from readaloud.server.reader.access import ReaderAccess
from readaloud.server.reader.routes import ReaderState
from readaloud.server.reader.routes import router as reader_router
from readaloud.server.security import SecurityMiddleware
from readaloud.server.services import Services
from readaloud.server.stream_api import router as stream_router
from readaloud.text.sources import MAX_TEXT_BYTES

__all__ = ["Services", "create_app"]


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
    app.state.services = services
    app.state.token = token
    app.state.openai = OpenAISpeech(services)
    app.state.reader_access = ReaderAccess()
    app.state.reader_state = ReaderState(services.scheduler)
    install_error_handlers(app)
    app.include_router(native_router)
    app.include_router(events_router)
    app.include_router(stream_router)
    app.include_router(openai_router)
    app.include_router(reader_router)
    app.add_middleware(
        SecurityMiddleware,
        token=token,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        max_body_bytes=max_body_bytes,
    )
    return app
