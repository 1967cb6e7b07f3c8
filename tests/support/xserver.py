"""Real display servers for the desktop tests: Xvfb (X11) and a headless sway (Wayland), with
real selection owners (xclip, wl-copy) and key presses (xdotool) on them.

Xvfb picks a free display number itself and writes it to a pipe once it accepts clients
(``-displayfd``), so there is no guessing and no polling.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from readaloud.bench import xserver as bench_xserver
from readaloud.bench.soundserver import end_process

X_TOOLS = {"Xvfb": "xvfb", "xclip": "xclip", "xsel": "xsel", "xdotool": "xdotool"}
WAYLAND_TOOLS = {"sway": "sway", "wl-copy": "wl-clipboard", "wl-paste": "wl-clipboard"}


def missing_packages(tools: dict[str, str]) -> list[str]:
    """The apt packages of ``tools`` (command → package) that are not installed."""
    return sorted({package for tool, package in tools.items() if shutil.which(tool) is None})


class XServer(bench_xserver.XServer):
    """A private Xvfb on a free display (``readaloud/bench/xserver.py``), with selections."""

    def own_selection(
        self, which: str, data: str | bytes, target: str = "UTF8_STRING"
    ) -> SelectionOwner:
        """Make a real program (xclip) own PRIMARY or CLIPBOARD with ``data``, until closed."""
        owner = SelectionOwner(self, which, data, target)
        owner.start()
        return owner


class SelectionOwner:
    """``xclip -quiet``: it stays in the foreground (so it can be stopped, frozen and resumed)
    and serves the selection until another program takes it or it is closed."""

    def __init__(self, server: XServer, which: str, data: str | bytes, target: str) -> None:
        self.server = server
        self.which = which
        self.data = data.encode() if isinstance(data, str) else data
        self.target = target
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0, attempts: int = 3) -> None:
        # xclip occasionally exits at once when it starts while the previous owner is still
        # handing over the selection; a fresh xclip then takes it. A real failure fails thrice.
        for _attempt in range(attempts):
            if self._start_once(timeout):
                return
        raise RuntimeError(f"xclip did not take the {self.which} selection in time")

    def _start_once(self, timeout: float) -> bool:
        env = self.server.client_env()
        self.process = subprocess.Popen(
            ["xclip", "-quiet", "-selection", self.which, "-t", self.target, "-i"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(self.data)
        self.process.stdin.close()
        # Owned once another client sees our target. (xclip's "Waiting for selection requests"
        # comes too early: its SetSelectionOwner request may still sit in its output buffer.)
        deadline = time.monotonic() + timeout
        while True:
            listed = subprocess.run(
                ["xclip", "-o", "-selection", self.which, "-t", "TARGETS"],
                env=env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            if self.target.encode() in listed.stdout.split():
                return True
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                return False
            time.sleep(0.01)

    def freeze(self) -> None:
        """Stop the owner (SIGSTOP): it holds the selection but answers nobody."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()  # SIGKILL also ends a frozen owner
        process.wait(timeout=5)

    def __enter__(self) -> SelectionOwner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class WaylandServer:
    """A headless sway (wlroots) without XWayland: it offers the data-control protocol that
    wl-clipboard uses, so wl-copy and wl-paste work with no window and no keyboard.

    sway refuses to run as root; as root it runs as ``nobody`` (root still reaches its socket).
    """

    def __init__(self) -> None:
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="readaloud-wayland-"))
        self.log_path = self.runtime_dir / "sway.log"
        self.socket_name = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"XDG_RUNTIME_DIR": str(self.runtime_dir), "WAYLAND_DISPLAY": self.socket_name}

    def client_env(self, **extra: str) -> dict[str, str]:
        """os.environ pointed at this compositor, without DISPLAY (no XWayland here)."""
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        return {**env, **self.env, **extra}

    def start(self, timeout: float = 15.0) -> None:
        config = self.runtime_dir / "sway.config"
        config.write_text("xwayland disable\n")
        config.chmod(0o644)
        argv = ["sway", "--config", str(config)]
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.runtime_dir, nobody.pw_uid, nobody.pw_gid)
            argv = [
                "setpriv",
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                *argv,
            ]
        self.runtime_dir.chmod(0o700)
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")},
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "HOME": str(self.runtime_dir),
            "WLR_BACKENDS": "headless",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman",
        }
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while True:
            sockets = sorted(p.name for p in self.runtime_dir.glob("wayland-*[0-9]"))
            if sockets:
                self.socket_name = sockets[0]
                break
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sway did not start; its log:\n{self.log()}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        end_process(process)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def own_selection(self, which: str, data: str | bytes, mime: str = "text/plain") -> WlCopy:
        owner = WlCopy(self, which, data, mime)
        owner.start()
        return owner

    def __enter__(self) -> WaylandServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class WlCopy:
    """``wl-copy --foreground``: owns the clipboard (or primary selection) until closed."""

    def __init__(self, server: WaylandServer, which: str, data: str | bytes, mime: str) -> None:
        self.server = server
        self.which = which
        self.data = data.encode() if isinstance(data, str) else data
        self.mime = mime
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        primary = ["--primary"] if self.which == "primary" else []
        env = self.server.client_env()
        self.process = subprocess.Popen(
            ["wl-copy", "--foreground", *primary, "--type", self.mime],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(self.data)
        self.process.stdin.close()
        # Owned once wl-paste lists our type (wl-copy prints nothing when it is ready).
        deadline = time.monotonic() + timeout
        while True:
            listed = subprocess.run(
                ["wl-paste", *primary, "--list-types"],
                env=env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            if self.mime.encode() in listed.stdout.split():
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("wl-copy did not take the selection in time")
            time.sleep(0.02)

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        process.wait(timeout=5)

    def __enter__(self) -> WlCopy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
