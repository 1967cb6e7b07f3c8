"""One daemon, one page server and one headless Chromium with the extension, per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cdp_browser import Chromium, Target
from in_browser import EXTENSION, EXTENSION_ID, OPTIONS_URL, ORIGIN, SITE, set_settings
from support.daemon import DaemonProcess
from support.pages import PageServer
from support.pulse import PulseServer


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[DaemonProcess]:
    process = DaemonProcess(pulse.env, config_text=f'[server]\nallowed_origins = ["{ORIGIN}"]\n')
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    chromium = Chromium(EXTENSION, extra_flags=(f"--host-resolver-rules=MAP {SITE} 127.0.0.1",))
    chromium.start()
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def worker(browser: Chromium) -> Target:
    """The extension's service worker (attached, so it stays awake)."""
    target = browser.service_worker(EXTENSION_ID)
    browser.wait_for(
        lambda: target.evaluate("typeof globalThis.readaloud") == "object",
        30,
        "the worker to register its listeners",
    )
    return target


@pytest.fixture(scope="module")
def article(browser: Chromium, pages: PageServer, worker: Target) -> Target:
    port = pages.base.rsplit(":", 1)[1]
    return browser.open(f"http://{SITE}:{port}/article")


@pytest.fixture(scope="module")
def options(browser: Chromium, worker: Target) -> Target:
    return browser.open(OPTIONS_URL)


@pytest.fixture(autouse=True)
def settled(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts silent, with the right port and token saved and no problem shown."""
    names = request.fixturenames
    if "worker" in names:
        worker = request.getfixturevalue("worker")
        if "daemon" in names:
            daemon = request.getfixturevalue("daemon")
            daemon.post("/v1/stop")
            set_settings(worker, daemon.port, daemon.token)
        worker.evaluate(
            "chrome.action.setBadgeText({text: ''}).then(() => chrome.notifications.getAll())"
            ".then(shown => Promise.all("
            "Object.keys(shown).map((id) => chrome.notifications.clear(id))))"
        )
    yield
    if "daemon" in names:
        request.getfixturevalue("daemon").post("/v1/stop")
