"""No setup: after ``readaloud browser install`` the extension reaches the daemon through the
native messaging host, with no token saved and no allowed_origins line in the daemon's config.

Real Chromium finds the host by the manifest that install wrote into the user's folder (its
profile is the user's ~/.config/chromium), starts the installed program, and the program
reaches a real daemon on the user's socket; the sound is heard at PulseAudio's monitor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp_browser import Chromium, Target
from in_browser import (
    EXTENSION,
    EXTENSION_ID,
    OPTIONS_URL,
    RATE,
    SENTENCE,
    SITE,
    connection_result,
    event,
    press_read_shortcut,
    press_stop_shortcut,
    select_paragraph,
    set_settings,
    wait_for_highlight,
)
from support import signal as sig
from support.browsers import host_user
from support.daemon import DaemonProcess, Events
from support.pulse import PulseServer

pytestmark = pytest.mark.sound


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[DaemonProcess]:
    process = DaemonProcess(pulse.env)  # allows no extension origin: HTTP would be refused
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def user(daemon: DaemonProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The user's environment, in the daemon's session, with the host installed."""
    return host_user(tmp_path_factory.mktemp("home"), daemon.runtime)


@pytest.fixture(scope="module")
def browser(user: dict[str, str]) -> Iterator[Chromium]:
    chromium = Chromium(
        EXTENSION,
        extra_flags=(f"--host-resolver-rules=MAP {SITE} 127.0.0.1",),
        profile=Path(user["XDG_CONFIG_HOME"]) / "chromium",  # where Chromium keeps a user's
        env=user,
    )
    chromium.start()
    yield chromium
    chromium.close()


@pytest.fixture(autouse=True)
def settled(worker: Target, daemon: DaemonProcess) -> Iterator[None]:
    """Every test starts silent, with no token saved: only the host can reach the daemon."""
    daemon.post("/v1/stop")
    set_settings(worker, daemon.port, "")
    yield
    daemon.post("/v1/stop")


def test_reads_the_selection_and_follows_along_through_the_host_with_no_token(
    article: Target, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    selected = select_paragraph(article, 1)
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        press_read_shortcut(article)
        started = events.wait_for(event("utterance_start"), 15)
        first = events.wait_for(event("segment_start", id=started["id"]), 15)
        # The daemon's events reach the page through the host too: the sentence is lit.
        wait_for_highlight(article, SENTENCE, first["text"], 10)
        while sig.sound_duration(cap.samples(), RATE) < 0.5:
            time.sleep(0.02)
        press_stop_shortcut(article)
        events.wait_for(event("utterance_end", id=started["id"]), 10)
    assert started["text"].strip() == selected, article.browser.console()
    assert sig.sound_duration(cap.samples(), RATE) >= 0.5  # heard
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_the_connection_test_says_the_host_is_used(options: Target) -> None:
    options.goto(OPTIONS_URL)
    options.browser.wait_for(lambda: options.evaluate("document.body.dataset.ready") == "true")
    options.evaluate("document.getElementById('test').click()")
    result = connection_result(options)
    assert result.startswith("Connected through the browser host"), result
    assert options.evaluate("document.getElementById('result').dataset.kind") == "ok"


def test_a_web_page_cannot_reach_the_host(article: Target, worker: Target) -> None:
    # Only the extension's own pages get connectNative; a page has no way to ask for it.
    assert article.evaluate("typeof (globalThis.chrome?.runtime?.connectNative)") == "undefined"
    assert worker.evaluate("typeof chrome.runtime.connectNative") == "function"
    assert worker.evaluate("chrome.runtime.id") == EXTENSION_ID
