"""Debian's Chromium, headless, opening one page: the browser a hostile web page runs in.

No DevTools protocol: the page under test reports what it saw by POSTing JSON to its own
server (same origin, allowed), so the test only starts the browser, waits for that report and
ends the browser. Flags: the ones that work on these machines (no GPU, no network, root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--password-store=basic",
)


def executable() -> str | None:
    return os.environ.get("READALOUD_CHROMIUM") or shutil.which("chromium")


@contextmanager
def browsing(url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Chromium showing ``url`` with a fresh profile, ended (with its children) on exit."""
    binary = executable()
    if binary is None:
        raise RuntimeError("the browser tests need Chromium: apt-get install chromium")
    profile = tempfile.mkdtemp(prefix="readaloud-chromium-")
    process = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its renderer and GPU processes go with it
    )
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)
