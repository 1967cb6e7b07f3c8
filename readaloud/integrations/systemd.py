"""systemd: tell the service manager how the daemon is doing (sd_notify), and install the user
service that starts readaloud with the desktop.

The notify protocol is one datagram of ``KEY=value`` lines to the Unix socket named by
``$NOTIFY_SOCKET``. It is written out here rather than taken from the ``sdnotify`` package:
that package (last release 2017) connects once when created and swallows every error, and
the protocol is a dozen lines.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from readaloud.config import xdg_config_home
from readaloud.errors import ExitCode, ReadaloudError

log = logging.getLogger(__name__)

SERVICE = "readaloud.service"

#: systemctl answers in milliseconds; a wedged user manager must not hang the installer.
SYSTEMCTL_TIMEOUT_S = 30.0


class ServiceError(ReadaloudError):
    """The user service could not be installed, enabled or removed."""

    exit_code = ExitCode.SERVICE_SETUP
    spoken = "Could not set up the readaloud service."


# -- sd_notify ------------------------------------------------------------------------------


def notify(*fields: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``KEY=value`` fields to the service manager in one datagram.

    Returns False (and does nothing) when not started by systemd, or when the message could not
    be sent; a failed notification is logged, never raised: it must not take the daemon down.
    """
    address = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        target = "\0" + address[1:]
    elif address.startswith("/"):
        target = address
    else:
        log.warning("NOTIFY_SOCKET=%s is not a Unix socket; not notifying systemd", address)
        return False
    message = "\n".join(fields).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message, target)
    except OSError as error:
        log.warning("could not notify systemd at %s: %s", address, error)
        return False
    return True


def notify_ready(status: str = "Ready to speak") -> bool:
    """The daemon can speak at once: systemd ends the start job (Type=notify)."""
    return notify("READY=1", _status(status))


def notify_stopping() -> bool:
    return notify("STOPPING=1", _status("Stopping"))


def notify_status(text: str) -> bool:
    """A one-line status that ``systemctl --user status readaloud`` shows."""
    return notify(_status(text))


def notify_extend_timeout(seconds: float) -> bool:
    """Ask for ``seconds`` more before the start times out (while a large model loads)."""
    return notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")


def _status(text: str) -> str:
    return "STATUS=" + " ".join(text.split())  # one line: a newline would start a new field


# -- the user service -----------------------------------------------------------------------


def unit_path() -> Path:
    """Where the user's unit lives: $XDG_CONFIG_HOME/systemd/user/readaloud.service."""
    return xdg_config_home() / "systemd" / "user" / SERVICE


def template_path() -> Path:
    """The shipped unit: package data when installed from a wheel, else the source tree's."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "data" / SERVICE, package.parent / "systemd" / SERVICE):
        if candidate.is_file():
            return candidate
    raise ServiceError(
        f"The unit template {SERVICE} is not part of this installation (looked in "
        f"{package / 'data'} and {package.parent / 'systemd'}). Reinstall readaloud."
    )


def daemon_command() -> list[str]:
    """How systemd should start this installation's daemon, as absolute paths.

    The ``readaloud`` script beside this interpreter (a venv's bin/), else ``python -m``.
    The interpreter path is kept as is: resolving a venv's python symlink would leave the venv.
    """
    interpreter = Path(sys.executable).absolute()
    script = interpreter.parent / "readaloud"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "daemon"]
    return [str(interpreter), "-m", "readaloud", "daemon"]


def render_unit(template: str, command: Sequence[str]) -> str:
    """The template with its ExecStart line set to ``command``."""
    exec_start = "ExecStart=" + exec_line(command)
    lines = template.splitlines()
    replaced = [exec_start if line.startswith("ExecStart=") else line for line in lines]
    if replaced == lines and exec_start not in lines:
        raise ServiceError(f"The unit template has no ExecStart= line to set to {command[0]}.")
    return "\n".join(replaced) + "\n"


def exec_line(command: Sequence[str]) -> str:
    """``command`` quoted for ExecStart=: "%" is a specifier, "$" expands (but not in the
    executable's own path), and systemd refuses quotes and backslashes in that path."""
    executable, *args = command
    if not executable.startswith("/"):
        raise ServiceError(f"ExecStart needs an absolute path, not {executable!r}.")
    bad = [c for c in executable if c in '"\\' or not c.isprintable()]
    if bad:
        raise ServiceError(
            f"systemd cannot run {executable!r}: its path contains {bad[0]!r}. "
            "Install readaloud in a folder whose path has no quotes or backslashes."
        )
    quoted = [_quote(executable.replace("%", "%%"))]
    for arg in args:
        quoted.append(_quote(arg.replace("%", "%%").replace("$", "$$")))
    return " ".join(quoted)


def _quote(word: str) -> str:
    if word and not any(c.isspace() or c in "\"'\\;" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def install_service(command: Sequence[str] | None = None) -> str:
    """Write the user unit for this installation, then enable and (re)start it.

    The unit file is written even where it cannot be enabled (no systemctl, no user manager):
    ServiceError then says exactly what to run once in a systemd desktop session.
    Returns what was done, for the person who asked.
    """
    command = list(command or daemon_command())
    path = unit_path()
    text = render_unit(template_path().read_text(encoding="utf-8"), command)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        raise ServiceError(f"Cannot write {path}: {error.strerror}.") from None
    started = exec_line(command)
    problem = _user_manager_problem()
    if problem:
        raise ServiceError(
            f"Wrote {path}, but {problem}, so it is not enabled. In a desktop session run by "
            f"systemd, run: systemctl --user daemon-reload && systemctl --user enable --now "
            f"{SERVICE}. Elsewhere, add '{started}' to your desktop's autostart programs."
        )
    _systemctl("daemon-reload")
    _systemctl("enable", SERVICE)
    # restart, not start: a reinstall (new ExecStart, new version) must take effect now.
    # --no-block: loading a large voice can take minutes; `systemctl status` follows it.
    _systemctl("restart", "--no-block", SERVICE)
    lines = [
        f"Installed {path} (runs {started}).",
        f"Enabled: readaloud starts with your desktop session, and is starting now. "
        f"Follow it with: systemctl --user status {SERVICE.removesuffix('.service')}",
    ]
    if _systemctl("is-active", "graphical-session.target", check=False).returncode != 0:
        lines.append(
            "Note: graphical-session.target is not active in this session, so this desktop "
            "may not start user services at login (common with XFCE, i3 and other window "
            f"managers). Add 'systemctl --user start {SERVICE}' to its autostart programs."
        )
    return "\n".join(lines)


def uninstall_service() -> str:
    """Stop and disable the service, remove the unit file. Doing it twice is harmless."""
    path = unit_path()
    problem = _user_manager_problem()
    if not problem:
        stopped = _systemctl("disable", "--now", SERVICE, check=False)
        if stopped.returncode != 0 and not _unit_unknown(stopped.stderr):
            raise ServiceError(
                f"systemctl --user disable --now {SERVICE} failed: {_first_line(stopped.stderr)}"
            )
    if not path.exists():
        return f"The readaloud service is not installed ({path} does not exist)."
    try:
        path.unlink()
    except OSError as error:
        raise ServiceError(f"Cannot remove {path}: {error.strerror}.") from None
    if problem:
        return f"Removed {path}. Nothing was stopped: {problem}."
    _systemctl("daemon-reload")
    return f"Stopped and disabled the readaloud service, and removed {path}."


def _user_manager_problem() -> str | None:
    """Why ``systemctl --user`` cannot be used here, or None when it can."""
    if shutil.which("systemctl") is None:
        return "systemctl is not installed here"
    probe = _systemctl("show-environment", check=False)
    if probe.returncode != 0:
        reason = _first_line(probe.stderr) or f"exit status {probe.returncode}"
        return f"no systemd user manager is reachable ({reason})"
    return None


def _systemctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["systemctl", "--user", *args]
    try:
        completed = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServiceError(
            f"{' '.join(argv)} did not finish within {SYSTEMCTL_TIMEOUT_S:g} s."
        ) from None
    except OSError as error:
        raise ServiceError(f"Cannot run systemctl: {error.strerror}.") from None
    if check and completed.returncode != 0:
        raise ServiceError(f"{' '.join(argv)} failed: {_first_line(completed.stderr)}")
    return completed


def _unit_unknown(stderr: str) -> bool:
    text = stderr.lower()
    return "not loaded" in text or "does not exist" in text or "not found" in text


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
