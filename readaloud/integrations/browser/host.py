"""The browser's native messaging host: the extension talks to the daemon through it, over the
user's Unix socket, with no token and no config edit (``readaloud browser install``).

The browser starts this program when the extension connects (Chrome passes the extension's
origin, Firefox the manifest path and the add-on id) and speaks to it on stdin/stdout: each
message is JSON after a 4-byte length in native byte order (the browsers' protocol, documented
by Chrome and Mozilla; hand-written because it is these ten lines and no maintained library
adds anything).

From the extension: ``{"id", "method", "path", "body"}`` is one API request, answered by
``{"id", "status", "body"}`` (the daemon's own status and JSON); ``{"id", "type": "events"}``
follows the daemon's events, each sent as ``{"id", "event"}``, until ``{"id", "type":
"unfollow"}``. Only the routes the extension uses pass, and never a ``file`` to open: a
document is the user's own command's to open (the socket's rule stays the CLI's).
"""

from __future__ import annotations

import json
import logging
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import httpx2

from readaloud.client import DaemonClient, DaemonError, DaemonNotRunning
from readaloud.config import Config
from readaloud.config import load as load_config
from readaloud.errors import ReadaloudError

log = logging.getLogger(__name__)

#: What the extension may ask for: (method, path).
ALLOWED = {
    ("GET", "/healthz"),
    ("GET", "/v1/status"),
    ("GET", "/v1/voices"),
    ("POST", "/v1/speak"),
    ("POST", "/v1/stop"),
    ("POST", "/v1/pause"),
    ("POST", "/v1/resume"),
    ("POST", "/v1/toggle"),
    ("POST", "/v1/skip"),
    ("POST", "/v1/rate"),
}
#: Chrome refuses a message from a host over 1 MB; the daemon's answers are far smaller.
MAX_OUT = 1024 * 1024
#: What the extension may send in one message (a page's HTML: the daemon caps it at 8 MB).
MAX_IN = 64 * 1024 * 1024
HEADER = struct.Struct("=I")  # native byte order, as the browsers send it


def error(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"status": status, "body": {"error": {"type": kind, "message": message}}}


NOT_RUNNING = (
    "The readaloud daemon is not running. Start it with 'systemctl --user start readaloud' "
    "(or 'readaloud daemon')."
)


class Host:
    def __init__(self, socket_path: Path, stdin: BinaryIO, stdout: BinaryIO) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self._write_lock = threading.Lock()
        self._client = DaemonClient(socket_path, timeout=60.0)
        # A speak request waits for the daemon to extract a page; stop must not wait behind it.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="request")
        self._following: dict[Any, threading.Event] = {}

    # -- the browser's framing ----------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        header = self.stdin.read(HEADER.size)
        if len(header) < HEADER.size:
            return None  # the browser closed the port
        (length,) = HEADER.unpack(header)
        if length > MAX_IN:
            raise ValueError(f"a message of {length} bytes is over the {MAX_IN} allowed")
        data = self.stdin.read(length)
        if len(data) < length:
            return None
        message = json.loads(data)
        if not isinstance(message, dict):
            raise ValueError("a message must be a JSON object")
        return message

    def write(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, ensure_ascii=False).encode()
        if len(data) > MAX_OUT:
            data = json.dumps(
                {"id": message.get("id"), **error(502, "too_large", "The answer is too large.")}
            ).encode()
        with self._write_lock:
            self.stdout.write(HEADER.pack(len(data)) + data)
            self.stdout.flush()

    # -- serving ------------------------------------------------------------------------------

    def serve(self) -> None:
        try:
            while (message := self.read()) is not None:
                self.handle(message)
        finally:
            for stop in self._following.values():
                stop.set()
            self._pool.shutdown(wait=False, cancel_futures=True)

    def handle(self, message: dict[str, Any]) -> None:
        ident = message.get("id")
        kind = message.get("type")
        if kind == "events":
            stop = threading.Event()
            self._following[ident] = stop
            threading.Thread(target=self._follow, args=(ident, stop), daemon=True).start()
        elif kind == "unfollow":
            if ident in self._following:
                self._following.pop(ident).set()
        else:
            self._pool.submit(self._answer, ident, message)

    def _answer(self, ident: Any, message: dict[str, Any]) -> None:
        self.write({"id": ident, **self.request(message)})

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        method = str(message.get("method", "")).upper()
        path = str(message.get("path", ""))
        body = message.get("body")
        if (method, path) not in ALLOWED:
            return error(403, "not_allowed", f"{method} {path} is not for the browser extension.")
        if path == "/v1/speak" and isinstance(body, dict) and "file" in body:
            return error(
                403, "not_allowed", "The browser may not open files: use 'readaloud read FILE'."
            )
        try:
            status, answer = self._client.send(method, path, body if method == "POST" else None)
        except DaemonNotRunning:
            return error(503, "not_running", NOT_RUNNING)
        except DaemonError as failure:
            return error(504, "timeout", str(failure))
        return {"status": status, "body": answer}

    def _follow(self, ident: Any, stop: threading.Event) -> None:
        """Forwards the daemon's events until unfollowed; ``connected`` first, ``lost`` last."""
        try:
            for event in self._client.raw_events():
                if stop.is_set():
                    return
                self.write({"id": ident, "event": event})
        except (httpx2.HTTPError, FileNotFoundError, ConnectionRefusedError) as failure:
            log.info("the daemon's events ended: %s", failure)
        if not stop.is_set():
            self.write({"id": ident, "event": {"type": "lost"}})


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        config = load_config(None)
    except ReadaloudError as failure:  # a broken config: the daemon's socket is still found
        print(f"readaloud browser host: {failure}", file=sys.stderr)
        config = Config()
    host = Host(config.socket_path, sys.stdin.buffer, sys.stdout.buffer)
    try:
        host.serve()
    except (ValueError, OSError) as failure:
        print(f"readaloud browser host: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
