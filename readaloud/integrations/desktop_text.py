"""The text the user just highlighted (the PRIMARY selection) or copied (the CLIPBOARD).

Read through the desktop's own tools, each run with a timeout: ``wl-paste`` on Wayland, ``xclip``
(or else ``xsel``) on X11. Not pyperclip: it reads a dead X display as '' (so "the session is
gone" sounds like "nothing selected"), it has no timeout (a frozen program that owns the
selection would hang the daemon), and it cannot tell an image from text. The tools' exit status,
their messages and the offered targets tell all of these apart.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Literal

from readaloud.errors import BadInput
from readaloud.integrations import DesktopUnavailable
from readaloud.text.sources import MAX_TEXT_BYTES

log = logging.getLogger(__name__)

Selection = Literal["primary", "clipboard"]

#: Seconds one tool may take. A healthy owner answers in milliseconds; a frozen one never does.
DEFAULT_TIMEOUT_S = 2.0

#: Targets (X11) and MIME types (Wayland) that carry text, best first, with their encoding.
TEXT_TARGETS: dict[str, str] = {
    "text/plain;charset=utf-8": "utf-8",
    "UTF8_STRING": "utf-8",
    "text/plain": "utf-8",
    "TEXT": "utf-8",
    "STRING": "latin-1",  # ICCCM: STRING is ISO 8859-1
}

#: Targets every owner offers that say nothing about the content.
_META_TARGETS = frozenset(
    {"TARGETS", "TIMESTAMP", "MULTIPLE", "SAVE_TARGETS", "DELETE", "INSERT_SELECTION"}
)

#: Leading bytes of common non-text content, to name what a tool that cannot list targets
#: (xsel, or an owner that lies about its targets) handed over instead of text.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF"),
)


def _names(which: Selection) -> tuple[str, str]:
    """(the thing, for messages; what the user did) — "the selection" / "the clipboard"."""
    return ("the selection", "highlighted") if which == "primary" else ("the clipboard", "copied")


# -- errors ---------------------------------------------------------------------------------


class NothingSelected(BadInput):
    """No program owns the selection, or it holds only whitespace."""

    spoken = "Nothing is selected."


class ClipboardEmpty(BadInput):
    """No program owns the clipboard, or it holds only whitespace."""

    spoken = "The clipboard is empty."


class NotText(BadInput):
    """The selection or clipboard holds an image or other data, not text."""

    def __init__(self, message: str, spoken: str) -> None:
        super().__init__(message)
        self.spoken = spoken


class SelectionTooLarge(BadInput):
    spoken = "The selection is too large to read."


class NoDisplay(DesktopUnavailable):
    """No display server to ask: no DISPLAY/WAYLAND_DISPLAY, or the server is gone."""

    spoken = "No desktop session: cannot read the selection."


class ClipboardToolMissing(DesktopUnavailable):
    """The tool that reads the selection is not installed."""

    def __init__(self, message: str, package: str, spoken: str) -> None:
        super().__init__(message, spoken)
        self.package = package


class SelectionTimeout(DesktopUnavailable):
    """The program that owns the selection did not answer in time."""

    spoken = "The program holding the text did not answer."


class PrimaryUnsupported(DesktopUnavailable):
    """The Wayland compositor does not share the primary selection."""

    spoken = "This desktop does not share highlighted text. Copy it, then read the clipboard."


class SelectionUnreadable(DesktopUnavailable):
    """The tool failed in a way none of the errors above covers; its message is kept."""


# -- public functions -----------------------------------------------------------------------


def read_selection(
    *, timeout: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None
) -> str:
    """The text the user highlighted (PRIMARY selection), exactly as the owner gives it.

    Raises NothingSelected, NotText, NoDisplay, ClipboardToolMissing, SelectionTimeout,
    PrimaryUnsupported (some Wayland compositors) or SelectionUnreadable.
    """
    return read_text("primary", timeout=timeout, env=env)


def read_clipboard(
    *, timeout: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None
) -> str:
    """The text the user copied (CLIPBOARD). Raises ClipboardEmpty instead of NothingSelected."""
    return read_text("clipboard", timeout=timeout, env=env)


def read_text(
    which: Selection, *, timeout: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None
) -> str:
    """The text of the PRIMARY selection or the CLIPBOARD; ``env`` defaults to os.environ."""
    environment = dict(os.environ if env is None else env)
    reader = _choose_reader(which, environment, timeout)
    try:
        raw, encoding = reader.read()
    except _Empty:
        raw, encoding = b"", "utf-8"
    return _to_text(raw, encoding, which)


# -- choosing a tool ------------------------------------------------------------------------


def _choose_reader(which: Selection, env: dict[str, str], timeout: float) -> _Reader:
    wayland = bool(env.get("WAYLAND_DISPLAY"))
    x11 = bool(env.get("DISPLAY"))
    thing, _ = _names(which)
    if not wayland and not x11:
        raise NoDisplay(
            f"No desktop session: neither WAYLAND_DISPLAY nor DISPLAY is set, so {thing} "
            "cannot be read. Run readaloud inside your desktop session (the systemd user "
            "service gets these from the session when it starts).",
            spoken=f"No desktop session: cannot read {thing}.",
        )
    path = env.get("PATH", os.defpath)
    if wayland and (tool := shutil.which("wl-paste", path=path)):
        return _WlPaste(tool, which, env, timeout)
    # A Wayland desktop without wl-paste still bridges its clipboard to X programs (XWayland).
    if x11 and (tool := shutil.which("xclip", path=path)):
        return _Xclip(tool, which, env, timeout)
    if x11 and (tool := shutil.which("xsel", path=path)):
        return _Xsel(tool, which, env, timeout)
    package, needs = (
        ("wl-clipboard", "wl-paste, which is not installed")
        if wayland
        else ("xclip", "xclip or xsel, and neither is installed")
    )
    raise ClipboardToolMissing(
        f"Reading {thing} needs {needs}. Install it: sudo apt-get install {package}",
        package=package,
        spoken=f"Cannot read {thing}: {package} is not installed.",
    )


# -- the tools ------------------------------------------------------------------------------


class _Empty(Exception):
    """The selection has no owner or no content (turned into NothingSelected/ClipboardEmpty)."""


class _Reader:
    name = ""

    def __init__(self, tool: str, which: Selection, env: dict[str, str], timeout: float) -> None:
        self.tool = tool
        self.which = which
        self.env = env
        self.timeout = timeout

    def read(self) -> tuple[bytes, str]:
        """The raw content and its encoding; raises _Empty, NotText or DesktopUnavailable."""
        raise NotImplementedError

    def run(self, args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        argv = [self.tool, *args]
        thing, _ = _names(self.which)
        try:
            return subprocess.run(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SelectionTimeout(
                f"The program that owns {thing} did not answer within {self.timeout:g} s "
                f"({self.name} timed out); it may be frozen. Select or copy the text again, "
                "or close that program."
            ) from None
        except OSError as error:
            raise ClipboardToolMissing(
                f"Cannot run {self.tool}: {error.strerror}. Reinstall it.",
                package=self.name,
                spoken=f"Cannot read {thing}: {self.name} does not run.",
            ) from None

    def failed(self, completed: subprocess.CompletedProcess[bytes]) -> DesktopUnavailable:
        thing, _ = _names(self.which)
        message = _first_line(completed.stderr) or f"exit status {completed.returncode}"
        return SelectionUnreadable(
            f"Could not read {thing}: {self.name} said: {message}",
            spoken=f"Could not read {thing}.",
        )

    def no_display(self, detail: str) -> NoDisplay:
        thing, _ = _names(self.which)
        return NoDisplay(
            f"Cannot reach the display server ({detail}): is the desktop session still "
            f"running? {thing.capitalize()} cannot be read.",
            spoken=f"No desktop session: cannot read {thing}.",
        )


class _Xclip(_Reader):
    """xclip lists the owner's targets, so images and other data are told apart from text."""

    name = "xclip"

    def read(self) -> tuple[bytes, str]:
        listed = self.run(["-o", "-selection", self.which, "-t", "TARGETS"])
        if listed.returncode == 0:
            targets = listed.stdout.decode("latin-1").split()
            target = _best_text_target(targets, self.which)
            if target is None:
                raise _Empty
        else:
            self._check(listed)
            # No owner, or an old one that cannot list its targets: ask for text directly.
            target = "UTF8_STRING"
        content = self.run(["-o", "-selection", self.which, "-t", target])
        if content.returncode != 0:
            self._check(content)
            raise _Empty
        return content.stdout, _encoding_of(target)

    def _check(self, completed: subprocess.CompletedProcess[bytes]) -> None:
        """Raise for anything but "target not available" (which means: no owner, or no text)."""
        message = completed.stderr.decode("utf-8", "replace")
        if "Can't open display" in message:
            raise self.no_display(f"DISPLAY={self.env.get('DISPLAY', '')}")
        if "not available" not in message:
            raise self.failed(completed)


class _Xsel(_Reader):
    """xsel asks for text only: an owner with an image answers with nothing (read as empty)."""

    name = "xsel"

    def read(self) -> tuple[bytes, str]:
        flag = "--primary" if self.which == "primary" else "--clipboard"
        completed = self.run([flag, "--output"])
        if completed.returncode != 0:
            if b"Can't open display" in completed.stderr:
                raise self.no_display(f"DISPLAY={self.env.get('DISPLAY', '')}")
            raise self.failed(completed)
        return completed.stdout, "utf-8"


class _WlPaste(_Reader):
    name = "wl-paste"

    def read(self) -> tuple[bytes, str]:
        selection = ["--primary"] if self.which == "primary" else []
        listed = self.run([*selection, "--list-types"])
        self._check(listed)
        target = _best_text_target(listed.stdout.decode("utf-8", "replace").split("\n"), self.which)
        if target is None:
            raise _Empty
        content = self.run([*selection, "--no-newline", "--type", target])
        self._check(content)
        return content.stdout, _encoding_of(target)

    def _check(self, completed: subprocess.CompletedProcess[bytes]) -> None:
        if completed.returncode == 0:
            return
        message = completed.stderr.decode("utf-8", "replace").lower()
        if "nothing is copied" in message or "no selection" in message:
            raise _Empty
        if "failed to connect" in message:
            raise self.no_display(f"WAYLAND_DISPLAY={self.env.get('WAYLAND_DISPLAY', '')}")
        if "primary" in message and "not supported" in message:
            raise PrimaryUnsupported(
                "This Wayland desktop does not share the primary selection (highlighted "
                "text) with other programs. Copy the text (Ctrl+C) and read the clipboard."
            )
        raise self.failed(completed)


# -- content --------------------------------------------------------------------------------


def _best_text_target(targets: Sequence[str], which: Selection) -> str | None:
    """The best text target offered; None when nothing is offered; NotText for data only."""
    offered = [t.strip() for t in targets if t.strip()]
    by_name = {t.lower(): t for t in offered}
    for target in TEXT_TARGETS:
        if target.lower() in by_name:
            return by_name[target.lower()]  # the owner's spelling: X atoms are case-sensitive
    data = [t for t in offered if t not in _META_TARGETS]
    if not data:
        return None
    thing, _ = _names(which)
    kind = _kind_of(data)
    raise NotText(
        f"{thing.capitalize()} holds {kind} ({', '.join(data[:3])}), not text. "
        "Select or copy some text, then try again.",
        spoken=f"{thing.capitalize()} holds {kind}, not text.",
    )


def _encoding_of(target: str) -> str:
    return next(enc for name, enc in TEXT_TARGETS.items() if name.lower() == target.lower())


def _kind_of(mime_types: Sequence[str]) -> str:
    families = {"image": "an image", "audio": "a sound", "video": "a video"}
    for mime in mime_types:
        family = mime.split("/", 1)[0].lower()
        if family in families:
            return families[family]
    return "data"


def _to_text(raw: bytes, encoding: str, which: Selection) -> str:
    thing, did = _names(which)
    empty = NothingSelected if which == "primary" else ClipboardEmpty
    if len(raw) > MAX_TEXT_BYTES:
        raise SelectionTooLarge(
            f"{thing.capitalize()} holds {len(raw) / 1e6:.1f} MB; readaloud reads at most "
            f"{MAX_TEXT_BYTES // 1_000_000} MB at a time. Select a smaller part."
        )
    text = _decode(raw, encoding)
    if text is None:
        kind = next((kind for magic, kind in _MAGIC if raw.startswith(magic)), "data")
        raise NotText(
            f"{thing.capitalize()} holds {kind}, not text. Select or copy some text.",
            spoken=f"{thing.capitalize()} holds {kind}, not text.",
        )
    if not text.strip():
        raise empty(
            f"Nothing to read: {thing} is empty. "
            f"{'Highlight' if which == 'primary' else 'Copy'} some text first "
            f"(what you last {did} may have been in a program that has since closed)."
        )
    return text


def _decode(raw: bytes, encoding: str) -> str | None:
    """The text, or None when the bytes are not text (NUL bytes, or not valid in encoding)."""
    if b"\x00" in raw:
        return None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


def _first_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else ""
