"""Orca, the screen reader, on a desktop of its own: a private Xvfb and session bus (at-spi
comes up on it), a private speech-dispatcher whose default output module is readaloud (or
espeak-ng, the baseline), zenity dialogs to type into, keystrokes by xdotool. What Orca says is
heard at the sound server of the environment given, like everything else the benchmark and the
tests measure.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from readaloud.bench.measure import AUDIBLE, last_above
from readaloud.bench.soundserver import Capture, end_process
from readaloud.bench.xserver import XServer
from readaloud.server.sockets import answers

#: Command → the Debian package that has it.
TOOLS = {
    "orca": "orca",
    "zenity": "zenity",
    "xdotool": "xdotool",
    "Xvfb": "xvfb",
    "dbus-daemon": "dbus-daemon",
    "speech-dispatcher": "speech-dispatcher",
}
#: The baseline's module: speechd's own espeak-ng.
ESPEAK_NG = "espeak-ng"
ESPEAK_NG_MODULE = Path("/usr/lib/speech-dispatcher-modules/sd_espeak-ng")


def missing_packages(baseline: bool = False) -> list[str]:
    """The Debian packages the screen-reader desktop needs and lacks."""
    missing = {package for tool, package in TOOLS.items() if shutil.which(tool) is None}
    if baseline and not ESPEAK_NG_MODULE.exists():
        missing.add("speech-dispatcher-espeak-ng")
    return sorted(missing)


class SpeechDispatcher:
    """A private speech-dispatcher: its own HOME, readaloud installed by ``readaloud speechd
    install --default`` (so spd-say and Orca speak through it), or ``default`` instead."""

    def __init__(self, env: dict[str, str], default: str = "readaloud") -> None:
        self.home = Path(tempfile.mkdtemp(prefix="readaloud-speechd-"))
        self.env = {
            **env,
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
        }
        self.env.pop("NOTIFY_SOCKET", None)
        self.default = default
        self.log_folder = self.home / "logs"
        self.socket_path = Path(self.env["XDG_RUNTIME_DIR"]) / "speech-dispatcher" / "speechd.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        installed = subprocess.run(
            [sys.executable, "-m", "readaloud", "speechd", "install", "--default"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if installed.returncode != 0:
            raise RuntimeError(f"readaloud speechd install failed: {installed.stderr}")
        if self.default != "readaloud":  # a later DefaultModule line wins
            config = Path(self.env["XDG_CONFIG_HOME"]) / "speech-dispatcher" / "speechd.conf"
            with config.open("a", encoding="utf-8") as conf:
                conf.write(f"DefaultModule {self.default}\n")
        self.log_folder.mkdir()
        self.process = subprocess.Popen(
            ["speech-dispatcher", "-s", "-t", "600", "-l", "3", "-L", str(self.log_folder)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        # Ask only once it answers: a client that finds no speechd starts one of its own.
        while not answers(self.socket_path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("speech-dispatcher did not start:\n" + self.logs())
            time.sleep(0.05)

    def logs(self) -> str:
        if not self.log_folder.exists():
            return ""
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_folder.iterdir())
        )

    def close(self) -> None:
        if self.process is not None:
            end_process(self.process, timeout=10)
            self.process = None
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> SpeechDispatcher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Orca:
    """Orca with its default settings on a private X server and session bus, speaking through
    the speech-dispatcher of ``env``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.xserver = XServer()
        self.env = dict(env)
        self._processes: list[subprocess.Popen[bytes]] = []
        self._dialog: subprocess.Popen[bytes] | None = None

    def start(self, heard: Capture, timeout: float = 60.0) -> None:
        """Start it and wait until its greeting has been heard at ``heard``."""
        self.xserver.start()
        self.env["DISPLAY"] = self.xserver.display
        self.env.pop("WAYLAND_DISPLAY", None)
        bus = self._spawn(
            ["dbus-daemon", "--session", "--nofork", "--print-address"], stdout=subprocess.PIPE
        )
        assert bus.stdout is not None
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
        for _attempt in range(2):  # --replace: a second Orca takes over from a silent first
            self._spawn(["orca", "--replace"])
            if wait_until_said(heard, timeout / 2):  # "Screen reader on."
                return
        raise TimeoutError(f"Orca said nothing in two starts of {timeout / 2:g} s each")

    def open(self, heard: Capture, title: str, *zenity: str, attempts: int = 3) -> None:
        """Open a zenity dialog (``--entry``, ``--text-info``...) in place of the last one,
        give it the keyboard focus (there is no window manager to do it) and wait until Orca has
        announced it. A dialog that went unannounced (seen once in a full test run) is opened
        again."""
        for _attempt in range(attempts):
            if self._dialog is not None:
                end_process(self._dialog)
                self._processes.remove(self._dialog)
            self._dialog = self._spawn(["zenity", "--title", title, *zenity])
            subprocess.run(
                ["xdotool", "search", "--sync", "--onlyvisible", "--name", f"^{title}$"]
                + ["windowfocus", "--sync"],
                env=self.env,
                check=True,
                timeout=30,
                capture_output=True,
            )
            if wait_until_said(heard, 10.0):
                return
        raise TimeoutError(f"Orca did not announce the dialog {title!r} in {attempts} tries")

    def key(self, *keys: str) -> float:
        """Press and release keys (xdotool names); returns when the first went down (as near
        as can be told: just before xdotool starts)."""
        pressed = time.monotonic()
        subprocess.run(
            ["xdotool", "key", *keys], env=self.env, check=True, timeout=10, capture_output=True
        )
        return pressed

    def close(self) -> None:
        for process in reversed(self._processes):
            end_process(process, timeout=5)
        self._processes.clear()
        self.xserver.stop()

    def _spawn(self, command: list[str], stdout: int = subprocess.DEVNULL) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
        self._processes.append(process)
        return process


def wait_until_said(heard: Capture, timeout: float, quiet_s: float = 0.6) -> bool:
    """Wait until something new has been heard and then nothing for ``quiet_s``; False when
    nothing was said within ``timeout``."""
    start = len(heard.samples())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        samples = heard.samples()[start:]
        last = last_above(samples, AUDIBLE)
        if last is not None and len(samples) - last > quiet_s * heard.rate:
            return True
    return False
