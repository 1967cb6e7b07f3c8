"""Debian's Chromium with an unpacked extension, driven over the DevTools protocol on a pipe.

Why the pipe (``--remote-debugging-pipe``) and not playwright or a websocket: Chromium offers the
``Extensions`` domain (``Extensions.triggerAction``: the toolbar button, as a click would) only to
a client on the pipe with ``--enable-unsafe-extension-debugging``, and the pipe needs nothing but
the standard library: messages are JSON separated by NUL bytes on file descriptors 3 (to Chromium)
and 4 (from it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.browsers import wait_for
from support.chromium import FLAGS

#: The flags headless Chromium needs as root with no network and no GPU (shared with the
#: attack tests), plus a window size for the pages under test.
QUIET_FLAGS = (*FLAGS, "--window-size=1280,900")

ALT, CTRL, META, SHIFT = 1, 2, 4, 8


class CdpError(RuntimeError):
    pass


class Chromium:
    def __init__(
        self,
        extension: Path,
        *,
        extra_flags: tuple[str, ...] = (),
        executable: str = "",
        profile: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``profile``: the user data folder, kept (a new temporary one, removed, by default);
        ``env``: the browser's environment (this process's by default)."""
        self.executable = executable or os.environ.get("READALOUD_CHROMIUM", "/usr/bin/chromium")
        self.extension = extension
        self.extra_flags = extra_flags
        self._own_profile = profile is None
        self.profile = profile or Path(tempfile.mkdtemp(prefix="readaloud-chromium-"))
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.events: list[dict[str, Any]] = []
        self.stderr_lines: list[str] = []
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._to_browser: int | None = None
        self._lock = threading.Lock()

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        if shutil.which(self.executable) is None:
            raise RuntimeError(f"{self.executable} not found: apt-get install chromium")
        to_chromium_read, to_chromium_write = os.pipe()
        from_chromium_read, from_chromium_write = os.pipe()
        # bash puts our pipe ends on fds 3 and 4, where --remote-debugging-pipe expects them.
        script = f'exec 3<&{to_chromium_read} 4>&{from_chromium_write}; exec "$@"'
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                script,
                "chromium",
                self.executable,
                *QUIET_FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe",
                "--enable-unsafe-extension-debugging",
                f"--disable-extensions-except={self.extension}",
                f"--load-extension={self.extension}",
                *self.extra_flags,
                "about:blank",
            ],
            pass_fds=(to_chromium_read, from_chromium_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        os.close(to_chromium_read)
        os.close(from_chromium_write)
        self._to_browser = to_chromium_write
        threading.Thread(target=self._read, args=(from_chromium_read,), daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.send("Target.setDiscoverTargets", {"discover": True}, timeout=60)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.send("Browser.close", timeout=5)
                self.process.wait(10)
            except (CdpError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)
        if self._to_browser is not None:
            os.close(self._to_browser)
            self._to_browser = None
        if self._own_profile:
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol -----------------------------------------------------------------------------

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            assert self._to_browser is not None, "not started"
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while message_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or (self.process is not None and self.process.poll() is not None):
                    raise CdpError(f"{method}: no answer\n" + "\n".join(self.stderr_lines[-20:]))
                self._cond.wait(min(left, 0.2))
            reply = self._replies.pop(message_id)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
        return wait_for(predicate, timeout, what)

    def _read(self, fd: int) -> None:
        buffer = b""
        while chunk := os.read(fd, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._cond.notify_all()
        os.close(fd)

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for raw in self.process.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip())

    def console(self) -> list[str]:
        """What the attached targets logged (console calls and uncaught exceptions)."""
        lines = []
        for event in list(self.events):
            if event.get("method") == "Runtime.consoleAPICalled":
                args = event["params"]["args"]
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
                lines.append(f"{event['params']['type']}: {text}")
            elif event.get("method") == "Runtime.exceptionThrown":
                lines.append(f"exception: {event['params']['exceptionDetails'].get('text')}")
        return lines

    # -- targets ------------------------------------------------------------------------------

    def targets(self) -> list[dict[str, Any]]:
        return self.send("Target.getTargets")["targetInfos"]

    def attach(self, target_id: str) -> Target:
        session = self.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        return Target(self, target_id, session["sessionId"])

    def service_worker(self, extension_id: str, timeout: float = 60.0) -> Target:
        prefix = f"chrome-extension://{extension_id}/"

        def find() -> str | None:
            for info in self.targets():
                if info["type"] == "service_worker" and info["url"].startswith(prefix):
                    return info["targetId"]
            return None

        worker = self.attach(self.wait_for(find, timeout, "the extension's service worker"))
        worker.send("Runtime.enable")
        return worker

    def click_action(self, extension_id: str, tab: Target) -> None:
        """The extension's toolbar button, clicked on ``tab`` (which must be the active tab)."""
        url = tab.evaluate("location.href")
        tabs = self.send("Target.getTargets", {"filter": [{"type": "tab"}]})["targetInfos"]
        matches = [t["targetId"] for t in tabs if t["url"] == url]
        assert len(matches) == 1, f"no single tab shows {url}: {tabs}"
        # The protocol names the tab (not the page in it) as the target.
        self.send("Extensions.triggerAction", {"id": extension_id, "targetId": matches[0]})

    def open(self, url: str, timeout: float = 30.0) -> Target:
        """A new tab showing ``url``, loaded and in front."""
        target_id = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        tab = self.attach(target_id)
        tab.send("Page.enable")
        tab.send("Runtime.enable")
        tab.goto(url, timeout)
        return tab


class Target:
    """One attached target (a tab or the service worker)."""

    def __init__(self, browser: Chromium, target_id: str, session: str) -> None:
        self.browser = browser
        self.target_id = target_id
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0):
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression (awaited when it is a promise)."""
        reply = self.send(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": True,
                "returnByValue": True,
                "userGesture": False,
            },
            timeout=timeout,
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"{expression[:80]}…: {text}")
        return reply["result"].get("value")

    def goto(self, url: str, timeout: float = 30.0) -> None:
        self.send("Page.navigate", {"url": url})
        self.browser.wait_for(
            lambda: (
                self.evaluate("location.href") == url
                and self.evaluate("document.readyState") == "complete"
            ),
            timeout,
            f"{url} to load",
        )

    def bring_to_front(self) -> None:
        self.send("Page.bringToFront")

    # -- a user's hands -----------------------------------------------------------------------

    def center_of(self, selector: str) -> tuple[float, float]:
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        return box[0], box[1]

    def click(self, selector: str, clicks: int = 1) -> None:
        x, y = self.center_of(selector)
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for count in range(1, clicks + 1):
            for kind in ("mousePressed", "mouseReleased"):
                self.send(
                    "Input.dispatchMouseEvent",
                    {"type": kind, "x": x, "y": y, "button": "left", "clickCount": count},
                )

    def type_text(self, text: str) -> None:
        self.send("Input.insertText", {"text": text})

    def press(self, key: str, code: str, key_code: int, modifiers: int = 0, text: str = "") -> None:
        """One key, as the keyboard sends it (``text``: what it types, e.g. "\\r" for Enter)."""
        common = {
            "key": key,
            "code": code,
            "windowsVirtualKeyCode": key_code,
            "nativeVirtualKeyCode": key_code,
            "modifiers": modifiers,
        }
        down = {"type": "keyDown", "text": text} if text else {"type": "rawKeyDown"}
        self.send("Input.dispatchKeyEvent", {**down, **common})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    def tab_key(self) -> None:
        self.press("Tab", "Tab", 9)

    def enter_key(self) -> None:
        self.press("Enter", "Enter", 13, text="\r")

    def select_all_in_focus(self) -> None:
        self.press("a", "KeyA", 65, CTRL)
