"""Debian's Firefox ESR with the extension, driven over WebDriver BiDi (Firefox's own remote
protocol on a local WebSocket), the way puppeteer drives it, with the ``websockets`` client the
daemon already depends on.

BiDi installs the unpacked extension (``webExtension.install``, as about:debugging does) and
evaluates script in the page. A keyboard shortcut is pressed where Firefox handles it: each
command of an extension is a XUL ``<key>`` in the browser window, whose ``command`` event grants
activeTab and runs the extension's ``commands.onCommand``; synthesized X key events (xdotool on
Xvfb) reach the page but not that handler, so the test fires the key's command itself, with
BiDi's access to the browser window (``--remote-allow-system-access``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.browsers import wait_for
from websockets.sync.client import ClientConnection, connect

#: The moz-extension:// host Firefox gives the extension (fixed, so the tests know its origin).
EXTENSION_UUID = "0b6d2cf3-6a70-4a8b-9a32-52d1c8d0e001"
FIREFOX_ID = "browser-extension@readaloud"
PREFS = {
    "extensions.webextensions.uuids": json.dumps({FIREFOX_ID: EXTENSION_UUID}),
    "browser.shell.checkDefaultBrowser": False,
    "browser.aboutwelcome.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "app.update.disabledForTesting": True,
}


class BidiError(RuntimeError):
    pass


class Firefox:
    def __init__(
        self,
        extension: Path,
        *,
        env: dict[str, str] | None = None,
        local_names: tuple[str, ...] = (),
        executable: str = "",
    ) -> None:
        """``local_names``: host names Firefox resolves to this machine (test sites)."""
        self.executable = executable or os.environ.get("READALOUD_FIREFOX", "/usr/bin/firefox-esr")
        self.extension = extension
        self.env = env
        self.profile = Path(tempfile.mkdtemp(prefix="readaloud-firefox-"))
        prefs = {**PREFS, "network.dns.localDomains": ",".join(local_names)}
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._socket: ClientConnection | None = None
        self._open = contextlib.ExitStack()
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._lock = threading.Lock()

    # -- life ---------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        if shutil.which(self.executable) is None:
            raise RuntimeError(f"{self.executable} not found: apt-get install firefox-esr")
        port = _free_port()
        self.process = subprocess.Popen(
            [
                self.executable,
                "--headless",
                "--no-remote",
                "--profile",
                str(self.profile),
                f"--remote-debugging-port={port}",
                "--remote-allow-system-access",
                "about:blank",
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._socket = self._open.enter_context(
                    connect(f"ws://127.0.0.1:{port}/session", max_size=None)
                )
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("Firefox's remote protocol did not open") from None
                time.sleep(0.2)
        threading.Thread(target=self._read, daemon=True).start()
        self.send("session.new", {"capabilities": {}})
        installed = self.send(
            "webExtension.install", {"extensionData": {"type": "path", "path": str(self.extension)}}
        )
        assert installed["extension"] == FIREFOX_ID, installed

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(BidiError):
                self.send("browser.close", timeout=10)
            self._open.close()
        if self.process is not None:
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol -----------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0):
        with self._lock:
            self._next += 1
            ident = self._next
            assert self._socket is not None, "not started"
            self._socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BidiError(f"{method}: no answer")
                self._cond.wait(left)
            reply = self._replies.pop(ident)
        if reply.get("type") == "error":
            raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        return reply["result"]

    def _read(self) -> None:
        assert self._socket is not None
        try:
            for raw in self._socket:
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()
        except Exception:  # noqa: BLE001 - the browser closed the socket
            pass

    # -- pages --------------------------------------------------------------------------------

    def tab(self) -> str:
        """The first tab's browsing context."""
        return self.send("browsingContext.getTree", {})["contexts"][0]["context"]

    def navigate(self, context: str, url: str) -> None:
        self.send("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})

    def evaluate(self, context: str, expression: str, *, chrome: bool = False) -> Any:
        """A JavaScript value from a tab (or, ``chrome``, from the browser window)."""
        if chrome:
            tree = self.send("browsingContext.getTree", {"moz:scope": "chrome"})
            context = next(
                c["context"]
                for c in tree["contexts"]
                if c.get("url") == "chrome://browser/content/browser.xhtml"
            )
        result = self.send(
            "script.evaluate",
            {
                "expression": f"JSON.stringify(({expression}))",
                "target": {"context": context},
                "awaitPromise": True,
            },
        )
        if result["type"] == "exception":
            raise BidiError(f"{expression[:80]}…: {result['exceptionDetails'].get('text')}")
        value = result["result"].get("value")
        return None if value is None else json.loads(value)

    def shortcut(self, keys: str) -> None:
        """The extension's keyboard shortcut ``keys`` (e.g. "Alt+Shift+S"), as Firefox runs it
        when it is pressed (see the module's docstring)."""
        *modifiers, key = keys.split("+")
        wanted = ",".join(sorted(m.lower() for m in modifiers))
        fired = self.evaluate(
            "",
            "(() => { const keys = [...document.querySelectorAll("
            f"'keyset[id^=\"ext-keyset-id-\"] key')]; const hit = keys.find(k =>"
            f" k.getAttribute('key').toUpperCase() === {json.dumps(key.upper())} &&"
            " (k.getAttribute('modifiers') || '').split(',').map(m => m.trim()).sort()"
            f".join(',') === {json.dumps(wanted)}); if (!hit) return false;"
            " hit.doCommand(); return true; })()",
            chrome=True,
        )
        if not fired:
            raise BidiError(f"the extension has no shortcut {keys}")

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
        return wait_for(predicate, timeout, what)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
