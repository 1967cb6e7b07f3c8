"""What the browser tests share: waiting for a page to show something, and a user whose
browsers reach the daemon through the installed native messaging host."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """``predicate()`` once it is true, polled; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment with a home and XDG folders of its own."""
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        **extra,
    }


def browser_command(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``readaloud browser install|uninstall`` as that user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "readaloud", "browser", action],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def host_user(home: Path, runtime: Path) -> dict[str, str]:
    """The environment of a user in the session of the daemon whose runtime folder is
    ``runtime``, who ran ``readaloud browser install``."""
    env = user_env(home, XDG_RUNTIME_DIR=str(runtime))
    done = browser_command("install", env)
    assert done.returncode == 0, done.stderr
    return env
