"""The reader page in real Chromium: opened by its one-time link, it shows what the daemon reads
with the sentence and the word lit as they are heard, steers the reading from the keyboard, and
keeps the reader's typography. The daemon is real and heard at PulseAudio's monitor."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from cdp_browser import SHIFT, Chromium, Target
from in_browser import event, highlighted, share_in_colour, unnamed_controls, wait_for_highlight
from support import signal as sig
from support.daemon import DaemonProcess, Events
from support.pulse import PulseServer

pytestmark = pytest.mark.sound

RATE = 22050
SENTENCE = "reader-sentence"
WORD = "reader-word"
#: The sentence's highlight colour in the default theme (reader.css).
SENTENCE_RGB = (0xFF, 0xF0, 0xA8)
FIRST = "Reading is easier large."
TEXT = (
    f"{FIRST} The second sentence follows it on the same line.\n\n"
    "A new paragraph starts here, and the page shows it apart."
)
LONG = " ".join(f"Sentence {n} is one of many in a long text for the page." for n in range(1, 30))


def open_reader(browser: Chromium, daemon: DaemonProcess) -> Target:
    """What ``readaloud reader`` does: a one-time link from the socket, opened in a tab."""
    link = daemon.unix.post("/v1/reader/link", json={}).json()["url"]
    tab = browser.open("about:blank")
    tab.send("Page.navigate", {"url": link})
    browser.wait_for(
        lambda: (
            tab.evaluate("location.pathname + ':' + (document.body?.dataset.ready)")
            == "/reader:true"
        ),
        20,
        "the reader page to open and follow the daemon",
    )
    assert "once=" not in tab.evaluate("location.href")  # no secret left in the address
    return tab


@pytest.fixture(scope="module")
def reader(browser: Chromium, daemon: DaemonProcess) -> Target:
    return open_reader(browser, daemon)


def state_text(tab: Target) -> str:
    return tab.evaluate("document.getElementById('state').textContent")


def key(tab: Target, name: str) -> None:
    """A key press in the page, as the keyboard sends it."""
    keys = {
        "k": ("k", "KeyK", 75, 0, "k"),
        "s": ("s", "KeyS", 83, 0, "s"),
        "ArrowRight": ("ArrowRight", "ArrowRight", 39, 0, ""),
        "+": ("+", "Equal", 187, SHIFT, "+"),
    }
    value, code, key_code, modifiers, text = keys[name]
    tab.bring_to_front()
    tab.press(value, code, key_code, modifiers, text)


def test_the_text_read_shows_with_the_sentence_and_the_word_lit_as_heard(
    reader: Target, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        uid = daemon.post("/v1/speak", {"text": TEXT}).json()["id"]
        wait_for_highlight(reader, SENTENCE, FIRST, 15)
        events.wait_for(event("word", id=uid), 10)
        word = reader.browser.wait_for(lambda: highlighted(reader, WORD), 5, "a word lit")
        assert len(word) == 1 and word[0] in FIRST.split() + TEXT.split()
        lit = share_in_colour(reader, FIRST, SENTENCE_RGB)
        paragraphs = reader.evaluate(
            "[...document.querySelectorAll('#text p')].map(p => p.textContent)"
        )
        wait_for_highlight(
            reader, SENTENCE, "A new paragraph starts here, and the page shows it apart.", 20
        )
        events.wait_for(event("utterance_end", id=uid), 20)
    assert lit > 0.2, lit  # the sentence's colour is on screen where the sentence is
    assert paragraphs == [TEXT.split("\n\n")[0], TEXT.split("\n\n")[1]]
    assert sig.sound_duration(cap.samples(), RATE) > 1.0  # it was heard
    reader.browser.wait_for(lambda: highlighted(reader, SENTENCE) == [], 5, "the highlight to go")
    assert state_text(reader).startswith("Stopped")


def test_the_keyboard_pauses_skips_speeds_up_and_stops(
    reader: Target, daemon: DaemonProcess
) -> None:
    events = Events(daemon)
    uid = daemon.post("/v1/speak", {"text": LONG}).json()["id"]
    events.wait_for(event("segment_start", id=uid, index=1), 15)
    key(reader, "k")
    assert daemon.wait_state("paused", 5)["state"] == "paused"
    reader.browser.wait_for(lambda: state_text(reader) == "Paused.", 5, "Paused. said")
    assert reader.evaluate("document.getElementById('toggle').getAttribute('aria-pressed')") == (
        "true"
    )
    key(reader, "k")
    assert daemon.wait_state("speaking", 5)["state"] == "speaking"
    heard = daemon.get("/v1/status").json()["segment"]["index"]
    key(reader, "ArrowRight")
    events.wait_for(lambda e: e["type"] == "segment_start" and e["index"] > heard, 10)
    key(reader, "+")  # 1.1×, at once, from the sentence heard
    reader.browser.wait_for(
        lambda: reader.evaluate("document.getElementById('rate-value').textContent") == "1.1×",
        5,
        "the speed shown",
    )
    key(reader, "s")
    ended = events.wait_for(event("utterance_end", id=uid), 10)
    assert ended["completed"] is False
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_typography_is_chosen_and_kept(reader: Target, daemon: DaemonProcess) -> None:
    reader.click("#settings-button")
    assert reader.evaluate("document.getElementById('settings').hidden") is False
    choose = (
        "(() => {{ const e = document.getElementById({name}); e.value = {value};"
        " e.dispatchEvent(new Event({kind})); }})()"
    )
    for name, value, kind in (
        ("font", "dyslexic", "change"),
        ("size", "48", "input"),
        ("line", "2.4", "input"),
        ("letter", "0.1", "input"),
        ("theme", "dark", "change"),
    ):
        reader.evaluate(
            choose.format(name=json.dumps(name), value=json.dumps(value), kind=json.dumps(kind))
        )
    style = (
        "(() => { const s = getComputedStyle(document.getElementById('text'));"
        " return [s.fontFamily, s.fontSize, s.lineHeight, s.letterSpacing,"
        " getComputedStyle(document.body).backgroundColor]; })()"
    )
    expected = ["OpenDyslexic, system-ui, sans-serif", "48px", "115.2px", "4.8px"]
    assert reader.evaluate(style)[:4] == expected
    assert reader.evaluate(style)[4] == "rgb(22, 22, 22)"
    assert reader.evaluate("document.fonts.load('16px OpenDyslexic').then(f => f.length > 0)")
    reader.goto(reader.evaluate("location.href"))  # reopened: the cookie and the settings stay
    reader.browser.wait_for(lambda: reader.evaluate("document.body.dataset.ready") == "true", 10)
    assert reader.evaluate(style)[:4] == expected
    reader.evaluate("localStorage.clear()")


def test_a_document_read_through_the_daemon_shows_as_it_is_heard(
    browser: Chromium, daemon: DaemonProcess, tmp_path: Path
) -> None:
    tab = open_reader(browser, daemon)
    document = tmp_path / "letter.txt"
    first = "Dear reader, this letter is read from a file."
    document.write_text(f"{first} It has two sentences.\n\nAnd a second paragraph.\n")
    events = Events(daemon)
    uid = daemon.unix.post("/v1/speak", json={"file": str(document)}).json()["id"]
    # Its text arrives as it is read: each sentence shows when it is heard, in its paragraph.
    wait_for_highlight(tab, SENTENCE, "It has two sentences.", 15)
    wait_for_highlight(tab, SENTENCE, "And a second paragraph.", 15)
    events.wait_for(event("utterance_end", id=uid), 20)
    shown = tab.evaluate("[...document.querySelectorAll('#text p')].map(p => p.textContent)")
    assert shown == [f"{first} It has two sentences.", "And a second paragraph."]


def test_every_control_is_named_and_the_state_is_announced(reader: Target) -> None:
    assert unnamed_controls(reader) == []
    assert reader.evaluate("document.getElementById('state').getAttribute('role')") == "status"
    assert reader.evaluate("document.documentElement.lang") == "en"


def test_a_forged_or_used_link_does_not_open_the_reader(
    browser: Chromium, daemon: DaemonProcess
) -> None:
    used = daemon.unix.post("/v1/reader/link", json={}).json()["url"]
    assert httpx2.get(used).status_code == 303  # a real link, opened once elsewhere
    tab = browser.open("about:blank")
    for link in (f"http://127.0.0.1:{daemon.port}/reader?once=forged", used):
        tab.send("Page.navigate", {"url": link})
        browser.wait_for(
            lambda: "does not open" in (tab.evaluate("document.body?.innerText") or ""),
            10,
            "the refusal",
        )
