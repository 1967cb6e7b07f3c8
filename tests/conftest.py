"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from support.pages import PageServer
from support.pulse import PulseServer
from support.voice_repo import VoiceRepo


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever plays through the real sound server is a "sound" test (-m "not sound" skips).
    for item in items:
        if "pulse" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sound)


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseServer]:
    """A real PulseAudio with a null sink, the test process's default sound server.

    Sets XDG_RUNTIME_DIR and PULSE_SERVER for this process (and its children) and makes
    PortAudio look again, since it lists devices only once.
    """
    if shutil.which("pulseaudio") is None or shutil.which("parec") is None:
        pytest.fail("the sound tests need PulseAudio: apt-get install pulseaudio pulseaudio-utils")
    server = PulseServer()
    server.start()
    saved = {name: os.environ.get(name) for name in server.env}
    os.environ.update(server.env)
    from readaloud.audio.player import rescan_devices

    rescan_devices()
    try:
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.close()


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    """A local HTTP server with the test pages (``support/pages.py``)."""
    server = PageServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def voice_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceRepo]:
    """A local stand-in of the Piper voices repository (``support/voice_repo.py``)."""
    server = VoiceRepo(tmp_path_factory.mktemp("voice-repo")).build().start()
    yield server
    server.close()
