"""A real ``readaloud daemon`` process with its own config, runtime and token folders, a given
sound server, and NOTIFY_SOCKET to hear it say READY — for the tests and ``readaloud bench``,
which must not disturb the user's own daemon."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TypeVar

import httpx2

from readaloud.speech.events import Event, parse_event

E = TypeVar("E", bound=Event)


class DaemonProcess:
    def __init__(
        self,
        env: dict[str, str],
        config_text: str = "",
        extra_args: tuple = (),
        hotkeys: bool = False,
    ) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="readaloud-daemon-"))
        self.config_home = self.home / "config"
        self.runtime = self.home / "runtime"
        self.runtime.mkdir(mode=0o700)
        (self.config_home / "readaloud").mkdir(parents=True)
        (self.config_home / "readaloud" / "readaloud.toml").write_text(config_text)
        self.socket_path = self.runtime / "readaloud" / "readaloud.sock"
        self.notify_path = self.home / "notify.sock"
        self.env = {
            **os.environ,
            # What a daemon remembers between runs (the key echo settings) stays its own,
            # unless the caller shares a folder between daemons.
            "XDG_STATE_HOME": str(self.home / "state"),
            **env,
            "XDG_CONFIG_HOME": str(self.config_home),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "NOTIFY_SOCKET": str(self.notify_path),
        }
        self.extra_args = (*extra_args, *(() if hotkeys else ("--no-hotkeys",)))
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.notifications: list[str] = []
        self.stderr_lines: list[str] = []
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(str(self.notify_path))
        self._notify.settimeout(0.2)
        self._threads: list[threading.Thread] = []

    def start(self, timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "readaloud",
                "daemon",
                "--listen",
                "127.0.0.1:0",
                *self.extra_args,
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for target in (self._read_stderr, self._read_notify):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + timeout
        while "READY=1" not in self.notifications:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("daemon did not get ready:\n" + "\n".join(self.stderr_lines))
            time.sleep(0.02)
        while self.port is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.http = httpx2.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        self.unix = httpx2.Client(
            transport=httpx2.HTTPTransport(uds=str(self.socket_path)),
            base_url="http://localhost",
            timeout=30,
        )

    @property
    def token(self) -> str:
        return (self.config_home / "readaloud" / "token").read_text().strip()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx2.Response:
        return self.http.post(path, json=body or {}, headers=self.auth)

    def get(self, path: str) -> httpx2.Response:
        return self.http.get(path, headers=self.auth)

    def wait_state(
        self, state: str, timeout: float = 30.0, utterance: str | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.get("/v1/status").json()
            wanted = utterance is None or status["utterance"] == utterance
            if (status["state"] == state and wanted) or time.monotonic() > deadline:
                return status
            time.sleep(0.02)

    def terminate(self) -> float:
        """SIGTERM; returns how long the daemon took to exit."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        return time.monotonic() - began

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._notify.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_lines.append(line)
            found = re.search(r"ready on http://[^:]+:(\d+)", line)
            if found:
                self.port = int(found.group(1))

    def _read_notify(self) -> None:
        while self.process is not None and self.process.poll() is None:
            try:
                data = self._notify.recv(4096)
            except (TimeoutError, OSError):
                continue
            self.notifications.extend(data.decode().split("\n"))


class Events:
    """The daemon's event stream, collected in the background."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.items: list[dict] = []
        self._client = httpx2.Client(
            transport=httpx2.HTTPTransport(uds=str(daemon.socket_path)), timeout=None
        )
        self._connected = threading.Event()
        threading.Thread(target=self._follow, daemon=True).start()
        if not self._connected.wait(10):
            raise TimeoutError("the daemon's event stream did not start")

    def _follow(self) -> None:
        try:
            with self._client.stream("GET", "http://localhost/v1/events") as response:
                for line in response.iter_lines():
                    if line == ": connected":
                        self._connected.set()
                    if line.startswith("data: "):  # "seen": when it came, monotonic
                        self.items.append({**json.loads(line[6:]), "seen": time.monotonic()})
        except httpx2.HTTPError:
            pass  # the daemon went away at the end of the module

    def wait_for_event(self, kind: type[E], uid: str, timeout: float = 30.0) -> E:
        """The first event of ``kind`` for utterance ``uid``, typed (speech/events.py)."""
        raw = self.wait_for(lambda e: e["type"] == kind.type and e.get("id") == uid, timeout)
        event = parse_event(raw)
        assert isinstance(event, kind), raw
        return event

    def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.items):
                if predicate(item):
                    return item
            time.sleep(0.01)
        raise TimeoutError(f"no such event in {self.items}")
