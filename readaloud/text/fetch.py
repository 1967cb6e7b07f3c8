"""Fetch a web page and hand its text to extraction.

    fetch_url(url, max_bytes=..., timeout=..., max_redirects=...) -> Document   (blocking)
    await fetch_url_async(url, ...) -> Document                                 (in the daemon)

Limits a listener depends on: one wall-clock deadline covers connecting, every redirect, the
headers and the body, so a server that drips bytes cannot keep readaloud silent for ever; the
size cap is enforced while streaming, so a huge page is never held in memory; redirects are
followed by hand, each target checked. The fetching is asyncio (httpx2, the maintained fork of
httpx): cancelling a task is the only way to bound a whole exchange, headers included.

Loopback and private addresses are deliberately NOT blocked (unlike trafilatura's own fetch):
this daemon fetches only for its own user, who may want their intranet or localhost pages read.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from email.message import Message
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx2

from readaloud import __version__
from readaloud.errors import BadInput, ExitCode, ReadaloudError
from readaloud.text.extract import (
    Document,
    NotReadable,
    TooLarge,
    binary_kind,
    decode_html,
    from_html,
    from_markdown,
    from_text,
    looks_like_html,
)

__all__ = ["PageUnavailable", "UnsupportedURL", "fetch_url", "fetch_url_async"]

USER_AGENT = f"Mozilla/5.0 (compatible; readaloud/{__version__}; reads pages aloud to its user)"
_ACCEPT = "text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.8,*/*;q=0.1"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Media types readaloud refuses without reading the body, in words a listener knows.
_UNREADABLE_TYPES = {
    "application/pdf": "a PDF",
    "application/msword": "a Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "a Word document",
    "application/vnd.oasis.opendocument.text": "an OpenDocument text",
    "application/rtf": "an RTF document",
    "application/epub+zip": "an EPUB e-book",
    "application/zip": "a ZIP archive",
    "application/gzip": "a gzip archive",
    "application/json": "JSON data",
    "application/javascript": "a script",
    "text/javascript": "a script",
    "text/css": "a style sheet",
}
# application/ types that may still hold a page; their bytes decide (see _document).
_MAYBE_PAGE_TYPES = frozenset({*_HTML_TYPES, "application/octet-stream", "application/xml"})
_UNREADABLE_FAMILIES = {
    "image": "an image",
    "audio": "an audio file",
    "video": "a video",
    "font": "a font",
}


class UnsupportedURL(BadInput):
    """Not a web address readaloud opens: another scheme, or no host."""

    spoken = "readaloud can only open web pages."


class PageUnavailable(ReadaloudError):
    """The page could not be had: no answer, an error status, a timeout, a redirect loop."""

    exit_code = ExitCode.PAGE_UNREACHABLE
    spoken = "Could not open the page."


def fetch_url(
    url: str, *, max_bytes: int = 5_000_000, timeout: float = 10.0, max_redirects: int = 5
) -> Document:
    """Fetch a page and extract what to read from it. Blocks; use fetch_url_async in a loop."""
    check_url(url)  # before any socket exists, even the event loop's own
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("fetch_url blocks: inside an event loop, await fetch_url_async")
    return asyncio.run(
        fetch_url_async(url, max_bytes=max_bytes, timeout=timeout, max_redirects=max_redirects)
    )


async def fetch_url_async(
    url: str, *, max_bytes: int = 5_000_000, timeout: float = 10.0, max_redirects: int = 5
) -> Document:
    check_url(url)
    parts = urlsplit(url.strip())
    host = parts.hostname or url
    place = parts.netloc.rpartition("@")[2]  # host:port, without any user:password@
    try:
        async with asyncio.timeout(timeout):
            final_url, media_type, charset, body = await _download(
                url, max_bytes=max_bytes, timeout=timeout, max_redirects=max_redirects
            )
    except TimeoutError:
        raise PageUnavailable(
            f"Could not open the page: {host} did not send it within {timeout:g} seconds."
        ) from None
    except httpx2.HTTPError as error:
        reason = _network_reason(error, host, place)
        raise PageUnavailable(f"Could not open the page: {reason}.") from None
    # Extraction is CPU work (tens of milliseconds): keep the daemon's event loop free.
    return await asyncio.to_thread(_document, final_url, media_type, charset, body)


def check_url(url: str) -> None:
    """Refuse anything but an http(s) address with a host, without touching the network."""
    try:
        parts = urlsplit(url.strip())
        httpx2.URL(url.strip())
    except (ValueError, httpx2.InvalidURL):
        raise UnsupportedURL(f"{_short(url)} is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise UnsupportedURL(
            f"{_short(url)} is not a web address: it should start with https:// or http://."
        )
    if scheme not in ("http", "https"):
        hint = " To read a local file, give its path instead." if scheme == "file" else ""
        raise UnsupportedURL(
            f"readaloud opens only web pages (http or https), not {scheme}: addresses.{hint}"
        )
    if not parts.hostname:
        raise UnsupportedURL(
            f"{_short(url)} has no host name; it should look like https://example.org/page."
        )


async def _download(
    url: str, *, max_bytes: int, timeout: float, max_redirects: int
) -> tuple[str, str, str | None, bytes]:
    """(final URL, media type, declared charset, body) of the page, within the limits."""
    headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT}
    client = httpx2.AsyncClient(
        headers=headers, timeout=timeout, follow_redirects=False, verify=_tls_context()
    )
    async with client:
        current = httpx2.URL(url.strip())
        for _ in range(max_redirects + 1):
            async with client.stream("GET", current) as response:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    current = _redirect_target(response)
                    continue
                if not 200 <= response.status_code < 300:
                    raise PageUnavailable(f"Could not open the page: {_status(response)}")
                media_type, charset = _content_type(response.headers.get("content-type", ""))
                _refuse_by_type(media_type, str(current))
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(max_bytes)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise _too_large(max_bytes)  # leaving the block drops the connection
                return str(response.url), media_type, charset, bytes(body)
    raise PageUnavailable(
        f"Could not open the page: it redirects more than {max_redirects} times, maybe in a loop."
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the system's certificates costs ~25 ms: once per process, not once per page.
    return httpx2.create_ssl_context()


def _redirect_target(response: httpx2.Response) -> httpx2.URL:
    try:
        target = response.url.join(response.headers["location"])
    except httpx2.InvalidURL:
        raise PageUnavailable(
            "Could not open the page: it redirects to an invalid address."
        ) from None
    if target.scheme not in ("http", "https"):
        raise PageUnavailable(
            f"Could not open the page: it redirects to a {target.scheme}: address, "
            f"which readaloud does not open."
        )
    return target


def _document(url: str, media_type: str, charset: str | None, body: bytes) -> Document:
    kind = binary_kind(body)  # servers mislabel PDFs and downloads as text/html
    if kind is not None:
        raise _not_a_page(url, kind)
    if media_type in _MARKDOWN_TYPES:
        return from_markdown(decode_html(body, charset), url)
    typed_text = media_type.startswith("text/") and media_type not in _HTML_TYPES
    untyped_text = media_type not in _HTML_TYPES and not looks_like_html(body)
    if typed_text or untyped_text:
        return from_text(decode_html(body, charset), url)
    return from_html(decode_html(body, charset), url)


def _content_type(header: str) -> tuple[str, str | None]:
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    media_type = message.get_content_type() if header else ""
    return media_type, charset if isinstance(charset, str) else None


def _refuse_by_type(media_type: str, url: str) -> None:
    family = media_type.partition("/")[0]
    kind = _UNREADABLE_TYPES.get(media_type) or _UNREADABLE_FAMILIES.get(family)
    if kind is None and family == "application" and media_type not in _MAYBE_PAGE_TYPES:
        kind = f"a file of type {media_type}"
    if kind is not None:
        raise _not_a_page(url, kind)


def _not_a_page(url: str, kind: str) -> NotReadable:
    return NotReadable(f"{_short(url)} is {kind}, not a web page readaloud can read.", kind)


def _too_large(max_bytes: int) -> TooLarge:
    size = f"{max_bytes / 1e6:g} MB" if max_bytes >= 1_000_000 else f"{max_bytes:,} bytes"
    return TooLarge(f"The page is larger than {size}, more than readaloud reads at once.")


def _status(response: httpx2.Response) -> str:
    code = response.status_code
    try:
        phrase = response.reason_phrase or HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    answer = f"the server answered {code} {phrase}".rstrip()
    if code in (401, 403):
        return f"{answer}; it may need you to sign in. Send it from the browser instead."
    return f"{answer}."


def _network_reason(error: httpx2.HTTPError, host: str, place: str) -> str:
    causes: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, socket.gaierror) for c in causes):
        return f"the address {host} was not found; check it, or your internet connection"
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return f"the security certificate of {host} is not valid"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"nothing answers at {place}"
    if isinstance(error, httpx2.TimeoutException):
        return f"{host} did not answer in time"
    if isinstance(error, httpx2.ConnectError):
        return f"cannot connect to {host}"
    detail = " ".join(str(error).split()) or type(error).__name__
    return f"the connection to {host} failed ({_short(detail, 80)})"


def _short(text: str, limit: int = 100) -> str:
    """Keep messages one short line even for a very long address."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
