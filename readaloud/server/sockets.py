"""Listening sockets: the user's Unix socket (0600, stale ones replaced) and loopback TCP."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

from readaloud.errors import ExitCode, ReadaloudError


class AddressInUse(ReadaloudError):
    exit_code = ExitCode.ADDRESS_IN_USE


def answers(path: Path, timeout: float = 1.0) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def bind_unix(path: Path) -> socket.socket:
    """Bind the API socket; a socket left by a killed daemon is replaced, a live one is not."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        if answers(path):
            raise AddressInUse(
                f"Another readaloud daemon is already running (socket {path}). "
                "Stop it first: readaloud service stop, or kill it."
            )
        path.unlink()  # nobody answers: a stale socket from a daemon that was killed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Create it 0600 from the start: no moment in which another user could connect.
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    sock.listen(64)
    sock.setblocking(False)
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_tcp(host: str, port: int, *, allow_remote: bool) -> socket.socket:
    if not is_loopback(host) and not allow_remote:
        raise ReadaloudError(
            f"Refusing to listen on {host}: only loopback addresses are allowed unless "
            "allow_remote = true is set in [server] (the token is still required)."
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise AddressInUse(
            f"Cannot listen on {host}:{port} ({error.strerror}). Another program uses the "
            "port: pick another with --listen HOST:PORT or [server] port."
        ) from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


def allowed_hosts(host: str, port: int) -> list[str]:
    """Host header values a genuine local client sends (anything else is DNS rebinding)."""
    names = {"127.0.0.1", "localhost", "[::1]", host if ":" not in host else f"[{host}]"}
    return [f"{name}:{port}" for name in sorted(names)]


def http_base(host: str, port: int) -> str:
    """The daemon's address for a browser on this machine: loopback when it listens on all."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}"
