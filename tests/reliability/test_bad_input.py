"""THE TABLE: bad input at every door, each refused clearly while the daemon keeps speaking.

Doors: the native API over TCP (``api``), the OpenAI-compatible API (``openai``), the Unix
socket, including bytes that are not HTTP at all (``socket``), the command line (``cli``), the
config file (``config``) and the reference clips of ``readaloud voice add`` (``clip``). Valid but
awkward text (mixed scripts, emoji, right-to-left, combining marks, control characters) is in
the table too (``accepted``): it must be spoken, not refused.

What each row proves:
- a daemon door: the status and a JSON error ``{"error": {"message", ...}}`` whose message says
  what is wrong; the daemon still answers, and the long text it was reading is still being read
  (same utterance, never interrupted: requests that fail are sent with ``mode: queue``).
- the command line: the exit code README documents and one line on stderr, no traceback; the
  commands that talk to the daemon do so while it reads, and it goes on reading.

Cases the older tables already hold are not repeated here: tests/daemon/test_daemon.py
(BAD_REQUESTS: token, Host, Origin, form post, malformed JSON, unknown field, two sources,
whitespace text, rate 9, unknown voice, voice path, language xx, bad mode, a 10 MB body, skip
"two"), tests/daemon/test_pages.py (404, PDF, page without text, file:/javascript:/data: URLs,
unreachable host), tests/test_cli.py (BAD_INPUTS and the 5 MB, unreadable-file and config
cases) and tests/test_config.py (the parser's messages).
"""

from __future__ import annotations

import json
import socket
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from support import signal as sig
from support.cli import Result, run_readaloud
from support.pages import NO_TEXT_HTML, PDF, PageServer
from support.pulse import PulseServer

pytestmark = pytest.mark.sound

RATE = 22050


@dataclass(frozen=True)
class Request:
    """An HTTP request to the daemon; ``wire`` is raw bytes for the Unix socket instead."""

    path: str = "/v1/speak"
    method: str = "POST"
    body: Any = None
    raw: bytes | None = None
    content_type: str | None = "application/json"
    unix: bool = False
    chunked: bool = False
    wire: bytes | None = None


@dataclass(frozen=True)
class Case:
    door: str
    name: str
    #: HTTP status for a daemon door, exit code for the others.
    expect: int
    #: A fragment of the message the user reads ("" for accepted input).
    says: str
    request: Request | None = None
    argv: tuple[str, ...] = ()
    stdin: bytes | None = None
    #: config door: the file's bytes.
    config: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)


def api(name: str, expect: int, says: str, body: Any = None, **request: Any) -> Case:
    return Case("api", name, expect, says, Request(body=body, **request))


def page(name: str, path: str, expect: int, says: str) -> Case:
    return api(name, expect, says, {"url": "{pages}" + path, "mode": "queue"})


def openai(name: str, expect: int, says: str, body: Any = None, **request: Any) -> Case:
    return Case("openai", name, expect, says, Request("/v1/audio/speech", body=body, **request))


def unix(name: str, expect: int, says: str, **request: Any) -> Case:
    return Case("socket", name, expect, says, Request(unix=True, **request))


def cli(name: str, expect: int, says: str, *argv: str, stdin: bytes | None = None) -> Case:
    return Case("cli", name, expect, says, argv=argv, stdin=stdin)


def config(name: str, text: bytes | str, says: str, command: str = "voices") -> Case:
    raw = text.encode() if isinstance(text, str) else text
    return Case("config", name, 3, says, argv=(command,), config=raw)


def clip(name: str, file: str, says: str, voice: str = "anna") -> Case:
    return Case("clip", name, 2, says, argv=("voice", "add", voice, "{files}/" + file))


def accepted(name: str, text: str) -> Case:
    return Case("accepted", name, 202, "", Request(body={"text": text, "rate": 2.0}))


HEADER = b"Host: localhost\r\nContent-Type: application/json\r\n"
NESTED = b'{"text": "hi", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
MULTIPART = b'--x\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi\r\n--x--\r\n'
MULTIPART_TYPE = "multipart/form-data; boundary=x"
FORM_TYPE = "application/x-www-form-urlencoded"

# fmt: off
TABLE: list[Case] = [
    # -- the native API over TCP ---------------------------------------------------------------
    api("empty string", 400, "exactly one of text, url, html, source or file", {"text": ""}),
    api("a file over HTTP", 403, "only when asked over the daemon's socket",
        {"file": "/etc/passwd"}),
    api("NUL byte in the text", 400, "NUL character", {"text": "Hello\x00world."}),
    api("lone surrogate in the text", 400, "not valid Unicode", {"text": "Hi \ud800 there."}),
    api("invalid UTF-8 in the body", 400, "send UTF-8 JSON", raw=b'{"text": "caf\xe9"}'),
    api("JSON nested 100,000 deep", 400, "could not be read", raw=NESTED),
    api("1.2 MB of text (under the body cap)", 400, "over 1 MB", {"text": "word " * 240_000}),
    api("chunked body past the cap", 413, "request body is over", raw=b"x" * 9_000_000,
        chunked=True),
    api("text/plain body", 415, "JSON", raw=b'{"text": "hi"}', content_type="text/plain"),
    api("multipart form", 415, "JSON", raw=MULTIPART, content_type=MULTIPART_TYPE),
    api("no Content-Type", 415, "JSON", raw=b'{"text": "hi"}', content_type=None),
    api("JSON array body", 400, "valid dictionary", raw=b"[]"),
    api("JSON null body", 400, "valid dictionary", raw=b"null"),
    api("JSON string body", 400, "valid dictionary", raw=b'"Read this."'),
    api("text is a number", 400, "text: Input should be a valid string", {"text": 42}),
    api("rate is a word", 400, "rate:", {"text": "hi", "rate": "fast"}),
    api("rate NaN", 400, "rate:", raw=b'{"text": "hi", "rate": NaN}'),
    api("rate too low", 400, "rate:", {"text": "hi", "rate": 0.1}),
    api("rate as a string number", 400, "rate:", {"text": "hi", "rate": "1.5"}),
    api("voice is a list", 400, "voice:", {"text": "hi", "voice": ["en_US-joe-medium"]}),
    api("language malformed", 400, "not a language code", {"text": "hi", "language": "e n!"}),
    api("language 36 characters", 400, "language:", {"text": "hi", "language": "e" * 36}),
    api("mode null", 400, "mode:", {"text": "hi", "mode": None}),
    api("only emoji: no words", 400, "no words", {"text": "😀🍵✨"}),
    api("skip by 5000", 400, "count:", {"count": 5000}, path="/v1/skip"),
    api("skip by true", 400, "count:", {"count": True}, path="/v1/skip"),
    api("GET on a POST endpoint", 405, "GET is not allowed on /v1/speak", method="GET"),
    api("unknown endpoint", 404, "There is no /v1/read", {"text": "hi"}, path="/v1/read"),
    api("ftp: URL", 400, "not ftp: addresses", {"url": "ftp://example.org/a.txt", "mode": "queue"}),
    api("URL without a host", 400, "no host name", {"url": "http://", "mode": "queue"}),
    page("endless redirect", "/loop", 422, "redirects more than 5 times"),
    page("slow drip response", "/drip", 422, "did not send it within 10 seconds"),
    page("huge page, no length", "/huge", 400, "larger than 5 MB"),
    page("huge page, declared length", "/huge-declared", 400, "larger than 5 MB"),
    page("PDF served as HTML", "/mislabelled", 400, "is a PDF"),
    page("binary download", "/download", 400, "is a binary file"),
    page("image", "/photo", 400, "is an image"),
    page("403 page", "/private", 422, "403 Forbidden"),
    page("redirect to file:", "/to-file", 422, "redirects to a file: address"),
    api("HTML with no text", 400, "No readable text", {"html": NO_TEXT_HTML, "mode": "queue"}),
    api("HTML that parses to nothing", 400, "No readable text",
        {"html": "<![CDATA[<body>", "mode": "queue"}),
    api("HTML with a broken tag name", 202, "", {"html": "<p>Read <d\\v>this</p>",
                                                 "mode": "queue"}),
    api("HTML over 5 MB", 400, "The page HTML is over 5 MB",
        {"html": "<p>" + "word " * 1_100_000 + "</p>", "mode": "queue"}),
    api("selection with no desktop", 422, "No desktop session", {"source": "selection",
                                                                 "mode": "queue"}),
    # -- the OpenAI-compatible API -------------------------------------------------------------
    openai("no input", 400, "input: Field required", {"voice": "alloy"}),
    openai("empty input", 400, "no text to read", {"input": ""}),
    openai("whitespace input", 400, "no text to read", {"input": " \n\t "}),
    openai("input over 4096 characters", 400, "at most 4096", {"input": "x" * 4097}),
    openai("input is a number", 400, "input: Input should be a valid string", {"input": 5}),
    openai("NUL in the input", 400, "NUL character", {"input": "Hello\x00world."}),
    openai("unknown format", 400, "response_format", {"input": "Hi", "response_format": "mp4"}),
    openai("speed 10", 400, "speed:", {"input": "Hi", "speed": 10}),
    openai("speed 0", 400, "speed:", {"input": "Hi", "speed": 0}),
    openai("voice as a path", 400, "Unknown voice '/etc/passwd'",
           {"input": "Hi", "voice": "/etc/passwd"}),
    openai("voice object with a path id", 400, "Unknown voice '../../etc/passwd'",
           {"input": "Hi", "voice": {"id": "../../etc/passwd"}}),
    openai("unsupported language", 400, "No installed voice speaks 'xx'",
           {"input": "Hi", "language": "xx"}),
    openai("unknown stream format", 400, "stream_format", {"input": "Hi", "stream_format": "ws"}),
    openai("malformed JSON", 400, "not valid JSON", raw=b'{"input": "Hi",'),
    openai("form-encoded body", 415, "JSON", raw=b"input=Hi&voice=alloy",
           content_type="application/x-www-form-urlencoded"),
    Case("openai", "unknown model", 404, "does not exist",
         Request("/v1/models/tts-9", method="GET")),
    # -- the Unix socket -----------------------------------------------------------------------
    unix("bytes that are not HTTP", 400, "Invalid HTTP request", wire=b"\x00\xffGARBAGE\r\n\r\n"),
    unix("Content-Length of 100 MB", 413, "request body is over",
         wire=b"POST /v1/speak HTTP/1.1\r\n" + HEADER + b"Content-Length: 100000000\r\n\r\n{"),
    unix("malformed JSON", 400, "not valid JSON", raw=b"{text"),
    unix("form post", 415, "JSON", raw=b"text=hi", content_type=FORM_TYPE),
    unix("unknown field", 400, "Extra inputs are not permitted", body={"text": "hi", "lang": "en"}),
    # -- the command line, while the daemon reads ------------------------------------------------
    cli("ftp: URL", 2, "not ftp: addresses", "read", "--queue", "ftp://example.org/a.txt"),
    cli("javascript: URL", 2, "not javascript: addresses", "read", "--queue",
        "javascript:alert(1)"),
    cli("unreachable host", 6, "Could not open the page", "read", "--queue",
        "http://127.0.0.1:9/"),
    cli("404 page", 6, "404", "read", "--queue", "{pages}/missing"),
    cli("endless redirect", 6, "redirects more than 5 times", "read", "--queue", "{pages}/loop"),
    cli("PDF page", 2, "PDF", "read", "--queue", "{pages}/report.pdf"),
    cli("page with no text", 2, "No readable text", "read", "--queue", "{pages}/blank"),
    cli("huge page", 2, "larger than 5 MB", "read", "--queue", "{pages}/huge"),
    cli("audio file given to read", 2, "is a WAV audio file", "read", "--queue",
        "{files}/speech.wav"),
    cli("damaged PDF given to read", 2, "report.pdf is damaged: it could not be opened as a PDF",
        "read", "--queue", "{files}/report.pdf"),
    cli("ZIP named .epub given to read", 2, "is a ZIP archive, not an EPUB e-book", "read",
        "--queue", "{files}/book.epub"),
    cli("chapter of a text file", 2, "has no chapters readaloud can find", "read", "--queue",
        "--chapter", "2", "{files}/notes.txt"),
    cli("chapter 0", 2, "There is no chapter 0: chapters are counted from 1.", "read",
        "--queue", "--chapter", "0", "{files}/notes.txt"),
    cli("rate NaN", 2, "out of range", "say", "--queue", "--rate", "nan", "Hi"),
    cli("voice given as a model path", 2, "Unknown voice", "say", "--queue", "--voice",
        "{files}/en_US-joe-medium", "Hi"),
    cli("NUL on standard input", 2, "NUL", "say", "--queue", "-", stdin=b"Hello\x00world."),
    cli("skip by a word", 2, "invalid int value", "skip", "two"),
    cli("output is a folder", 2, "Cannot write", "say", "--out", "{files}/", "Hi"),
    cli("listen on port 99999", 2, "is not HOST:PORT", "daemon", "--listen", "127.0.0.1:99999"),
    # -- the config file -------------------------------------------------------------------------
    config("syntax error", "[speech]\nrate = = 1\n", "not valid TOML"),
    config("key given twice", "[speech]\nrate = 1.0\nrate = 2.0\n", "not valid TOML"),
    config("port as a string", '[server]\nport = "7412"\n', "'server.port' must be a int"),
    config("port out of range", "[server]\nport = 70000\n", "TCP port between 1 and 65535"),
    config("queue of 0", "[daemon]\nmax_queue = 0\n", "between 1 and 10000"),
    config("origin with a wildcard path", '[server]\nallowed_origins = ["http://e.org/*"]\n',
           "give exact origins"),
    config("unknown hotkey", '[hotkeys]\nstop = "<ctrl>+<banana>"\n', "line 2"),
    config("XTTS device gpu", '[xtts]\ndevice = "gpu"\n', "must be auto, cuda, cuda:N or cpu"),
    config("not UTF-8", b'[speech]\nvoice = "caf\xe9"\n', "not UTF-8"),
    config("a folder, not a file", b"", "Cannot read config file"),
    config("daemon with a bad engine", '[speech]\nengine = "fast"\n',
           "must be one of auto, piper, xtts", command="daemon"),
    # -- reference clips for readaloud voice add -------------------------------------------------
    clip("corrupt clip", "corrupt.wav", "Cannot read clip 'corrupt.wav'"),
    clip("silent clip", "silent.wav", "is silent"),
    clip("0.5 s clip", "half-second.wav", "only 0.5 s of speech"),
    clip("30-minute clip", "thirty-minutes.wav", "30 minutes long"),
    clip("clip is a folder", "", "is a folder"),
    clip("voice name with a path", "speech.wav", "cannot be a voice name", voice="../evil"),
    # -- valid input: spoken, not refused --------------------------------------------------------
    accepted("mixed scripts", "Hello, Привет, 你好 and γειά σου, world."),
    accepted("emoji among words", "I love tea 😀🍵 and lemon cake ✨."),
    accepted("right-to-left text", "She wrote שלום and then مرحبا بكم on the board."),
    accepted("combining marks, zero-width", "Cafe\u0301 na\u0308ive zero\u200bwidth joi\u200dner."),
    accepted("control characters", "Bell \x07 and escape \x1b[31m red \x1b[0m text."),
    Case("cli", "mixed scripts to a file", 0, "", argv=(
        "say", "--out", "{files}/mixed.wav", "Hello Привет 你好 مرحبا 😀 world.")),
]
# fmt: on


def _ids(cases: list[Case]) -> list[str]:
    return [f"{c.door}: {c.name}" for c in cases]


def rows(*doors: str) -> list[Case]:
    return [case for case in TABLE if case.door in doors]


def test_the_table_is_complete() -> None:
    names = _ids(TABLE)
    assert len(names) == len(set(names)), "each row is a distinct case"
    assert len(TABLE) >= 40
    assert {c.door for c in TABLE} == {
        "api",
        "openai",
        "socket",
        "cli",
        "config",
        "clip",
        "accepted",
    }


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """What the command-line rows point at: clips, a PDF, a copy of the voice model."""
    folder = tmp_path_factory.mktemp("bad-input")
    rate = 16000
    t = np.arange(rate) / rate
    voice_like = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    voice_like = voice_like.astype(np.float32)
    soundfile.write(folder / "speech.wav", np.tile(voice_like, 8), rate)
    soundfile.write(folder / "silent.wav", np.zeros(8 * rate, np.float32), rate)
    soundfile.write(folder / "half-second.wav", voice_like[: rate // 2], rate)
    # 30 minutes at 8 kHz, 16 bit: 29 MB, written in one go.
    soundfile.write(
        folder / "thirty-minutes.wav",
        np.tile(voice_like[::2], 1800),
        8000,
        subtype="PCM_16",
    )
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage, no data chunk")
    (folder / "report.pdf").write_bytes(PDF)
    with zipfile.ZipFile(folder / "book.epub", "w") as archive:
        archive.writestr("chapter.txt", "Not a book.")
    (folder / "notes.txt").write_text("A short note to read.\n")
    return folder


def _fill(value: str, pages: PageServer, files: Path) -> str:
    return value.replace("{pages}", pages.base).replace("{files}", str(files))


def _run_offline(case: Case, daemon, pages: PageServer, files: Path) -> Result:
    """One command-line, config or clip row, as a user runs it (with the daemon up)."""
    env = {k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    env["XDG_DATA_HOME"] = str(files / "data")
    argv = [_fill(a, pages, files) for a in case.argv]
    if case.door == "config":
        path = files / f"config-{abs(hash(case.name))}.toml"
        if case.name == "a folder, not a file":
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(case.config or b"")
        extra = ("--listen", "127.0.0.1:0", "--no-hotkeys") if argv == ["daemon"] else ()
        argv = ["--config", str(path), *argv, *extra]
    if case.door == "clip" and argv[-1].endswith("/"):
        Path(argv[-1]).mkdir(exist_ok=True)
    return run_readaloud(*argv, stdin=case.stdin, env=env, timeout=120)


@pytest.fixture(scope="module")
def offline_results(daemon, pages: PageServer, files: Path) -> dict[str, Result]:
    """The command-line rows all run at once (each is a process; most of their time is waiting
    for Python to start), while the daemon reads a long text."""
    daemon.keep_speaking()
    cases = rows("cli", "config", "clip")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda c: _run_offline(c, daemon, pages, files), cases)
        return dict(zip(_ids(cases), results, strict=True))


# -- the rows ----------------------------------------------------------------------------------


def _send(daemon, pages: PageServer, request: Request) -> tuple[int, str]:
    """(status, body text) of one request."""
    if request.wire is not None:
        return _over_the_wire(daemon.socket_path, request.wire)
    body = request.body
    if isinstance(body, dict):
        body = {k: _fill(v, pages, Path()) if isinstance(v, str) else v for k, v in body.items()}
    raw = request.raw
    if request.chunked:
        payload = raw or b""

        def pieces():
            for start in range(0, len(payload), 1_000_000):
                yield payload[start : start + 1_000_000]

        response = daemon.http.post(
            request.path,
            content=pieces(),
            headers={**daemon.auth, "Content-Type": "application/json"},
        )
        return response.status_code, response.text
    response = daemon.send(
        request.method,
        request.path,
        body=body,
        raw=raw,
        content_type=request.content_type,
        unix=request.unix,
    )
    return response.status_code, response.text


def _over_the_wire(path: Path, data: bytes) -> tuple[int, str]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(path))
        client.sendall(data)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.partition(b"\r\n\r\n")[2]) == 0:
            chunk = client.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode("utf-8", "replace")


@pytest.mark.parametrize(
    "case", rows("api", "openai", "socket"), ids=_ids(rows("api", "openai", "socket"))
)
def test_daemon_refuses_clearly_and_keeps_reading(daemon, pages: PageServer, case: Case) -> None:
    playing = daemon.keep_speaking()
    assert case.request is not None
    status, text = _send(daemon, pages, case.request)
    assert status == case.expect, text
    assert "Traceback" not in text
    if status < 300:
        assert json.loads(text)["id"]  # read (queued behind what plays), not refused
    elif case.request.wire is not None and status == 400:
        assert case.says in text  # the HTTP parser's own answer: not JSON, but clear
    else:
        error = json.loads(text)["error"]
        assert case.says in error["message"], error
        assert error["type"] and error["code"]
    assert daemon.alive()
    now = daemon.get("/v1/status").json()
    assert (now["state"], now["utterance"]) == ("speaking", playing), "what played was cut off"


@pytest.mark.parametrize(
    "case", rows("cli", "config", "clip"), ids=_ids(rows("cli", "config", "clip"))
)
def test_command_line_says_what_is_wrong(daemon, offline_results, case: Case) -> None:
    result = offline_results[f"{case.door}: {case.name}"]
    assert result.code == case.expect, result
    assert "Traceback" not in result.stderr
    if case.expect == 0:
        return
    lines = result.stderr.strip().splitlines()
    if "invalid int value" in case.says or "HOST:PORT" in case.says:
        assert lines[0].startswith("usage: readaloud")  # argparse: usage, then the error
    else:
        assert lines == [lines[0]] and lines[0].startswith("readaloud: "), result.stderr
    assert case.says in result.stderr, result.stderr
    assert daemon.alive()


def test_command_line_rows_left_the_daemon_reading(daemon, offline_results) -> None:
    """Every command-line row above ran while the long text played; none cut it off."""
    assert offline_results
    assert daemon.get("/v1/status").json()["state"] == "speaking"
    assert daemon.get("/v1/status").json()["utterance"] == daemon.keep_speaking()


def test_the_file_written_from_mixed_scripts_is_speech(files: Path, offline_results) -> None:
    audio, rate = soundfile.read(files / "mixed.wav")
    assert sig.sound_duration(audio, rate) > 1.5


def test_a_daemon_with_a_bad_config_leaves_no_socket(files: Path, daemon) -> None:
    runtime = Path(daemon.env["XDG_RUNTIME_DIR"])
    sockets = list(runtime.rglob("*.sock"))
    assert sockets == [daemon.socket_path]  # only the running daemon's own


@pytest.mark.parametrize("case", rows("accepted"), ids=_ids(rows("accepted")))
def test_awkward_but_valid_text_is_spoken(
    daemon, pulse: PulseServer, pages: PageServer, case: Case
) -> None:
    from support.daemon import Events

    assert case.request is not None
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        status, text = _send(daemon, pages, case.request)
        assert status == 202, text
        uid = json.loads(text)["id"]
        end = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    assert end["completed"] is True, end
    assert not [e for e in events.items if e["type"] == "error"]
    assert sig.sound_duration(cap.samples(), RATE) > 0.5
    spoken = [e for e in events.items if e["type"] == "segment_start" and e["id"] == uid]
    assert spoken and spoken[0]["start"] == 0
