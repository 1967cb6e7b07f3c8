"""Follow along in the page: the sentence and the word being heard are highlighted, the page is
scrolled to them, and "read from here" starts where the reader points.

Real headless Chromium with the extension, a real daemon heard at PulseAudio's monitor. The
highlight is checked three ways: the CSS highlight's ranges (their text), a screenshot (its
colour is where the sentence is on screen), and the page's DOM and layout (untouched).
"""

from __future__ import annotations

import json
import re
import statistics
import time

import pytest
from cdp_browser import ALT, SHIFT, Target
from in_browser import (
    OPTIONS_URL,
    RATE,
    SENTENCE,
    SITE,
    WORD,
    clear_selection,
    event,
    highlighted,
    press_read_shortcut,
    press_stop_shortcut,
    select_paragraph,
    set_settings,
    share_in_colour,
    wait_for_highlight,
)
from support import signal as sig
from support.daemon import DaemonProcess, Events
from support.pages import ARTICLE_PARAGRAPHS
from support.pulse import PulseServer

pytestmark = pytest.mark.sound

#: The sentence's highlight colour (follow.js), as a screenshot shows it.
SENTENCE_RGB = (0xFF, 0xF0, 0xA8)
WORD_RGB = (0xFF, 0xC4, 0x00)


def paragraph(index: int) -> str:
    """The selector of the article's paragraph ``index`` (paragraph 0 is its 2nd <p>)."""
    return f"article > p:nth-of-type({index + 2})"


def bare(text: str) -> str:
    return re.sub(r"\W+", "", text).casefold()


def watch_highlights(tab: Target) -> None:
    """Notes, at every frame, each change of what the highlights paint: window.lit holds
    [name, text, wall-clock ms] (the daemon's event times are wall clock too)."""
    tab.evaluate(
        "(() => { window.lit = []; const last = {}; const look = () => {"
        f" for (const name of [{json.dumps(SENTENCE)}, {json.dumps(WORD)}]) {{"
        " const h = CSS.highlights.get(name);"
        " const text = h && h.size ? [...h][0].toString().replace(/\\s+/g, ' ').trim() : '';"
        " if (text !== last[name]) { last[name] = text;"
        " if (text) window.lit.push([name, text, Date.now()]); } }"
        " requestAnimationFrame(look); }; requestAnimationFrame(look); return true; })()"
    )


def watch_layout(tab: Target) -> None:
    """Counts the page's DOM changes from now on, and notes where its paragraphs are."""
    tab.evaluate(
        "(() => { window.changes = 0; new MutationObserver((m) => { window.changes += m.length; })"
        ".observe(document.documentElement, {subtree: true, childList: true, attributes: true,"
        " characterData: true}); window.boxes = JSON.stringify([...document.querySelectorAll("
        "'p, h1, h2, li')].map(e => [e.offsetLeft, e.offsetTop, e.offsetWidth, e.offsetHeight]));"
        " return true; })()"
    )


def layout_untouched(tab: Target) -> bool:
    return tab.evaluate(
        "window.changes === 0 && window.boxes === JSON.stringify([...document.querySelectorAll("
        "'p, h1, h2, li')].map(e => [e.offsetLeft, e.offsetTop, e.offsetWidth, e.offsetHeight]))"
    )


@pytest.fixture
def highlighting(worker: Target, daemon: DaemonProcess) -> None:
    set_settings(worker, daemon.port, daemon.token)
    worker.evaluate("chrome.storage.local.set({highlight: 'word'})")


def test_the_sentence_and_the_word_heard_are_highlighted_and_cleared_on_stop(
    article: Target, daemon: DaemonProcess, pulse: PulseServer, highlighting: None
) -> None:
    clear_selection(article)
    article.evaluate("window.scrollTo(0, 0)")
    watch_layout(article)
    watch_highlights(article)
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        press_read_shortcut(article)
        started = events.wait_for(event("utterance_start"), 15)
        uid = started["id"]
        first = events.wait_for(
            lambda e: (
                e["type"] == "segment_start"
                and e.get("id") == uid
                and e["text"] == ARTICLE_PARAGRAPHS[0]
            ),
            30,
        )
        shown_at = wait_for_highlight(article, SENTENCE, ARTICLE_PARAGRAPHS[0])
        # Shown while that very sentence is being heard, not when it was made.
        assert shown_at - first["seen"] < 1.0
        assert sig.sound_duration(cap.samples(), RATE) > 0
        assert share_in_colour(article, ARTICLE_PARAGRAPHS[0], SENTENCE_RGB) > 0.3

        # The word heard is painted over the sentence, one after the other, as it is heard.
        time.sleep(2.0)
        painted = article.evaluate("window.lit")
        lit_at = next(
            at for name, text, at in painted if name == SENTENCE and text == ARTICLE_PARAGRAPHS[0]
        )
        lit = [(bare(text), at) for name, text, at in painted if name == WORD and at >= lit_at]
        heard = [
            (bare(e["text"]), e["time"])
            for e in events.items
            if e["type"] == "word" and e.get("id") == uid and e["start"] >= first["start"]
        ]
        words = [text for text, _ in heard]
        assert len(lit) >= 3, lit
        assert all(text in bare(ARTICLE_PARAGRAPHS[0]) for text, _ in lit)
        begin = words.index(lit[0][0])
        assert [text for text, _ in lit] == words[begin : begin + len(lit)]
        lags = [at / 1000 - when for (_, at), (_, when) in zip(lit, heard[begin:], strict=False)]
        print(
            f"\nhighlight lag (word event at the daemon -> painted in the page, to a frame):"
            f" words median {statistics.median(lags) * 1000:.0f} ms, max {max(lags) * 1000:.0f}"
            f" ms over {len(lags)}; sentence {lit_at - first['time'] * 1000:.0f} ms"
        )
        assert highlighted(article, SENTENCE) == [ARTICLE_PARAGRAPHS[0]]

        press_stop_shortcut(article)
        events.wait_for(event("utterance_end", id=uid), 10)
        article.browser.wait_for(
            lambda: highlighted(article, SENTENCE) == [] and highlighted(article, WORD) == [],
            3,
            "the highlight to clear after the stop",
        )
    assert layout_untouched(article), "highlighting changed the page's DOM or layout"


def test_a_selection_read_is_highlighted_where_it_was_selected(
    article: Target, daemon: DaemonProcess, highlighting: None
) -> None:
    # Paragraph 1's words appear nowhere else: the highlight must be on the selected text.
    selected = select_paragraph(article, 1)
    events = Events(daemon)
    press_read_shortcut(article)
    uid = events.wait_for(event("utterance_start"), 15)["id"]
    # The first sentence comes as a short fragment first (it is heard sooner): that is lit.
    first = events.wait_for(event("segment_start", id=uid), 15)
    assert first["text"] and selected.startswith(first["text"])
    wait_for_highlight(article, SENTENCE, first["text"])
    inside = article.evaluate(
        f"document.querySelector({json.dumps(paragraph(1))})"
        f".contains([...CSS.highlights.get('{SENTENCE}')][0].commonAncestorContainer)"
    )
    assert inside


def test_read_from_here_in_the_context_menu_starts_at_the_paragraph_pointed_at(
    article: Target, worker: Target, daemon: DaemonProcess, highlighting: None
) -> None:
    clear_selection(article)  # the caret is now in the headline: the pointer must win
    x, y = article.center_of(paragraph(2))
    article.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    press_stop_shortcut(article)  # grants activeTab, as the menu click does
    events = Events(daemon)
    worker.evaluate(
        f"chrome.tabs.query({{url: 'http://{SITE}/*'}}).then(tabs => readaloud.onMenuClicked("
        "{menuItemId: 'read-from-here', frameId: 0, pageUrl: tabs[0].url}, tabs[0]))"
    )
    uid = events.wait_for(event("utterance_start"), 15)["id"]
    first = events.wait_for(event("segment_start", id=uid), 15)
    assert first["text"] and ARTICLE_PARAGRAPHS[2].startswith(first["text"])
    wait_for_highlight(article, SENTENCE, first["text"])
    second = events.wait_for(event("segment_start", id=uid, index=first["index"] + 1), 15)
    wait_for_highlight(article, SENTENCE, second["text"])
    assert first["text"] + " " + second["text"] == ARTICLE_PARAGRAPHS[2]


def test_read_from_here_at_the_caret_scrolls_the_sentence_into_view(
    article: Target, daemon: DaemonProcess, highlighting: None
) -> None:
    article.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 420, "height": 260, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        article.click(paragraph(3))  # the caret, in the last paragraph
        article.evaluate("window.scrollTo(0, 0)")
        below = article.evaluate(
            f"document.querySelector({json.dumps(paragraph(3))}).getBoundingClientRect().top"
            " > window.innerHeight"
        )
        assert below, "the paragraph must start out of view for this test"
        events = Events(daemon)
        article.bring_to_front()
        article.press("H", "KeyH", 72, ALT | SHIFT)
        uid = events.wait_for(event("utterance_start"), 15)["id"]
        first = events.wait_for(event("segment_start", id=uid), 15)
        assert first["text"] and ARTICLE_PARAGRAPHS[3].startswith(first["text"])
        wait_for_highlight(article, SENTENCE, first["text"])
        in_view = article.evaluate(
            f"(() => {{ const r = [...CSS.highlights.get('{SENTENCE}')][0]"
            ".getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight; })()"
        )
        assert in_view
    finally:
        article.send("Emulation.clearDeviceMetricsOverride")


def test_read_from_here_with_no_place_to_start_says_what_to_do(
    article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    article.evaluate("getSelection().removeAllRanges()")
    article.bring_to_front()
    article.press("H", "KeyH", 72, ALT | SHIFT)
    title = worker.browser.wait_for(
        lambda: (
            worker.evaluate("chrome.action.getTitle({})")
            if worker.evaluate("chrome.action.getBadgeText({})")
            else None
        ),
        15,
        "the problem badge",
    )
    assert "click in a paragraph" in title
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_highlighting_can_be_turned_off(
    article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    worker.evaluate("chrome.storage.local.set({highlight: 'off'})")
    try:
        clear_selection(article)
        events = Events(daemon)
        press_read_shortcut(article)
        uid = events.wait_for(event("utterance_start"), 15)["id"]
        events.wait_for(lambda e: e["type"] == "word" and e.get("id") == uid, 15)
        time.sleep(0.3)
        assert highlighted(article, SENTENCE) == [] and highlighted(article, WORD) == []
    finally:
        worker.evaluate("chrome.storage.local.set({highlight: 'word'})")


def test_the_options_page_chooses_the_sentence_alone(
    options: Target, article: Target, worker: Target, daemon: DaemonProcess
) -> None:
    options.goto(OPTIONS_URL)
    options.browser.wait_for(lambda: options.evaluate("document.body.dataset.ready") == "true")
    options.bring_to_front()
    assert options.evaluate("document.getElementById('highlight').labels[0].textContent")
    options.evaluate("document.getElementById('highlight').focus()")
    options.press("ArrowDown", "ArrowDown", 40)  # "The sentence being heard"
    try:
        worker.browser.wait_for(
            lambda: (
                worker.evaluate("chrome.storage.local.get('highlight')")
                == {"highlight": "sentence"}
            ),
            5,
            "the choice to be kept",
        )
        clear_selection(article)
        events = Events(daemon)
        press_read_shortcut(article)
        uid = events.wait_for(event("utterance_start"), 15)["id"]
        first = events.wait_for(event("segment_start", id=uid), 15)
        events.wait_for(lambda e: e["type"] == "word" and e.get("id") == uid, 15)
        wait_for_highlight(article, SENTENCE, first["text"])
        time.sleep(0.3)
        assert highlighted(article, WORD) == []
    finally:
        worker.evaluate("chrome.storage.local.set({highlight: 'word'})")
