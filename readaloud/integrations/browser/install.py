"""Register the native messaging host with the user's browsers, and take it out again.

Each browser reads a small JSON manifest from its own folder under the user's home (Linux,
per user): it names the host, the program to start and the extensions that may start it. The
program is a two-line shell script that runs this Python with the host module, so it works
from a virtual environment as from a system install. Everything written carries the host's
name; uninstall removes exactly those files.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from readaloud.config import xdg_config_home, xdg_data_home

#: The host's name, as the extension asks for it (lowercase, dots: the browsers' rule).
NAME = "readaloud.daemon"
#: The extension's fixed Chrome id (from the key in its manifest) and its Firefox id.
CHROME_ORIGIN = "chrome-extension://abjkaflbnnplkeaapjneejmnaededpgi/"
FIREFOX_ID = "browser-extension@readaloud"
DESCRIPTION = "readaloud: the browser extension talks to the readaloud daemon through this"


@dataclass(frozen=True)
class Browser:
    name: str
    #: Where this browser reads the manifests of native messaging hosts.
    folder: Path
    firefox: bool = False


def browsers() -> list[Browser]:
    config = xdg_config_home()
    return [
        Browser("Chrome", config / "google-chrome" / "NativeMessagingHosts"),
        Browser("Chromium", config / "chromium" / "NativeMessagingHosts"),
        Browser("Brave", config / "BraveSoftware" / "Brave-Browser" / "NativeMessagingHosts"),
        Browser("Edge", config / "microsoft-edge" / "NativeMessagingHosts"),
        # Firefox does not follow XDG: its folder is always under the home folder.
        Browser("Firefox", Path.home() / ".mozilla" / "native-messaging-hosts", firefox=True),
    ]


def program_path() -> Path:
    return xdg_data_home() / "readaloud" / "browser-host"


def manifest(browser: Browser, program: Path) -> dict[str, object]:
    common = {"name": NAME, "description": DESCRIPTION, "path": str(program), "type": "stdio"}
    if browser.firefox:
        return {**common, "allowed_extensions": [FIREFOX_ID]}
    return {**common, "allowed_origins": [CHROME_ORIGIN]}


def install() -> str:
    """Writes the program and every browser's manifest; returns what it did, in lines."""
    program = program_path()
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text(
        "#!/bin/sh\n# The readaloud browser host, written by 'readaloud browser install'.\n"
        f'exec {shlex.quote(sys.executable)} -m readaloud.integrations.browser.host "$@"\n'
    )
    program.chmod(0o755)
    lines = [f"Wrote {program}."]
    for browser in browsers():
        browser.folder.mkdir(parents=True, exist_ok=True)
        path = browser.folder / f"{NAME}.json"
        path.write_text(json.dumps(manifest(browser, program), indent=2) + "\n")
        lines.append(f"{browser.name}: {path}")
    lines.append(
        "The extension now reaches the daemon with no token (reload it, or restart the "
        "browser, if it was running)."
    )
    return "\n".join(lines)


def uninstall() -> str:
    removed = []
    for path in [program_path(), *(b.folder / f"{NAME}.json" for b in browsers())]:
        if path.exists():
            os.remove(path)
            removed.append(str(path))
    if not removed:
        return "Nothing to remove: the browser host was not installed."
    return "Removed " + ", ".join(removed) + "."
