"""A real daemon process with the requests the reliability tests repeat (tests/reliability)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2

from support.daemon import DaemonProcess

#: A text that keeps the daemon talking for over a minute: "what is playing" in the tests.
LONG = " ".join(
    f"Sentence {n} of a long text that keeps the daemon talking for a while." for n in range(1, 40)
)


class Daemon(DaemonProcess):
    """DaemonProcess with the few requests these tests repeat."""

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        auth: bool = True,
        unix: bool = False,
        timeout: float = 30.0,
    ) -> httpx2.Response:
        """One request, with the body exactly as given (JSON escapes keep lone surrogates)."""
        sent: dict[str, str] = {**(self.auth if auth and not unix else {})}
        if content_type is not None and (body is not None or raw is not None):
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        content = raw if raw is not None else None if body is None else json.dumps(body).encode()
        client = self.unix if unix else self.http
        return client.request(method, path, content=content, headers=sent, timeout=timeout)

    def keep_speaking(self) -> str:
        """The id of a long utterance that is playing now (started when none is)."""
        status = self.get("/v1/status").json()
        if status["state"] == "speaking" and getattr(self, "_playing", None) == status["utterance"]:
            return status["utterance"]
        self._playing = self.post("/v1/speak", {"text": LONG}).json()["id"]
        assert self.wait_state("speaking", 10, utterance=self._playing)["state"] == "speaking"
        return self._playing

    def alive(self) -> bool:
        return (
            self.process is not None
            and self.process.poll() is None
            and (self.unix.get("/healthz").status_code == 200)
        )

    def wait_idle(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.get("/v1/status").json()["state"] != "idle":
            assert time.monotonic() < deadline, "the daemon did not become idle"
            time.sleep(0.05)
