"""Who may talk to the daemon: the token, the Host and Origin allow-lists, JSON-only bodies with a
size cap. A pure ASGI middleware, so every route (and the OpenAPI spec) is covered.

Requests on the Unix socket (mode 0600: only this user) need no token; over TCP, a web page in the
user's browser is the attacker to keep out: it can send requests to 127.0.0.1 but cannot read the
token file, cannot set Authorization without a CORS preflight, and cannot forge Host or Origin.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from readaloud.server.errors import BodyTooLarge, error_body

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths anyone on this machine may GET without a token (liveness only, reveals nothing).
PUBLIC_PATHS = frozenset({"/healthz"})
#: The reader page's paths: its one-time link and cookie stand for the token (checked by its
#: routes, server/reader), and its own origin (the daemon's) may send requests.
READER = "/reader"
#: The only paths a WebSocket may open.
WEBSOCKET_PATHS = frozenset({"/v1/stream"})
#: A WebSocket subprotocol that carries the token: ``readaloud.token.<token>``.
TOKEN_PROTOCOL = "readaloud.token."
#: The subprotocol the daemon answers with (never the one that holds the token).
PROTOCOL = "readaloud"
#: Set in a WebSocket's scope: True when the token came in its subprotocols or on the socket.
AUTHENTICATED = "readaloud.authenticated"


def load_or_create_token(path: Path) -> str:
    """The API token, created on first run in a file only this user can read."""
    try:
        token = path.read_text(encoding="ascii").strip()
        if token:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)  # someone loosened it: tighten again
            return token
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    temporary.replace(path)
    return token


def is_unix_socket(scope: Scope) -> bool:
    """uvicorn gives no client address for a Unix-socket connection."""
    return scope.get("client") is None


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        allowed_hosts: Iterable[str],
        allowed_origins: Iterable[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.token = token.encode()
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.allowed_origins = set(allowed_origins)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        local = is_unix_socket(scope)
        origin = headers.get("origin")
        problem = self._check(scope, headers, local, origin)
        if problem:
            status, kind, message = problem
            await _reply(send, status, kind, message, self._cors(origin))
            return
        if scope["method"] == "OPTIONS":  # an allowed origin's CORS preflight
            await _preflight(send, self._cors(origin))
            return
        started = False
        cors_send = self._with_cors(send, origin)

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await cors_send(message)

        try:
            await self.app(scope, self._capped(receive), tracking_send)
        except BodyTooLarge as error:
            if started:
                raise
            await _reply(send, 413, "too_large", str(error), self._cors(origin))

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The same Host and Origin checks as HTTP (a browser sends Origin on every WebSocket,
        and no CORS stands in its way: the Origin check is what keeps web pages out). The token
        comes in a ``readaloud.token.<token>`` subprotocol; without it the route asks for it in
        the first message (``scope[AUTHENTICATED]`` says which). Paths that are not WebSocket
        routes are refused here, so one added later cannot skip these checks."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        local = is_unix_socket(scope)
        origin = headers.get("origin")
        refused = (
            scope["path"] not in WEBSOCKET_PATHS
            or (not local and headers.get("host", "").lower() not in self.allowed_hosts)
            or (origin is not None and origin not in self.allowed_origins)
        )
        if refused:
            await send({"type": "websocket.close", "code": 1008})
            return
        offered = [p.strip() for p in scope.get("subprotocols", [])]
        tokens = [p[len(TOKEN_PROTOCOL) :] for p in offered if p.startswith(TOKEN_PROTOCOL)]
        scope[AUTHENTICATED] = local or any(self.token_matches(t) for t in tokens)
        await self.app(scope, receive, send)

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(token.strip().encode(), self.token)

    def _check(
        self, scope: Scope, headers: dict[str, str], local: bool, origin: str | None
    ) -> tuple[int, str, str] | None:
        if not local and headers.get("host", "").lower() not in self.allowed_hosts:
            # A foreign Host means DNS rebinding: a page's own name pointing at 127.0.0.1.
            return 421, "bad_host", "This daemon only answers requests addressed to localhost."
        path = scope["path"]
        reader = path == READER or path.startswith(READER + "/")
        own = reader and origin == f"http://{headers.get('host', '')}"  # the page itself
        if origin is not None and origin not in self.allowed_origins and not own:
            return 403, "bad_origin", f"Requests from {origin} are not allowed."
        if scope["method"] == "OPTIONS":
            return None
        public = path in PUBLIC_PATHS or reader
        if not local and not public and not self._token_ok(headers):
            return (
                401,
                "unauthorized",
                "Missing or wrong token: send 'Authorization: Bearer <token>' "
                "(run 'readaloud token' to see it).",
            )
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                return 413, "too_large", f"The request body is over {self.max_body_bytes} bytes."
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return (
                    415,
                    "unsupported_media_type",
                    "Send the request body as JSON with 'Content-Type: application/json'.",
                )
        return None

    def _token_ok(self, headers: dict[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(value)

    def _cors(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if origin is None or origin not in self.allowed_origins:
            return []
        return [
            (b"access-control-allow-origin", origin.encode()),
            (b"vary", b"Origin"),
        ]

    def _with_cors(self, send: Send, origin: str | None) -> Send:
        extra = self._cors(origin)
        if not extra:
            return send

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped

    def _capped(self, receive: Receive) -> Receive:
        """Enforce the cap also when the client sends no Content-Length (chunked)."""
        received = 0
        limit = self.max_body_bytes

        async def wrapped() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return wrapped


async def _reply(
    send: Send, status: int, kind: str, message: str, extra: list[tuple[bytes, bytes]]
) -> None:
    body = error_body(kind, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _preflight(send: Send, cors: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                *cors,
                (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", b"authorization, content-type"),
                (b"access-control-max-age", b"600"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
