"""The same extension in Debian's Firefox ESR: it reads the selection and the page, stops, and
highlights what is heard, against a real daemon reached through the installed browser host
(Firefox finds it by ``~/.mozilla/native-messaging-hosts``), with no token. The article is
served as http://news.example:<port>/, a site the extension may reach only through activeTab,
which Firefox grants when the shortcut runs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from bidi_firefox import EXTENSION_UUID, Firefox
from in_browser import EXTENSION, SITE, event
from support.browsers import host_user
from support.daemon import DaemonProcess, Events
from support.pages import ARTICLE_PARAGRAPHS, ARTICLE_TITLE, CHROME_WORDS, PageServer
from support.pulse import PulseServer

pytestmark = pytest.mark.sound

SENTENCE = "readaloud-sentence"
WORD = "readaloud-word"


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[DaemonProcess]:
    process = DaemonProcess(pulse.env)  # allows no extension origin: only the host gets in
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def firefox(daemon: DaemonProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firefox]:
    env = host_user(tmp_path_factory.mktemp("firefox-home"), daemon.runtime)
    browser = Firefox(EXTENSION, env=env, local_names=(SITE,))
    browser.start()
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def article(firefox: Firefox, pages: PageServer) -> str:
    tab = firefox.tab()
    port = pages.base.rsplit(":", 1)[1]
    firefox.navigate(tab, f"http://{SITE}:{port}/article")
    assert firefox.evaluate(tab, "document.title").startswith("The Quiet Lighthouse")
    return tab


def select(firefox: Firefox, tab: str, index: int) -> str:
    """Selects the article's paragraph ``index``, as a reader's triple click does."""
    return firefox.evaluate(
        tab,
        "(() => { const p = document.querySelectorAll('article > p')"
        f"[{index + 1}]; const r = document.createRange(); r.selectNodeContents(p);"
        " getSelection().removeAllRanges(); getSelection().addRange(r);"
        " return getSelection().toString(); })()",
    ).strip()


def highlighted(firefox: Firefox, tab: str, name: str) -> list[str]:
    return firefox.evaluate(
        tab,
        f"(() => {{ const h = CSS.highlights.get({json.dumps(name)});"
        " return h ? [...h].map(r => r.toString().replace(/\\s+/g, ' ').trim()) : []; })()",
    )


def test_reads_the_selection_highlights_it_and_stops(
    firefox: Firefox, article: str, daemon: DaemonProcess
) -> None:
    selected = select(firefox, article, 1)
    assert selected == ARTICLE_PARAGRAPHS[1]
    events = Events(daemon)
    firefox.shortcut("Alt+Shift+S")
    started = events.wait_for(event("utterance_start"), 15)
    assert started["text"].strip() == selected
    first = events.wait_for(event("segment_start", id=started["id"]), 15)
    # The sentence heard and then a word of it are lit in the page.
    firefox.wait_for(
        lambda: highlighted(firefox, article, SENTENCE) == [first["text"]], 10, "the sentence lit"
    )
    word = firefox.wait_for(lambda: highlighted(firefox, article, WORD), 10, "a word lit")
    assert word[0] in selected
    firefox.shortcut("Alt+Shift+Q")
    ended = events.wait_for(event("utterance_end", id=started["id"]), 10)
    assert ended["completed"] is False
    assert daemon.get("/v1/status").json()["state"] == "idle"
    firefox.wait_for(
        lambda: highlighted(firefox, article, SENTENCE) == [], 5, "the highlight cleared"
    )


def test_reads_the_page_when_nothing_is_selected(
    firefox: Firefox, article: str, daemon: DaemonProcess
) -> None:
    firefox.evaluate(article, "getSelection().removeAllRanges()")
    events = Events(daemon)
    firefox.shortcut("Alt+Shift+S")
    page = events.wait_for(event("utterance_start"), 15)
    first = events.wait_for(event("segment_start", id=page["id"]), 15)
    assert first["text"] == ARTICLE_TITLE  # the headline first, not the site's menu
    assert ARTICLE_PARAGRAPHS[0] in page["text"] and ARTICLE_PARAGRAPHS[3] in page["text"]
    for word in CHROME_WORDS:
        assert word not in page["text"]
    firefox.wait_for(
        lambda: highlighted(firefox, article, SENTENCE) == [ARTICLE_TITLE], 10, "the title lit"
    )
    firefox.shortcut("Alt+Shift+Q")
    events.wait_for(event("utterance_end", id=page["id"]), 10)


def test_the_extension_has_its_fixed_firefox_origin(firefox: Firefox) -> None:
    policy = firefox.evaluate(
        "",
        "(() => { const p = WebExtensionPolicy.getByID('browser-extension@readaloud');"
        " return [p.mozExtensionHostname, p.active]; })()",
        chrome=True,
    )
    assert policy == [EXTENSION_UUID, True]
