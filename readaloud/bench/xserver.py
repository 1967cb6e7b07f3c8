"""A private Xvfb: a real X server for the desktop tests and the screen-reader benchmark.

Xvfb picks a free display number itself and writes it to a pipe once it accepts clients
(``-displayfd``), so there is no guessing and no polling.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from types import TracebackType


class XServer:
    """A private Xvfb on a free display, with no TCP listener."""

    def __init__(self, screen: str = "1280x1024x24") -> None:
        self.screen = screen
        self.display = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to use this server (and no Wayland socket to prefer instead)."""
        return {"DISPLAY": self.display}

    def client_env(self, **extra: str) -> dict[str, str]:
        """os.environ pointed at this server, without WAYLAND_DISPLAY."""
        env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
        return {**env, **self.env, **extra}

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    "Xvfb",
                    "-displayfd",
                    str(write_end),
                    "-screen",
                    "0",
                    self.screen,
                    "-nolisten",
                    "tcp",
                ],
                pass_fds=(write_end,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            os.close(write_end)
            write_end = -1
            number = b""
            deadline = time.monotonic() + timeout
            while not number.endswith(b"\n"):
                left = deadline - time.monotonic()
                ready, _, _ = select.select([read_end], [], [], max(left, 0))
                chunk = os.read(read_end, 32) if ready else b""
                if not chunk:  # timed out, or Xvfb exited and closed the pipe
                    errors = self._stop_and_collect()
                    raise RuntimeError(f"Xvfb did not start within {timeout} s:\n{errors}")
                number += chunk
        finally:
            os.close(read_end)
            if write_end != -1:
                os.close(write_end)
        self.display = f":{number.decode().strip()}"

    def stop(self) -> None:
        self._stop_and_collect()

    def _stop_and_collect(self) -> str:
        process, self._process = self._process, None
        if process is None:
            return ""
        process.terminate()
        try:
            _, errors = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        return errors.decode(errors="replace")

    def key(self, *keys: str) -> None:
        """Press and release key combinations, as a person would (``"super+alt+a"``)."""
        subprocess.run(
            ["xdotool", "key", "--clearmodifiers", *keys],
            env=self.client_env(),
            check=True,
            timeout=10,
            capture_output=True,
        )

    def __enter__(self) -> XServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
