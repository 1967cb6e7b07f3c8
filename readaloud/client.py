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

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            if body is None and method == "POST":
                body = {}  # the daemon takes JSON bodies only, even empty ones
            response = self._client.request(method, path, json=body)
        except (httpx2.ConnectError, FileNotFoundError):
            raise DaemonNotRunning(
                "No readaloud daemon is running. Start it with 'readaloud daemon' "
                "(or 'readaloud service install' to start it with your desktop)."
            ) from None
        except httpx2.TimeoutException:
            raise DaemonError("The readaloud daemon did not answer in time.") from None
        data = response.json() if response.content else {}
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            kind = error.get("type", "")
            message = error.get("message") or f"The daemon answered {response.status_code}."
            raise error_for(kind, message, bad_input=response.status_code in _BAD_INPUT_STATUSES)
        return data

    def events(self) -> Iterator[Event]:
        """Follow the daemon's event stream (blocks; stop iterating to close). ``Connected``
        comes first; kinds this version does not know are left out."""
        with self._client.stream("GET", "/v1/events", timeout=None) as response:
            kind = None
            for line in response.iter_lines():
                if line == ": connected":
                    yield Connected()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    event = parse_event(json.loads(line[6:]))
                    if event is not None:
                        yield event
                    kind = None

    def close(self) -> None:
        self._client.close()
