"""How readaloud meets the desktop: the selection and clipboard, global hotkeys, systemd.

Each module talks to one outside service and turns its failures into errors a person can act on,
with a short ``spoken`` phrase for when nobody can see the screen.
"""

from __future__ import annotations

from readaloud.errors import ExitCode, ReadaloudError


class DesktopUnavailable(ReadaloudError):
    """The desktop session (display server, clipboard tool, hotkey support) cannot be used."""

    exit_code = ExitCode.NO_DESKTOP
    spoken = "The desktop session cannot be reached."

    def __init__(self, message: str, spoken: str | None = None) -> None:
        super().__init__(message)
        if spoken is not None:
            self.spoken = spoken
