"""Fixtures for the reliability tests: a real daemon on the session's PulseAudio, and the page
server. Each test module gets its own daemon, so one module's abuse cannot hide another's bug."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.pulse import PulseServer
from support.reliable import Daemon

#: No desktop session: the selection and clipboard fail the same way on every machine.
NO_DESKTOP = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[Daemon]:
    process = Daemon({**pulse.env, **NO_DESKTOP})
    process.start()
    yield process
    process.close()
