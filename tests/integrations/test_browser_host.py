"""``readaloud browser install`` and the native messaging host it installs, driven as a browser
drives it: the installed program started from the manifest's path, 4-byte length + JSON on its
stdin and stdout, a real daemon behind it on the user's socket."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browsers import browser_command, user_env
from support.daemon import DaemonProcess
from support.pulse import PulseServer

CHROME_ORIGIN = "chrome-extension://abjkaflbnnplkeaapjneejmnaededpgi/"
HEADER = struct.Struct("=I")


class HostPort:
    """The browser's side of a native messaging port: the host program and its messages."""

    def __init__(self, program: str, env: dict[str, str]) -> None:
        # Chrome starts the host with the extension's origin as its argument.
        self.process = subprocess.Popen(
            [program, CHROME_ORIGIN],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while len(header := self.process.stdout.read(HEADER.size)) == HEADER.size:
            (length,) = HEADER.unpack(header)
            message = json.loads(self.process.stdout.read(length))
            with self._cond:
                self.messages.append(message)
                self._cond.notify_all()

    def send(self, message: dict[str, Any]) -> int:
        self._next += 1
        data = json.dumps({"id": self._next, **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(HEADER.pack(len(data)) + data)
        self.process.stdin.flush()
        return self._next

    def wait_for(self, predicate, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such message in {self.messages}")
                self._cond.wait(left)

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        ident = self.send({"method": method, "path": path, "body": body})
        return self.wait_for(lambda m: m["id"] == ident and "status" in m)

    def event(self, ident: int, kind: str, **fields: Any) -> dict[str, Any]:
        return self.wait_for(
            lambda m: (
                m["id"] == ident
                and m.get("event", {}).get("type") == kind
                and all(m["event"].get(k) == v for k, v in fields.items())
            )
        )["event"]

    def close(self) -> int:
        """The browser closes the port: the host ends by itself."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(10)


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[DaemonProcess]:
    process = DaemonProcess(pulse.env)
    process.start()
    yield process
    process.close()


@pytest.fixture
def installed(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The host installed for a user with a home of their own: (their env, the program)."""
    env = user_env(tmp_path)
    done = browser_command("install", env)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(
        (
            tmp_path / ".config" / "chromium" / "NativeMessagingHosts" / "readaloud.daemon.json"
        ).read_text()
    )
    return env, manifest["path"]


@pytest.fixture
def host(daemon: DaemonProcess, installed: tuple[dict[str, str], str]) -> Iterator[HostPort]:
    """The host as a browser starts it, in the daemon's user session (its runtime folder)."""
    env, program = installed
    port = HostPort(program, {**env, "XDG_RUNTIME_DIR": str(daemon.runtime)})
    yield port
    port.close()
    daemon.post("/v1/stop")


def test_install_writes_each_browsers_manifest_and_uninstall_removes_them(tmp_path: Path):
    env = user_env(tmp_path)
    done = browser_command("install", env)
    assert done.returncode == 0, done.stderr
    config = tmp_path / ".config"
    chromes = {
        "Chrome": config / "google-chrome",
        "Chromium": config / "chromium",
        "Brave": config / "BraveSoftware" / "Brave-Browser",
        "Edge": config / "microsoft-edge",
    }
    paths = [
        folder / "NativeMessagingHosts" / "readaloud.daemon.json" for folder in chromes.values()
    ]
    firefox = tmp_path / ".mozilla" / "native-messaging-hosts" / "readaloud.daemon.json"
    for name, path in zip(chromes, paths, strict=True):
        assert f"{name}: {path}" in done.stdout
        manifest = json.loads(path.read_text())
        assert manifest["name"] == "readaloud.daemon" and manifest["type"] == "stdio"
        assert manifest["allowed_origins"] == [CHROME_ORIGIN]
    firefox_manifest = json.loads(firefox.read_text())
    assert firefox_manifest["allowed_extensions"] == ["browser-extension@readaloud"]
    program = Path(firefox_manifest["path"])
    assert program == tmp_path / ".local" / "share" / "readaloud" / "browser-host"
    assert os.access(program, os.X_OK)

    done = browser_command("uninstall", env)
    assert done.returncode == 0, done.stderr
    assert not program.exists() and not firefox.exists()
    assert not any(path.exists() for path in paths)
    again = browser_command("uninstall", env)
    assert "Nothing to remove" in again.stdout


def test_the_extension_reads_through_the_host_with_no_token(host: HostPort, daemon: DaemonProcess):
    follow = host.send({"type": "events"})
    host.event(follow, "connected")
    status = host.request("GET", "/v1/status")
    assert status["status"] == 200 and status["body"]["state"] == "idle"

    text = "Reading through the browser host needs no token."
    answer = host.request("POST", "/v1/speak", {"text": text})
    assert answer["status"] == 202, answer
    uid = answer["body"]["id"]
    # Heard: the daemon's player started the sentence, and the host passed the event on.
    started = host.event(follow, "segment_start", id=uid)
    assert started["text"] == text
    host.event(follow, "utterance_end", id=uid)

    host.send({"type": "unfollow"} | {"id": follow})
    voices = host.request("GET", "/v1/voices")
    assert voices["status"] == 200 and voices["body"]["voices"]


def test_the_host_opens_no_file_and_passes_only_the_extensions_routes(
    host: HostPort, daemon: DaemonProcess, tmp_path: Path
):
    secret = tmp_path / "secret.txt"
    secret.write_text("A private letter the web must not read.")
    refused = host.request("POST", "/v1/speak", {"file": str(secret)})
    assert refused["status"] == 403
    assert "may not open files" in refused["body"]["error"]["message"]

    for method, path in (("POST", "/v1/audio/speech"), ("GET", "/v1/models"), ("GET", "/")):
        refused = host.request(method, path, {"input": "hello"} if method == "POST" else None)
        assert refused["status"] == 403, (method, path, refused)
        assert refused["body"]["error"]["type"] == "not_allowed"
    # Nothing was spoken, and the daemon still answers.
    assert daemon.get("/v1/status").json()["state"] == "idle"
    assert host.request("GET", "/healthz")["status"] == 200


def test_with_the_daemon_stopped_the_host_says_how_to_start_it(
    installed: tuple[dict[str, str], str], tmp_path: Path
):
    env, program = installed
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    port = HostPort(program, {**env, "XDG_RUNTIME_DIR": str(runtime)})
    try:
        answer = port.request("POST", "/v1/speak", {"text": "Hello."})
        assert answer["status"] == 503
        assert answer["body"]["error"]["type"] == "not_running"
        assert "systemctl --user start readaloud" in answer["body"]["error"]["message"]
        follow = port.send({"type": "events"})
        port.event(follow, "lost")  # no "connected" first: the extension falls back to HTTP
        assert not any(m.get("event", {}).get("type") == "connected" for m in port.messages)
    finally:
        assert port.close() == 0
