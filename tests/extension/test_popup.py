"""The toolbar button's popup: it reads at once, then its controls (all keyboard operable and
labelled) pause and go on, move by sentences, stop, and choose the speed and the voice.

Real headless Chromium with the extension (the popup opened by the protocol's click on the
toolbar button), a real daemon.
"""

from __future__ import annotations

import json

import pytest
from cdp_browser import Chromium, Target
from in_browser import (
    EXTENSION_ID,
    ORIGIN,
    SENTENCE,
    clear_selection,
    event,
    select_paragraph,
    unnamed_controls,
    wait_for_highlight,
)
from support.daemon import DaemonProcess, Events
from support.pages import ARTICLE_PARAGRAPHS

pytestmark = pytest.mark.sound

POPUP_URL = f"{ORIGIN}/popup.html"


def open_popup(browser: Chromium, tab: Target) -> Target:
    """Clicks the toolbar button on ``tab``; returns the popup it opens, ready."""
    before = {t["targetId"] for t in browser.targets() if t["url"] == POPUP_URL}
    tab.bring_to_front()
    browser.click_action(EXTENSION_ID, tab)
    found = browser.wait_for(
        lambda: next(
            (
                t["targetId"]
                for t in browser.targets()
                if t["url"] == POPUP_URL and t["targetId"] not in before
            ),
            None,
        ),
        15,
        "the popup",
    )
    popup = browser.attach(found)
    popup.send("Runtime.enable")
    browser.wait_for(lambda: popup.evaluate("document.body.dataset.ready") == "true", 15)
    return popup


def state_line(popup: Target) -> str:
    return popup.evaluate("document.getElementById('state').textContent")


def status(daemon: DaemonProcess) -> dict:
    return daemon.get("/v1/status").json()


def key(popup: Target, name: str, code: str, key_code: int) -> None:
    popup.press(name, code, key_code, text=name if len(name) == 1 else "")


def test_the_popup_reads_then_pauses_goes_on_moves_by_sentences_and_stops(
    browser: Chromium, article: Target, daemon: DaemonProcess
) -> None:
    clear_selection(article)
    events = Events(daemon)
    popup = open_popup(browser, article)
    uid = events.wait_for(event("utterance_start"), 15)["id"]
    browser.wait_for(lambda: state_line(popup) == "Reading.", 10, "the popup to say Reading.")
    # The focus is on the button that pauses; its name says what it does now.
    assert popup.evaluate("document.activeElement.id") == "play"
    assert popup.evaluate("document.activeElement.textContent") == "Pause"

    popup.enter_key()
    browser.wait_for(lambda: status(daemon)["state"] == "paused", 5, "the pause")
    browser.wait_for(lambda: state_line(popup) == "Paused.", 5, "the popup to say Paused.")
    key(popup, "k", "KeyK", 75)
    browser.wait_for(lambda: status(daemon)["state"] == "speaking", 5, "going on")

    heard = events.wait_for(event("segment_start", id=uid), 15)["index"]
    key(popup, "ArrowRight", "ArrowRight", 39)
    ahead = events.wait_for(
        lambda e: e["type"] == "segment_start" and e.get("id") == uid and e["index"] > heard, 10
    )
    key(popup, "ArrowLeft", "ArrowLeft", 37)
    back = events.wait_for(
        lambda e: (
            e["type"] == "segment_start"
            and e.get("id") == uid
            and e["index"] < ahead["index"]
            and e["seen"] > ahead["seen"]
        ),
        10,
    )
    wait_for_highlight(article, SENTENCE, back["text"])  # the page goes back too
    # The sentence being heard is shown in the popup as well.
    browser.wait_for(
        lambda: (
            popup.evaluate("document.getElementById('sentence').textContent")
            == (status(daemon)["segment"] or {}).get("text")
        ),
        5,
        "the sentence in the popup",
    )
    key(popup, "s", "KeyS", 83)
    events.wait_for(event("utterance_end", id=uid), 10)
    browser.wait_for(lambda: state_line(popup) == "Not reading.", 5, "the popup to say so")


def test_every_popup_control_is_named_and_the_state_is_announced(
    browser: Chromium, article: Target, daemon: DaemonProcess
) -> None:
    select_paragraph(article, 0)
    popup = open_popup(browser, article)
    assert unnamed_controls(popup) == []
    assert popup.evaluate("document.getElementById('state').getAttribute('role')") == "status"
    # Tab reaches every control, in reading order.
    order = []
    for _ in range(7):
        popup.tab_key()
        order.append(popup.evaluate("document.activeElement.id"))
    assert order == ["stop", "next", "rate", "voice", "options", "previous", "play"]


def test_the_speed_and_voice_chosen_in_the_popup_are_used_for_the_next_reading(
    browser: Chromium, article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    voices = [v["id"] for v in daemon.get("/v1/voices").json()["voices"]]
    clear_selection(article)
    popup = open_popup(browser, article)
    key(popup, "s", "KeyS", 83)
    popup.evaluate("document.getElementById('rate').focus()")
    for _ in range(5):  # 1.0 -> 1.5, as the arrow keys move a slider
        key(popup, "ArrowRight", "ArrowRight", 39)
    assert popup.evaluate("document.getElementById('rate-value').textContent") == "1.5×"
    choices = popup.evaluate("[...document.getElementById('voice').options].map(o => o.value)")
    assert choices == ["", *voices]
    popup.evaluate("document.getElementById('voice').focus()")
    key(popup, "ArrowDown", "ArrowDown", 40)
    browser.wait_for(
        lambda: (
            worker.evaluate("chrome.storage.local.get(['rate', 'voice'])")
            == {"rate": 1.5, "voice": voices[0]}
        ),
        5,
        "the choices to be kept",
    )
    try:
        # What the extension asks the daemon for next, seen on its way out.
        worker.evaluate(
            "(() => { globalThis.sent = []; const real = (globalThis.realFetch = globalThis.fetch);"
            " globalThis.fetch = (url, init) => { if (init && init.body)"
            " globalThis.sent.push(JSON.parse(init.body)); return real(url, init); };"
            " return true; })()"
        )
        events = Events(daemon)
        selected = select_paragraph(article, 3)
        open_popup(browser, article)
        uid = events.wait_for(event("utterance_start"), 15)["id"]
        first = events.wait_for(event("segment_start", id=uid), 15)
        assert ARTICLE_PARAGRAPHS[3].startswith(first["text"])
        assert first.get("voice") == voices[0]
        sent = [body for body in worker.evaluate("globalThis.sent") if "text" in body]
        assert sent[-1]["text"].strip() == selected
        assert (sent[-1]["rate"], sent[-1]["voice"]) == (1.5, voices[0]), json.dumps(sent)
    finally:
        worker.evaluate(
            "globalThis.fetch = globalThis.realFetch || globalThis.fetch;"
            " chrome.storage.local.remove(['rate', 'voice'])"
        )


def test_a_speed_chosen_while_reading_applies_at_once(
    browser: Chromium, article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    clear_selection(article)
    events = Events(daemon)
    popup = open_popup(browser, article)
    uid = events.wait_for(event("utterance_start"), 15)["id"]
    events.wait_for(event("segment_start", id=uid, index=1), 15)

    def starts() -> list[int]:
        return [e["index"] for e in events.items if e["type"] == "segment_start" and e["id"] == uid]

    def restarts() -> int:
        """How often a sentence started again (an index not above the one before)."""
        seen = starts()
        return sum(1 for a, b in zip(seen, seen[1:], strict=False) if b <= a)

    try:
        popup.evaluate("document.getElementById('rate').focus()")
        for _ in range(5):  # 1.0 -> 1.5, as the arrow keys move a slider
            key(popup, "ArrowRight", "ArrowRight", 39)
        # The sentence being heard starts again at the new speed: once, not at every step.
        browser.wait_for(lambda: restarts() >= 1, 5, f"a restart in {starts()}")
        count = len(starts())
        browser.wait_for(lambda: len(starts()) > count, 15, "the next sentence")
        assert restarts() == 1, starts()
    finally:
        daemon.post("/v1/stop")
        worker.evaluate("chrome.storage.local.remove(['rate'])")
