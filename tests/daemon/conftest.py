"""One real daemon per test module, on the session's PulseAudio (a module that needs its own
config defines its own ``daemon``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.daemon import DaemonProcess
from support.pulse import PulseServer


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[DaemonProcess]:
    process = DaemonProcess(pulse.env)
    process.start()
    yield process
    process.close()
