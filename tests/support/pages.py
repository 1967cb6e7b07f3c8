"""A real HTTP server on 127.0.0.1 serving the pages readaloud must read, or refuse clearly.

Each path is one behaviour of the web: an article wrapped in site chrome, errors, PDFs (labelled
and mislabelled), binaries, a page too big, redirect loops and chains, a server that drips bytes.
The server records what it managed to send, so a test can tell that the client stopped early.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ARTICLE_TITLE = "The Quiet Lighthouse"
ARTICLE_PARAGRAPHS = [
    "The lighthouse on the northern cape has stood for two hundred years, guiding the fishing "
    "boats home through fog, sleet and the long storms of the winter months.",
    "Its last keeper, Martha Olsen, kept a logbook of every ship that passed, every storm that "
    "struck the rocks, and every lamp she trimmed by hand before the sun went down.",
    "When the light was made automatic, the village feared the cape would fall silent, but the "
    "foghorn still sounds each evening at six, exactly as it did in her time.",
    "Today the village gathers at the lighthouse every December to read her logbook aloud, one "
    "page for each year the light has burned without fail.",
]
ARTICLE_LIST = ["Trim the wick at dusk.", "Wind the clockwork every four hours."]
#: Words from the site's chrome that a listener must never hear.
CHROME_WORDS = ["Subscribe", "Weather", "Sports", "Advertisement", "Copyright", "cheap watches"]

ARTICLE_HTML = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{ARTICLE_TITLE} | Coast News</title>
<meta property="og:title" content="{ARTICLE_TITLE}">
<script>window.analytics = "Advertisement tracking";</script>
<style>body {{ font-family: serif; }}</style>
</head><body>
<header><nav><ul>
  <li><a href="/">Home</a></li><li><a href="/weather">Weather</a></li>
  <li><a href="/sports">Sports</a></li><li><a href="/subscribe">Subscribe</a></li>
</ul></nav></header>
<main><article>
  <h1>{ARTICLE_TITLE}</h1>
  <p class="byline">By Ingrid Berg</p>
  <p>{ARTICLE_PARAGRAPHS[0]}</p>
  <p>{ARTICLE_PARAGRAPHS[1]}</p>
  <h2>The keeper's rules</h2>
  <ul><li>{ARTICLE_LIST[0]}</li><li>{ARTICLE_LIST[1]}</li></ul>
  <p>{ARTICLE_PARAGRAPHS[2]}</p>
  <p>{ARTICLE_PARAGRAPHS[3]}</p>
</article>
<section id="comments" class="comments">
  <h3>Comments</h3>
  <div class="comment"><p>Great deal on cheap watches, click here now!</p></div>
  <div class="comment"><p>Sports fans, Subscribe to our channel today!</p></div>
</section></main>
<aside class="sidebar"><h3>Weather</h3><p>Sunny, 12 degrees.</p></aside>
<footer><p>Copyright 2026 Coast News. All rights reserved.</p></footer>
</body></html>"""

#: News pages in other languages: language code → (title, paragraphs).
FOREIGN_PAGES = {
    "ru": (
        "Новости города",
        [
            "Городской совет утвердил новый план развития общественного транспорта.",
            "Первые автобусы на новых маршрутах выйдут на линии уже весной.",
            "Жители смогут оставить свои предложения на сайте администрации.",
        ],
    ),
    "ja": (
        "町のニュース",
        [
            "市議会は公共交通の新しい計画を承認しました。",
            "新しい路線のバスは春から運行を始めます。",
            "住民は市のウェブサイトで意見を送ることができます。",
        ],
    ),
    "de": (
        "Nachrichten aus der Stadt",
        [
            "Der Stadtrat hat einen neuen Plan für den öffentlichen Nahverkehr beschlossen.",
            "Die ersten Busse auf den neuen Linien sollen schon im Frühjahr fahren.",
            "Die Bürger können ihre Vorschläge auf der Internetseite der Stadt einreichen.",
        ],
    ),
}


def foreign_page(language: str) -> str:
    title, paragraphs = FOREIGN_PAGES[language]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><article><h1>{title}</h1>{body}"
        "</article></body></html>"
    )


PLAIN_TEXT = "Shopping list\n\nBread and butter.\nA jar of honey.\n"
MARKDOWN = (
    "# Tide table\n\nHigh water at **six**, see [the chart](/chart.png).\n\n- Monday\n- Tuesday\n"
)
LATIN1_TEXT = "Café crème, naïve façade, über Straße."
LATIN1_HTML = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
    f"<title>Menu</title></head><body><p>{LATIN1_TEXT}</p></body></html>"
).encode("latin-1")
FRAGMENT = "<p>Only this one short paragraph.</p>"
NO_TEXT_HTML = (
    "<html><head><title></title><script>var x = 1;</script></head>"
    '<body><div><img src="a.png"></div><script>document.write("x")</script></body></html>'
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
BINARY = bytes(range(256)) * 64
HUGE_BYTES = 64 * 1024 * 1024  # served without a length, far past any cap a test sets
DRIP_INTERVAL = 0.5


def long_article_page(paragraphs: int = 25) -> str:
    """A 2,000-word article in a realistic page: menus, sidebar, scripts, deep nesting, comments."""
    sentence = (
        "The harbour master counted {n} boats returning through the fog before the tide turned, "
        'and wrote each <a href="/boats/{n}" class="inline-link">name</a> into the ledger by '
        "the light of a paraffin lamp."
    )
    body = "".join(
        f'<div class="para-wrap" data-n="{n}"><div class="inner"><p class="body-text">'
        f"{sentence.format(n=n)} {sentence.format(n=n + 1)} {sentence.format(n=n + 2)}"
        "</p></div></div>"
        + (
            '<figure><img src="p.jpg" alt=""><figcaption>The ledger.</figcaption></figure>'
            if n % 15 == 0
            else ""
        )
        for n in range(0, 3 * paragraphs, 3)
    )
    menu = "".join(
        f'<li class="nav__item"><a class="nav__link" href="/s/{i}">Section {i}</a></li>'
        for i in range(120)
    )
    scripts = "".join(
        f'<script type="application/json">{{"slot{i}": "{"x" * 500}"}}</script>' for i in range(40)
    )
    comments = "".join(
        f'<div class="comment"><p>Reader {i} says the ledger story was moving.</p></div>'
        for i in range(30)
    )
    return (
        "<!DOCTYPE html><html><head><title>The ledger | Harbour Times</title>"
        f"<style>{'.a{color:red}' * 500}</style>{scripts}</head><body>"
        f'<header><nav><ul>{menu}</ul></nav></header><div class="layout"><div class="col">'
        f"<main><article><h1>The ledger</h1>{body}</article>"
        f'<section id="comments">{comments}</section></main></div>'
        f"<aside><ul>{menu}</ul></aside></div><footer><ul>{menu}</ul></footer></body></html>"
    )


class PageServer:
    """ThreadingHTTPServer on an ephemeral loopback port, in a background thread.

    Given a certificate and key (PEM files), it speaks HTTPS instead.
    """

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.stop = threading.Event()
        #: path -> bytes of body the server wrote before it finished or the client hung up
        self.sent: dict[str, int] = {}
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        handler = type("BoundPageHandler", (PageHandler,), {"pages": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def finished(self, path: str, timeout: float = 5.0) -> bool:
        """Wait until the handler for ``path`` has returned (the client went away or got it all)."""
        return self._event(path).wait(timeout)

    def _event(self, path: str) -> threading.Event:
        with self._lock:
            return self._done.setdefault(path, threading.Event())

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class PageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pages: PageServer  # set on the subclass each PageServer makes

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        path = self.path.split("?")[0]
        name = "chain" if path.startswith("/chain/") else ROUTES.get(path)
        try:
            if name is None:
                self.send_body(404, "text/html", b"<h1>Not Found</h1>")
            else:
                getattr(self, f"page_{name}")()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up, as it should past a cap or a deadline
        finally:
            self.pages._event(self.path).set()

    # -- the pages ----------------------------------------------------------------------------

    def page_article(self) -> None:
        self.send_body(200, "text/html; charset=utf-8", ARTICLE_HTML.encode())

    def page_foreign(self) -> None:
        language = self.path.split("?")[0].rsplit("/", 1)[-1]
        self.send_body(200, "text/html; charset=utf-8", foreign_page(language).encode())

    def page_missing(self) -> None:
        self.send_body(404, "text/html", b"<html><body><h1>Not Found</h1></body></html>")

    def page_private(self) -> None:
        self.send_body(403, "text/html", b"<html><body><h1>Sign in first</h1></body></html>")

    def page_pdf(self) -> None:
        self.send_body(200, "application/pdf", PDF)

    def page_pdf_as_html(self) -> None:
        self.send_body(200, "text/html; charset=utf-8", PDF)

    def page_image(self) -> None:
        self.send_body(200, "image/png", b"\x89PNG\r\n\x1a\n" + BINARY)

    def page_binary(self) -> None:
        self.send_body(200, "application/octet-stream", BINARY)

    def page_plain(self) -> None:
        self.send_body(200, "text/plain; charset=utf-8", PLAIN_TEXT.encode())

    def page_markdown(self) -> None:
        self.send_body(200, "text/markdown; charset=utf-8", MARKDOWN.encode())

    def page_latin1(self) -> None:
        self.send_body(200, "text/html", LATIN1_HTML)  # no charset in the header: only the page

    def page_fragment(self) -> None:
        self.send_body(200, "text/html; charset=utf-8", FRAGMENT.encode())

    def page_blank(self) -> None:
        self.send_body(200, "text/html; charset=utf-8", NO_TEXT_HTML.encode())

    def page_huge(self) -> None:
        self.stream(b"<p>" + b"word " * 13106 + b"</p>\n", HUGE_BYTES)

    def page_huge_declared(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        self.pages.sent[self.path] = 0
        self.close_connection = True

    def page_drip(self) -> None:
        self.stream(b"x", 10**9, pause=DRIP_INTERVAL)

    def page_drip_headers(self) -> None:
        """The status line, then one header byte at a time: the headers never end."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        while not self.pages.stop.is_set():
            self.wfile.write(b"X")
            self.wfile.flush()
            time.sleep(DRIP_INTERVAL)
        self.close_connection = True

    def page_loop(self) -> None:
        self.redirect(self.path)

    def page_chain(self) -> None:
        """/chain/N redirects N more times, then lands on the article."""
        remaining = int(self.path.rsplit("/", 1)[1])
        self.redirect(f"/chain/{remaining - 1}" if remaining > 0 else "/article")

    def page_to_file(self) -> None:
        self.redirect("file:///etc/passwd")

    # -- helpers ------------------------------------------------------------------------------

    def send_body(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.pages.sent[self.path] = len(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def stream(self, chunk: bytes, total: int, pause: float = 0.0) -> None:
        """Write ``chunk`` again and again, with no length, until ``total`` bytes are out or the
        client hangs up; ``sent`` says how far it got."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        self.pages.sent[self.path] = 0
        while self.pages.sent[self.path] < total and not self.pages.stop.is_set():
            self.wfile.write(chunk)
            self.wfile.flush()
            self.pages.sent[self.path] += len(chunk)
            if pause:
                time.sleep(pause)
        self.close_connection = True


#: path -> the page_* method that serves it ("/chain/N" is served by page_chain)
ROUTES = {
    "/article": "article",
    "/missing": "missing",
    "/private": "private",
    "/report.pdf": "pdf",
    "/mislabelled": "pdf_as_html",
    "/photo": "image",
    "/download": "binary",
    "/notes.txt": "plain",
    "/tides.md": "markdown",
    "/latin1": "latin1",
    "/fragment": "fragment",
    "/blank": "blank",
    "/huge": "huge",
    "/huge-declared": "huge_declared",
    "/drip": "drip",
    "/drip-headers": "drip_headers",
    "/loop": "loop",
    "/to-file": "to_file",
    **{f"/news/{language}": "foreign" for language in FOREIGN_PAGES},
}


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate no one trusts (self-signed, for "localhost"), made with the openssl tool."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the HTTPS tests need the openssl tool: apt-get install openssl")
    certificate, key = folder / "certificate.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return certificate, key
