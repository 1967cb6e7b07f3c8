"""The CLI's side of the daemon API, over the user's Unix socket (no token needed there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from readaloud.errors import (
    BadInput,
    EngineError,
    ExitCode,
    NoOutputDevice,
    ReadaloudError,
    UnknownVoice,
    UnsupportedLanguage,
)
from readaloud.speech.events import Connected, Event, parse_event


class DaemonNotRunning(ReadaloudError):
    exit_code = ExitCode.NO_DAEMON


class DaemonError(ReadaloudError):
    """The daemon refused or failed a request; the message is the daemon's."""


_BY_TYPE: dict[str, type[ReadaloudError]] = {
    "UnknownVoice": UnknownVoice,
    "UnsupportedLanguage": UnsupportedLanguage,
    "BadInput": BadInput,
    "invalid_request": BadInput,
    "bad_input": BadInput,
    "NoOutputDevice": NoOutputDevice,
    "EngineError": EngineError,
}
#: Exit codes README documents for failures the daemon reports under other type names, so
#: a command exits the same whether the daemon or this process found the problem.
_EXIT_BY_TYPE = {
    "PageUnavailable": ExitCode.PAGE_UNREACHABLE,
    "QueueFull": ExitCode.QUEUE_FULL,
    "DesktopUnavailable": ExitCode.NO_DESKTOP,
}
_BAD_INPUT_STATUSES = (400, 413, 415)


def error_for(kind: str, message: str, *, bad_input: bool = False) -> ReadaloudError:
    """The error (and so the exit code) for a failure the daemon reported as ``kind``."""
    cls = _BY_TYPE.get(kind)
    if cls is None and bad_input:
        cls = BadInput  # every refused request (bad URL, PDF, ...) exits 2
    if cls is not None:
        return cls(message)
    failure = DaemonError(message)
    failure.exit_code = _EXIT_BY_TYPE.get(kind, DaemonError.exit_code)
    return failure


class DaemonClient:
    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self._client = httpx2.Client(
            transport=httpx2.HTTPTransport(uds=str(socket_path)),
            base_url="http://localhost",
            timeout=timeout,
        )

    def running(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            return self._client.get("/healthz", timeout=2.0).status_code == 200
        except httpx2.HTTPError:
            return False

    def send(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """One request as it is: the daemon's status and JSON (``{}`` when it sent none)."""
        try:
            if body is None and method == "POST":
                body = {}  # the daemon takes JSON bodies only, even empty ones
            response = self._client.request(method, path, json=body)
        except (httpx2.ConnectError, FileNotFoundError, ConnectionRefusedError):
            raise DaemonNotRunning(
                "No readaloud daemon is running. Start it with 'readaloud daemon' "
                "(or 'readaloud service install' to start it with your desktop)."
            ) from None
        except httpx2.TimeoutException:
            raise DaemonError("The readaloud daemon did not answer in time.") from None
        try:
            return response.status_code, response.json() if response.content else {}
        except ValueError:
            return response.status_code, {}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, data = self.send(method, path, body)
        if status >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            kind = error.get("type", "")
            message = error.get("message") or f"The daemon answered {status}."
            raise error_for(kind, message, bad_input=status in _BAD_INPUT_STATUSES)
        return data

    def raw_events(self) -> Iterator[dict[str, Any]]:
        """The daemon's event stream as it sends it (blocks; stop iterating to close):
        ``{"type": "connected"}`` first, then each event's JSON, kinds this version does not
        know included."""
        with self._client.stream("GET", "/v1/events", timeout=None) as response:
            for line in response.iter_lines():
                if line == ": connected":
                    yield {"type": Connected.type}
                elif line.startswith("data: "):
                    yield json.loads(line[6:])

    def events(self) -> Iterator[Event]:
        """Follow the daemon's event stream (blocks; stop iterating to close). ``Connected``
        comes first; kinds this version does not know are left out."""
        for raw in self.raw_events():
            event = Connected() if raw.get("type") == Connected.type else parse_event(raw)
            if event is not None:
                yield event

    def close(self) -> None:
        self._client.close()
