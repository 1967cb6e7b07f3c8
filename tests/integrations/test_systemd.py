"""The user unit passes systemd's own checker; readiness reaches a real notify socket."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from readaloud.integrations import systemd
from readaloud.integrations.systemd import ServiceError, exec_line, install_service

REPO = Path(__file__).resolve().parents[2]
SHIPPED_UNIT = REPO / "systemd" / "readaloud.service"


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    """systemd-analyze --user verify, in a private runtime dir (no user manager needed)."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("the service tests need systemd-analyze: apt-get install systemd")
    with tempfile.TemporaryDirectory() as runtime:
        return subprocess.run(
            ["systemd-analyze", "--user", "verify", str(unit)],
            env={**os.environ, "XDG_RUNTIME_DIR": runtime},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def unit_settings(text: str) -> dict[str, str]:
    settings = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def test_shipped_unit_verifies_without_a_word() -> None:
    result = verify(SHIPPED_UNIT)
    assert result.stderr == "" and result.returncode == 0, result.stderr


def test_shipped_unit_is_a_notify_service_of_the_graphical_session() -> None:
    settings = unit_settings(SHIPPED_UNIT.read_text())
    assert settings["Type"] == "notify"
    assert settings["NotifyAccess"] == "main"
    assert settings["Restart"] == "on-failure"
    assert settings["PartOf"] == settings["After"] == "graphical-session.target"
    assert settings["WantedBy"] == "graphical-session.target"
    assert int(settings["TimeoutStartSec"]) >= 120  # a large voice model loads slowly
    assert settings["ExecStart"].endswith(" daemon")


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_CONFIG_HOME, and no way to reach a user manager: on a developer's desktop
    the tests must not stop or disable a real readaloud service."""
    home = tmp_path / "config"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    return home


def test_install_writes_a_unit_for_this_installation(config_home: Path) -> None:
    # No systemd user manager runs here: the unit is written, and the error says what to run.
    with pytest.raises(ServiceError) as caught:
        install_service()
    unit = config_home / "systemd" / "user" / "readaloud.service"
    message = str(caught.value)
    assert str(unit) in message
    assert "systemctl --user enable --now readaloud.service" in message
    settings = unit_settings(unit.read_text())
    executable, *args = shlex.split(settings["ExecStart"])
    assert Path(executable).is_file() and os.access(executable, os.X_OK)
    assert args[-1] == "daemon"
    assert Path(executable).parent == Path(sys.executable).absolute().parent  # this venv
    result = verify(unit)
    assert result.stderr == "" and result.returncode == 0, result.stderr


def test_the_installed_command_runs_this_readaloud(config_home: Path) -> None:
    with pytest.raises(ServiceError):
        install_service()
    unit = config_home / "systemd" / "user" / "readaloud.service"
    executable, *_ = shlex.split(unit_settings(unit.read_text())["ExecStart"])
    version = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert version.stdout.startswith("readaloud ")


def test_install_without_systemctl_still_writes_the_unit(
    config_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServiceError, match="systemctl is not installed") as caught:
        install_service()
    assert "autostart" in str(caught.value)
    assert (config_home / "systemd" / "user" / "readaloud.service").is_file()


def test_awkward_install_paths_are_quoted_for_systemd(config_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "My Apps 100%" / "bin"
    folder.mkdir(parents=True)
    script = folder / "readaloud"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    with pytest.raises(ServiceError):
        install_service([str(script), "daemon", "--listen", "127.0.0.1:7412"])
    unit = config_home / "systemd" / "user" / "readaloud.service"
    result = verify(unit)
    assert result.stderr == "" and result.returncode == 0, result.stderr
    assert '"' in unit_settings(unit.read_text())["ExecStart"]


def test_paths_systemd_cannot_run_are_refused() -> None:
    with pytest.raises(ServiceError, match="quotes or backslashes"):
        exec_line(['/opt/a"b/readaloud', "daemon"])
    with pytest.raises(ServiceError, match="absolute"):
        exec_line(["readaloud", "daemon"])


def test_uninstall_removes_the_unit_and_is_harmless_twice(config_home: Path) -> None:
    with pytest.raises(ServiceError):
        install_service()
    unit = config_home / "systemd" / "user" / "readaloud.service"
    assert unit.exists()
    assert "Removed" in systemd.uninstall_service()
    assert not unit.exists()
    assert "not installed" in systemd.uninstall_service()


# -- sd_notify ------------------------------------------------------------------------------


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A real SOCK_DGRAM socket in NOTIFY_SOCKET, as systemd gives a Type=notify service."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
            server.bind(path)
            server.settimeout(5)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            monkeypatch.setenv("NOTIFY_SOCKET", path)
            yield server


def receive(server: socket.socket) -> tuple[dict[str, str], int]:
    """The fields of one notification and the sender's PID (from its credentials)."""
    data, ancillary, _, _ = server.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = 0
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, _, _ = struct.unpack("iII", payload[:12])
    fields = dict(line.split("=", 1) for line in data.decode().splitlines())
    return fields, pid


def test_notify_ready_reaches_the_socket(notify_socket: socket.socket) -> None:
    assert systemd.notify_ready()
    fields, pid = receive(notify_socket)
    assert fields["READY"] == "1"
    assert pid == os.getpid()


def test_a_daemon_process_notifies_from_its_main_pid(notify_socket: socket.socket) -> None:
    # NotifyAccess=main: systemd accepts only messages sent by the service's main process.
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; from readaloud.integrations import systemd; "
            "systemd.notify_ready(); print(os.getpid())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    fields, pid = receive(notify_socket)
    assert fields["READY"] == "1"
    assert pid == int(child.stdout)


def test_status_stopping_and_timeout_extension(notify_socket: socket.socket) -> None:
    assert systemd.notify_status("Loading the XTTS voice\n(3 of 4)")
    assert receive(notify_socket)[0] == {"STATUS": "Loading the XTTS voice (3 of 4)"}
    assert systemd.notify_extend_timeout(90)
    assert receive(notify_socket)[0] == {"EXTEND_TIMEOUT_USEC": "90000000"}
    assert systemd.notify_stopping()
    assert receive(notify_socket)[0]["STOPPING"] == "1"


def test_abstract_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"readaloud-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify_ready()
        assert server.recv(4096).startswith(b"READY=1")


def test_without_systemd_notify_does_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify_ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert systemd.notify_ready() is False  # logged, never raised
