"""What the extension tests share: the extension's fixed names, and a user's actions in a tab."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

from cdp_browser import ALT, SHIFT, Target
from PIL import Image
from support.pages import ARTICLE_PARAGRAPHS

EXTENSION = Path(__file__).resolve().parents[2] / "extension"
EXTENSION_ID = "abjkaflbnnplkeaapjneejmnaededpgi"
ORIGIN = f"chrome-extension://{EXTENSION_ID}"
OPTIONS_URL = f"{ORIGIN}/options.html"
SITE = "news.example"
RATE = 22050
#: The names of the page's highlights (highlight.js).
SENTENCE = "readaloud-sentence"
WORD = "readaloud-word"


def event(kind: str, unlike: str | None = None, **fields: object):
    """A predicate for Events.wait_for: an event of ``kind`` with these fields (and another id
    than ``unlike``)."""
    return lambda item: (
        item["type"] == kind
        and item.get("id") != unlike
        and all(item.get(name) == value for name, value in fields.items())
    )


def set_settings(worker: Target, port: int | None, token: str) -> None:
    worker.evaluate(f"chrome.storage.local.set({json.dumps({'port': port, 'token': token})})")


def press_read_shortcut(tab: Target) -> None:
    tab.bring_to_front()
    tab.press("S", "KeyS", 83, ALT | SHIFT)


def press_stop_shortcut(tab: Target) -> None:
    tab.bring_to_front()
    tab.press("Q", "KeyQ", 81, ALT | SHIFT)


def select_paragraph(tab: Target, index: int) -> str:
    """Triple-click a paragraph of the article, as a reader selects it; returns its text."""
    tab.bring_to_front()
    # The article's paragraphs follow the byline: paragraph 0 is the article's 2nd <p>.
    tab.click(f"article > p:nth-of-type({index + 2})", clicks=3)
    selected = tab.evaluate("getSelection().toString()").strip()
    assert selected == ARTICLE_PARAGRAPHS[index]
    return selected


def clear_selection(tab: Target) -> None:
    tab.click("h1")  # a plain click collapses the selection
    assert tab.evaluate("getSelection().toString()") == ""


def highlighted(tab: Target, name: str) -> list[str]:
    """The text of each range the page's highlight ``name`` paints, spacing made single."""
    texts = tab.evaluate(
        f"(() => {{ const h = CSS.highlights.get({json.dumps(name)});"
        " return h ? [...h].map(r => r.toString()) : []; })()"
    )
    return [re.sub(r"\s+", " ", text).strip() for text in texts]


def wait_for_highlight(tab: Target, name: str, text: str, timeout: float = 5.0) -> float:
    """Waits until highlight ``name`` paints ``text`` alone; returns when it did."""
    tab.browser.wait_for(
        lambda: highlighted(tab, name) == [text],
        timeout,
        f"{name} on {text!r} (it shows {highlighted(tab, name)})",
    )
    return time.monotonic()


def share_in_colour(tab: Target, text: str, rgb: tuple[int, int, int]) -> float:
    """The share of the screenshot's pixels, over the box of the page's first ``text``, that
    have the colour ``rgb`` (letters and the gaps between lines keep the rest)."""
    box = tab.evaluate(
        "(() => { const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);"
        f" const want = {json.dumps(text[:30])};"
        " for (let n = w.nextNode(); n; n = w.nextNode()) { const i = n.data.indexOf(want);"
        " if (i < 0) continue; const r = document.createRange(); r.setStart(n, i);"
        " r.setEnd(n, i + want.length); const b = r.getBoundingClientRect();"
        " return [b.left, b.top, b.width, b.height]; } return null; })()"
    )
    assert box is not None, f"{text!r} is not on the page"
    left, top, width, height = box
    shot = tab.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "clip": {"x": left, "y": top, "width": width, "height": height, "scale": 1},
        },
    )
    image = Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")
    pixels = list(image.get_flattened_data())
    near = sum(
        1 for pixel in pixels if all(abs(a - b) <= 8 for a, b in zip(pixel, rgb, strict=True))
    )
    return near / len(pixels)


def connection_result(options: Target) -> str:
    """What the options page says once its connection test (already pressed) is done."""
    return options.browser.wait_for(
        lambda: options.evaluate(
            "document.getElementById('result').dataset.kind !== 'info'"
            " && document.getElementById('result').dataset.kind"
            " && document.getElementById('result-text').textContent"
        ),
        30,
        "the connection test",
    )


def unnamed_controls(tab: Target) -> list[str]:
    """The ids of the page's controls a screen reader would announce with no name."""
    return tab.evaluate(
        "[...document.querySelectorAll('input, button, select, a')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.textContent.trim()"
        " && !e.getAttribute('aria-label')).map(e => e.id)"
    )
