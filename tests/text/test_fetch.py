"""Reading a web page by its address, from a real HTTP server on 127.0.0.1.

A listener hears the article, title first, and nothing of the site around it; every page that
cannot be read gives one clear sentence, in bounded time, without reading a huge page into memory.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from support.pages import (
    ARTICLE_LIST,
    ARTICLE_PARAGRAPHS,
    ARTICLE_TITLE,
    CHROME_WORDS,
    DRIP_INTERVAL,
    HUGE_BYTES,
    LATIN1_TEXT,
    PageServer,
    self_signed_certificate,
)

from readaloud.errors import BadInput, ReadaloudError
from readaloud.text.extract import NoReadableText, NotReadable, TooLarge
from readaloud.text.fetch import PageUnavailable, UnsupportedURL, fetch_url, fetch_url_async
from readaloud.text.segment import split


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def assert_one_line(error: BaseException, *fragments: str) -> None:
    message = str(error)
    assert "\n" not in message and len(message) < 200, message
    for fragment in fragments:
        assert fragment in message, message


def test_article_is_read_title_first_without_the_site_around_it(pages: PageServer) -> None:
    document = fetch_url(pages.url("/article"))
    assert document.title == ARTICLE_TITLE
    assert document.source == pages.url("/article")
    blocks = document.text.split("\n\n")
    assert blocks[0] == ARTICLE_TITLE  # once, although the page has it as <title> and <h1>
    assert words(document.text).count("Quiet") == 1
    # Every paragraph, whole and in order, each its own block so the voice pauses between them.
    positions = [blocks.index(paragraph) for paragraph in ARTICLE_PARAGRAPHS]
    assert positions == sorted(positions)
    # The list: one item a line, together, between the paragraphs it sits between.
    items = "\n".join(f"- {item}" for item in ARTICLE_LIST)
    assert positions[1] < blocks.index(items) < positions[2]
    for word in CHROME_WORDS:
        assert word not in document.text


def test_what_the_listener_hears_of_the_article(pages: PageServer) -> None:
    document = fetch_url(pages.url("/article"))
    spoken = [segment.text for segment in split(document.text, "en")]
    assert spoken[0] == ARTICLE_TITLE
    assert "Trim the wick at dusk." in spoken
    assert "Wind the clockwork every four hours." in spoken
    assert words(" ".join(spoken)) == words(document.text)


def test_plain_text_page_is_read_as_it_is(pages: PageServer) -> None:
    document = fetch_url(pages.url("/notes.txt"))
    assert document.text == "Shopping list\n\nBread and butter.\nA jar of honey.\n"
    assert document.title is None


def test_markdown_page_is_read_without_its_symbols(pages: PageServer) -> None:
    document = fetch_url(pages.url("/tides.md"))
    assert document.title == "Tide table"
    assert document.text == (
        "Tide table\n\nHigh water at six, see the chart.\n\n- Monday\n- Tuesday"
    )


def test_latin1_page_declared_in_its_meta_tag(pages: PageServer) -> None:
    document = fetch_url(pages.url("/latin1"))
    assert LATIN1_TEXT in document.text
    assert "\ufffd" not in document.text


def test_bare_fragment_page(pages: PageServer) -> None:
    assert fetch_url(pages.url("/fragment")).text == "Only this one short paragraph."


def test_redirect_chain_within_the_limit_is_followed(pages: PageServer) -> None:
    document = fetch_url(pages.url("/chain/4"), max_redirects=5)  # five redirects
    assert document.title == ARTICLE_TITLE
    assert document.source == pages.url("/article")


def test_one_redirect_too_many_is_refused(pages: PageServer) -> None:
    with pytest.raises(PageUnavailable) as caught:
        fetch_url(pages.url("/chain/5"), max_redirects=5)  # six redirects
    assert_one_line(caught.value, "redirects more than 5 times")


def test_endless_redirect_loop(pages: PageServer) -> None:
    started = time.monotonic()
    with pytest.raises(PageUnavailable) as caught:
        fetch_url(pages.url("/loop"))
    assert time.monotonic() - started < 2
    assert_one_line(caught.value, "Could not open the page", "redirects more than 5 times")
    assert caught.value.exit_code == 6
    assert caught.value.spoken == "Could not open the page."


def test_redirect_to_a_local_file_is_refused(pages: PageServer) -> None:
    with pytest.raises(PageUnavailable) as caught:
        fetch_url(pages.url("/to-file"))
    assert_one_line(caught.value, "redirects to a file: address")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/missing", "Could not open the page: the server answered 404 Not Found."),
        ("/private", "the server answered 403 Forbidden; it may need you to sign in."),
    ],
)
def test_error_status_is_said_plainly(pages: PageServer, path: str, expected: str) -> None:
    with pytest.raises(PageUnavailable) as caught:
        fetch_url(pages.url(path))
    assert_one_line(caught.value, expected)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/report.pdf", "a PDF"),
        ("/mislabelled", "a PDF"),  # served as text/html: the %PDF magic tells
        ("/photo", "an image"),
        ("/download", "a binary file"),
    ],
)
def test_documents_that_are_not_pages_are_named(pages: PageServer, path: str, kind: str) -> None:
    with pytest.raises(NotReadable) as caught:
        fetch_url(pages.url(path))
    assert_one_line(caught.value, f"is {kind}, not a web page readaloud can read.")
    assert isinstance(caught.value, BadInput)
    assert caught.value.spoken == f"This is {kind}, which readaloud cannot read."


def test_page_without_text(pages: PageServer) -> None:
    with pytest.raises(NoReadableText) as caught:
        fetch_url(pages.url("/blank"))
    assert_one_line(caught.value, "No readable text found on the page.")


def test_oversized_page_is_dropped_while_streaming(pages: PageServer) -> None:
    started = time.monotonic()
    with pytest.raises(TooLarge) as caught:
        fetch_url(pages.url("/huge"), max_bytes=1_000_000)
    assert time.monotonic() - started < 5
    assert_one_line(caught.value, "larger than 1 MB")
    # The client hung up: the server could not send more than the cap plus the socket buffers.
    assert pages.finished("/huge")
    assert pages.sent["/huge"] < HUGE_BYTES // 4


def test_oversized_page_with_a_declared_length_is_refused_before_its_body(
    pages: PageServer,
) -> None:
    with pytest.raises(TooLarge):
        fetch_url(pages.url("/huge-declared"), max_bytes=1_000_000)


@pytest.mark.parametrize("path", ["/drip", "/drip-headers"])
def test_slow_drip_fails_by_the_deadline(pages: PageServer, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(PageUnavailable) as caught:
        fetch_url(pages.url(path), timeout=1.5)
    elapsed = time.monotonic() - started
    # Each byte arrives well within any per-read timeout; only a wall-clock deadline stops it.
    assert 1.5 <= elapsed < 1.5 + 4 * DRIP_INTERVAL, elapsed
    assert_one_line(caught.value, "did not send it within 1.5 seconds")


def test_nothing_listening(pages: PageServer) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PageUnavailable) as caught:
        fetch_url(f"http://127.0.0.1:{port}/", timeout=3)
    assert_one_line(caught.value, "Could not open the page: nothing answers at 127.0.0.1")


def test_untrusted_certificate(tmp_path: Path) -> None:
    server = PageServer(tls=self_signed_certificate(tmp_path))
    server.start()
    try:
        with pytest.raises(PageUnavailable) as caught:
            fetch_url(server.url("/article"), timeout=5)
    finally:
        server.close()
    assert_one_line(caught.value, "the security certificate of 127.0.0.1 is not valid")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("file:///etc/passwd", "not file: addresses. To read a local file, give its path"),
        ("javascript:alert(1)", "not javascript: addresses"),
        ("data:text/html,<p>hi</p>", "not data: addresses"),
        ("ftp://example.org/readme.txt", "not ftp: addresses"),
        ("example.org/page", "should start with https:// or http://"),
        ("http:///page", "has no host name"),
    ],
)
def test_other_schemes_are_refused_without_the_network(
    monkeypatch: pytest.MonkeyPatch, url: str, fragment: str
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a refused address must not open any socket")

    monkeypatch.setattr(socket.socket, "__init__", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(UnsupportedURL) as caught:
        fetch_url(url)
    assert_one_line(caught.value, fragment)
    assert caught.value.exit_code == 2


def test_async_fetch_in_a_running_loop(pages: PageServer) -> None:
    import asyncio

    async def read_two_at_once() -> list[str]:
        documents = await asyncio.gather(
            fetch_url_async(pages.url("/article")), fetch_url_async(pages.url("/notes.txt"))
        )
        with pytest.raises(RuntimeError, match="await fetch_url_async"):
            fetch_url(pages.url("/article"))  # blocking inside the loop is a bug, said so
        return [document.text.split("\n", 1)[0] for document in documents]

    assert asyncio.run(read_two_at_once()) == [ARTICLE_TITLE, "Shopping list"]


def test_every_failure_is_a_readaloud_error(pages: PageServer) -> None:
    for path in ("/missing", "/report.pdf", "/blank", "/loop"):
        with pytest.raises(ReadaloudError):
            fetch_url(pages.url(path))
