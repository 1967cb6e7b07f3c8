"""Real display servers for the desktop tests: a private Xvfb, a headless sway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.xserver import WAYLAND_TOOLS, X_TOOLS, WaylandServer, XServer, missing_packages


@pytest.fixture(scope="session")
def xserver() -> Iterator[XServer]:
    """A private Xvfb for the whole session (clients get its DISPLAY through ``display``)."""
    missing = missing_packages(X_TOOLS)
    if missing:
        pytest.fail(f"the desktop tests need: apt-get install {' '.join(missing)}")
    with XServer() as server:
        yield server


@pytest.fixture
def display(xserver: XServer, monkeypatch: pytest.MonkeyPatch) -> XServer:
    """The session's Xvfb as this process's display: DISPLAY set, no Wayland socket."""
    monkeypatch.setenv("DISPLAY", xserver.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    return xserver


@pytest.fixture(scope="session")
def wayland() -> Iterator[WaylandServer]:
    """A headless sway for the session; pass ``wayland.client_env()`` to the code under test."""
    missing = missing_packages(WAYLAND_TOOLS)
    if missing:
        pytest.fail(f"the Wayland tests need: apt-get install {' '.join(missing)}")
    with WaylandServer() as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def latency_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print what a test module measured into its ``LATENCIES`` (shown with pytest -s)."""
    yield
    for name, value in getattr(request.module, "LATENCIES", {}).items():
        print(f"\n{name:<55} {value:7.1f}", end="")
