"""The browser extension in Debian's Chromium, against a real daemon heard at PulseAudio's monitor.

Chromium runs headless with the unpacked extension and is driven over the DevTools protocol
(see cdp_browser.py). The article is served as http://news.example:<port>/ (Chromium alone maps
that name to 127.0.0.1), a site no host permission of the extension covers: every read below
works only through activeTab, granted by the user's shortcut or toolbar click, as in real use.

How each entry point is triggered:
- keyboard shortcuts: real key presses (Alt+Shift+S read, Alt+Shift+Q stop) on the page;
- toolbar button: Extensions.triggerAction, the protocol's click on the button;
- context menus: headless Chromium's native menus cannot be clicked, so the test calls the
  worker's registered contextMenus.onClicked listener with the info the browser passes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
from cdp_browser import Chromium, Target
from in_browser import (
    EXTENSION,
    EXTENSION_ID,
    OPTIONS_URL,
    ORIGIN,
    RATE,
    SITE,
    clear_selection,
    connection_result,
    event,
    press_read_shortcut,
    press_stop_shortcut,
    select_paragraph,
    set_settings,
    unnamed_controls,
)
from support import signal as sig
from support.daemon import DaemonProcess, Events
from support.pages import ARTICLE_PARAGRAPHS, ARTICLE_TITLE, CHROME_WORDS
from support.pulse import PulseServer

pytestmark = pytest.mark.sound


# -- helpers ------------------------------------------------------------------------------------


def fill_in_options(options: Target, port: int | None, token: str) -> str:
    """Type the port and token with the keyboard alone, press Test connection, return the result."""
    options.goto(OPTIONS_URL)
    options.browser.wait_for(lambda: options.evaluate("document.body.dataset.ready") == "true")
    options.bring_to_front()
    focused = "document.activeElement.id"
    options.tab_key()
    assert options.evaluate(focused) == "port"
    options.select_all_in_focus()
    options.type_text(str(port))
    options.tab_key()
    assert options.evaluate(focused) == "token"
    options.select_all_in_focus()
    options.type_text(token)
    for expected in ("show-token", "save", "test"):
        options.tab_key()
        assert options.evaluate(focused) == expected
    options.enter_key()
    return connection_result(options)


def badge(worker: Target) -> tuple[str, str]:
    return (
        worker.evaluate("chrome.action.getBadgeText({})"),
        worker.evaluate("chrome.action.getTitle({})"),
    )


def wait_for_badge(worker: Target, timeout: float = 15.0) -> tuple[str, str]:
    return worker.browser.wait_for(
        lambda: badge(worker) if badge(worker)[0] else None, timeout, "the problem badge"
    )


def wait_for_notification(worker: Target, kind: str, timeout: float = 15.0) -> None:
    worker.browser.wait_for(
        lambda: f"readaloud-problem:{kind}" in worker.evaluate("chrome.notifications.getAll()"),
        timeout,
        f"the {kind} notification",
    )


# -- the tests ----------------------------------------------------------------------------------


def test_fixed_id_and_only_loopback_host_permissions(worker: Target) -> None:
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    digest = hashlib.sha256(base64.b64decode(manifest["key"])).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == EXTENSION_ID
    assert worker.evaluate("chrome.runtime.id") == EXTENSION_ID
    # A web page must not reach the daemon through us: no content scripts, no site access
    # beyond the daemon's loopback address; pages are read through activeTab only.
    assert manifest["host_permissions"] == ["http://127.0.0.1/*", "http://localhost/*"]
    assert "content_scripts" not in manifest and "externally_connectable" not in manifest
    assert "web_accessible_resources" not in manifest
    granted = worker.evaluate("chrome.permissions.getAll()")
    assert sorted(granted["origins"]) == ["http://127.0.0.1/*", "http://localhost/*"]


def test_options_page_saves_the_token_and_the_connection_test_passes(
    options: Target, worker: Target, daemon: DaemonProcess
) -> None:
    set_settings(worker, 7412, "")
    result = fill_in_options(options, daemon.port, daemon.token)
    assert result.startswith("Connected"), result
    assert options.evaluate("document.getElementById('result').dataset.kind") == "ok"
    stored = worker.evaluate("chrome.storage.local.get(['port', 'token'])")
    assert stored == {"port": daemon.port, "token": daemon.token}
    # Every control has an accessible name; the result is a live region.
    assert unnamed_controls(options) == []
    assert options.evaluate("document.getElementById('result').getAttribute('role')") == "status"
    assert ORIGIN in options.evaluate("document.getElementById('origin-line').textContent")


def test_read_shortcut_reads_the_selection_and_stop_shortcut_silences_it(
    article: Target, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    selected = select_paragraph(article, 1)
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        press_read_shortcut(article)
        started = events.wait_for(event("utterance_start"), 15)
        events.wait_for(event("segment_start", id=started["id"]), 15)
        while sig.sound_duration(cap.samples(), RATE) < 1.0:
            time.sleep(0.02)
        press_stop_shortcut(article)
        events.wait_for(event("utterance_end", id=started["id"]), 10)
        stopped = time.monotonic()
        time.sleep(0.3)
    assert started["text"].strip() == selected, article.browser.console()
    first = events.wait_for(event("segment_start", id=started["id"]))
    assert selected.startswith(first["text"])
    last = sig.last_sound_index(cap.samples())
    assert last is not None and cap.time_at(last) < stopped + 0.1  # quiet after the stop
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_context_menu_entries_read_the_selection_and_the_page(
    article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    assert worker.evaluate("chrome.contextMenus.onClicked.hasListener(readaloud.onMenuClicked)"), (
        "the menu must run the handler the test calls"
    )
    for menu in ("read-selection", "read-page", "stop-reading"):  # rejects for an unknown id
        worker.evaluate(f"chrome.contextMenus.update('{menu}', {{}}).then(() => true)")
    selected = select_paragraph(article, 2)
    # A menu click grants activeTab; the stop shortcut grants it the same way here.
    press_stop_shortcut(article)
    tab = f"chrome.tabs.query({{url: 'http://{SITE}/*'}}).then(tabs => tabs[0])"
    events = Events(daemon)
    worker.evaluate(
        f"{tab}.then(tab => readaloud.onMenuClicked({{menuItemId: 'read-selection', frameId: 0,"
        f" selectionText: {json.dumps(selected)}, pageUrl: tab.url}}, tab))"
    )
    started = events.wait_for(event("utterance_start"), 15)
    assert started["text"].strip() == selected, article.browser.console()

    worker.evaluate(
        f"{tab}.then(tab => readaloud.onMenuClicked({{menuItemId: 'read-page', frameId: 0,"
        " pageUrl: tab.url}, tab))"
    )
    page = events.wait_for(event("utterance_start", unlike=started["id"]), 15)
    first = events.wait_for(event("segment_start", id=page["id"]), 15)
    assert first["text"] == ARTICLE_TITLE  # the headline first, not the site's menu
    assert ARTICLE_PARAGRAPHS[0] in page["text"] and ARTICLE_PARAGRAPHS[3] in page["text"]
    for word in CHROME_WORDS:
        assert word not in page["text"]


def test_toolbar_button_reads_the_page_when_nothing_is_selected(
    browser: Chromium, article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    clear_selection(article)
    article.bring_to_front()
    events = Events(daemon)
    browser.click_action(EXTENSION_ID, article)
    started = events.wait_for(event("utterance_start"), 15)
    assert started["text"].startswith(ARTICLE_TITLE)
    assert badge(worker)[0] == ""


def test_wrong_token_is_explained(
    options: Target, article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    result = fill_in_options(options, daemon.port, "not-the-token")
    assert "refused the token" in result and "readaloud token" in result
    select_paragraph(article, 0)
    press_read_shortcut(article)
    text, title = wait_for_badge(worker)
    assert text == "!"
    assert "refused the token" in title and "readaloud token" in title
    wait_for_notification(worker, "wrong_token")
    assert daemon.get("/v1/status").json()["state"] == "idle"  # nothing was read


def test_origin_not_allowed_is_explained_with_the_line_to_add(
    options: Target, pulse: PulseServer
) -> None:
    other = DaemonProcess(pulse.env)  # allows no extension
    try:
        other.start()
        result = fill_in_options(options, other.port, other.token)
    finally:
        other.close()
    assert "does not accept requests from this extension" in result
    assert f'allowed_origins = ["{ORIGIN}"]' in result


def test_stopped_daemon_is_explained(
    options: Target, article: Target, worker: Target, pulse: PulseServer
) -> None:
    own = DaemonProcess(pulse.env, config_text=f'[server]\nallowed_origins = ["{ORIGIN}"]\n')
    try:
        own.start()
        assert fill_in_options(options, own.port, own.token).startswith("Connected")
        own.terminate()  # the user's daemon stops (logout, crash) after the extension was set up
        select_paragraph(article, 0)
        press_read_shortcut(article)
        text, title = wait_for_badge(worker)
        assert text == "!" and "not running" in title and str(own.port) in title
        wait_for_notification(worker, "not_running")
        result = fill_in_options(options, own.port, own.token)
        assert "not running" in result and "systemctl --user start readaloud" in result
    finally:
        own.close()


def test_no_token_and_no_browser_host_says_both_ways_to_connect(
    article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    set_settings(worker, daemon.port, "")  # this browser has no host installed either
    select_paragraph(article, 0)
    press_read_shortcut(article)
    text, title = wait_for_badge(worker)
    assert text == "!" and "readaloud browser install" in title and "readaloud token" in title
    assert daemon.get("/v1/status").json()["state"] == "idle"  # nothing was read
