"""The daemon reads web pages and page HTML, and says aloud when it cannot."""

from __future__ import annotations

import time

import pytest
from support import signal as sig
from support.daemon import DaemonProcess, Events
from support.pages import ARTICLE_HTML, ARTICLE_PARAGRAPHS, ARTICLE_TITLE, CHROME_WORDS, PageServer
from support.pulse import PulseServer

pytestmark = pytest.mark.sound

RATE = 22050


def spoken_text(events: Events, uid: str) -> str:
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid, timeout=120)
    return " ".join(
        e["text"] for e in events.items if e["type"] == "segment_start" and e["id"] == uid
    )


def test_reads_a_page_title_first_without_the_site_chrome(
    daemon: DaemonProcess, pages: PageServer
) -> None:
    events = Events(daemon)
    answer = daemon.post("/v1/speak", {"url": pages.url("/article")})
    assert answer.status_code == 202, answer.text
    uid = answer.json()["id"]
    # Skip ahead so the test does not listen to the whole article.
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    first = [e for e in events.items if e["type"] == "segment_start" and e["id"] == uid][0]
    assert first["text"] == ARTICLE_TITLE
    daemon.post("/v1/skip", {"count": 1000})
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)


def test_reads_html_sent_by_the_extension(daemon: DaemonProcess) -> None:
    events = Events(daemon)
    html = ARTICLE_HTML.replace(ARTICLE_PARAGRAPHS[1], "").replace(ARTICLE_PARAGRAPHS[2], "")
    html = html.replace(ARTICLE_PARAGRAPHS[3], "")
    uid = daemon.post("/v1/speak", {"html": html, "rate": 3.0}).json()["id"]
    text = spoken_text(events, uid)
    assert text.startswith(ARTICLE_TITLE)
    assert ARTICLE_PARAGRAPHS[0].split(",")[0] in text
    for word in CHROME_WORDS:
        assert word not in text


def test_html_read_from_some_words_starts_at_their_sentence(
    daemon: DaemonProcess,
) -> None:
    """A browser's "read from here": the page's HTML and the words where the reader points."""
    events = Events(daemon)
    html = ARTICLE_HTML.replace(ARTICLE_PARAGRAPHS[3], "")
    answer = daemon.post("/v1/speak", {"html": html, "from": "the village feared", "rate": 3.0})
    assert answer.status_code == 202, answer.text
    text = spoken_text(events, answer.json()["id"])
    assert text == ARTICLE_PARAGRAPHS[2]  # its sentence from its start, to the article's end


def test_html_read_from_words_not_in_it_is_refused_and_queued_speech_goes_on(
    daemon: DaemonProcess,
) -> None:
    events = Events(daemon)
    uid = daemon.post("/v1/speak", {"text": "The queue keeps this sentence.", "rate": 2.0})
    uid = uid.json()["id"]
    answer = daemon.post("/v1/speak", {"html": ARTICLE_HTML, "from": "no such words at all"})
    assert answer.status_code == 400, answer.text
    assert "no such words at all" in answer.json()["error"]["message"]
    refused = daemon.post("/v1/speak", {"text": "Some text.", "from": "text"})
    assert refused.status_code == 400
    assert "from goes with file, url or html" in refused.json()["error"]["message"]
    assert spoken_text(events, uid) == "The queue keeps this sentence."


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/missing", 422, "404"),
        ("/report.pdf", 400, "PDF"),
        ("/blank", 400, "No readable text"),
    ],
)
def test_unreadable_pages_are_refused_and_said_aloud(
    daemon: DaemonProcess, pages: PageServer, pulse: PulseServer, path, status, message
) -> None:
    with pulse.capture(RATE) as cap:
        answer = daemon.post("/v1/speak", {"url": pages.url(path)})
        assert answer.status_code == status, answer.text
        assert message in answer.json()["error"]["message"]
        time.sleep(0.3)
        daemon.wait_state("idle", 10)
    # The user may be looking at nothing: the failure is spoken, briefly.
    heard = sig.sound_duration(cap.samples(), RATE)
    assert 0.5 < heard < 5.0, heard


def test_non_http_urls_are_refused(daemon: DaemonProcess) -> None:
    for url in ("file:///etc/passwd", "javascript:alert(1)", "data:text/html,hi"):
        answer = daemon.post("/v1/speak", {"url": url})
        assert answer.status_code == 400, answer.text
        assert "http" in answer.json()["error"]["message"]


def test_unreachable_host_is_explained(daemon: DaemonProcess) -> None:
    answer = daemon.post("/v1/speak", {"url": "http://127.0.0.1:9/nothing-listens-here"})
    assert answer.status_code == 422
    assert "Could not open the page" in answer.json()["error"]["message"]
