"""Attacks, each of which must fail.

* A web page in real headless Chromium, served from another localhost port, tries to make the
  daemon speak or read a page: fetch with and without CORS, a guessed token, a form POST (the
  text/plain JSON trick), sendBeacon, image and audio tags, WebSockets (also /v1/stream with
  the token leaked to the page: Origin keeps it out). Proof that none
  succeeded: the daemon's event stream shows nothing queued, its status stays idle, the
  PulseAudio monitor hears silence, the daemon never fetched the page it was asked to read, and
  the page's own script reports an error (or an opaque answer) for each attempt.
* DNS rebinding (foreign Host headers), missing, wrong or misplaced tokens, path traversal in
  ids, voices and outputs given as file paths, and another local user (``nobody``) reaching the
  socket or the token file.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import signal as sig
from support.chromium import browsing
from support.daemon import Events
from support.pulse import PulseServer
from support.reliable import Daemon

pytestmark = pytest.mark.sound

RATE = 22050

ATTACK_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Free recipes</title></head><body>
<h1>Nothing to see here</h1>
<iframe name="sink" id="sink" style="display:none"></iframe>
<script>
// Each attempt goes to the daemon and to a decoy that records what reaches it: the decoy shows
// the browser really sent it, so what stopped it at the daemon is the daemon.
const TARGETS = {daemon: "127.0.0.1:DAEMON_PORT", decoy: "127.0.0.1:DECOY_PORT"};
const SAY = JSON.stringify({text: "You have been hacked.", mode: "interrupt"});
const READ = JSON.stringify({url: location.origin + "/secret"});
const LEAKED_TOKEN = "DAEMON_TOKEN";
const results = {};

function within(ms, promise) {
  return Promise.race([promise, new Promise(r => setTimeout(() => r("no answer"), ms))]);
}
async function attempt(label, name, make) {
  try { results[label + ": " + name] = "answered: " + await within(4000, make()); }
  catch (error) { results[label + ": " + name] = "error: " + error; }
}
function tag(kind, src) {
  return new Promise(resolve => {
    const element = kind === "img" ? new Image() : document.createElement(kind);
    element.onload = element.oncanplay = () => resolve("loaded");
    element.onerror = () => resolve("error event");
    element.src = src;
    if (kind === "audio") { element.play().catch(e => resolve("play refused: " + e.name)); }
  });
}
function form(action, enctype, fields) {
  return new Promise(resolve => {
    const f = document.createElement("form");
    f.method = "POST"; f.action = action; f.enctype = enctype; f.target = "sink";
    for (const [name, value] of fields) {
      const input = document.createElement("input");
      input.name = name; input.value = value; f.appendChild(input);
    }
    document.body.appendChild(f);
    document.getElementById("sink").onload = () => resolve("submitted, answer unreadable");
    f.submit();
  });
}
function socketTo(url, protocols) {
  return new Promise(resolve => {
    const ws = new WebSocket(url, protocols);
    ws.onopen = () => {
      ws.send(JSON.stringify({type: "start"}));
      ws.send(JSON.stringify({type: "text", text: "You have been hacked."}));
      ws.send(JSON.stringify({type: "end"}));
      ws.send(SAY);
      resolve("OPEN");
    };
    ws.onerror = () => resolve("error event");
    ws.onclose = e => resolve("closed " + e.code);
  });
}

async function attack(label, host) {
  const D = "http://" + host;
  const post = (path, body, init) => fetch(D + path, {method: "POST", body: body, ...init})
    .then(r => r.type + " " + r.status + " " + r.headers.get("content-type"));
  const json = {"Content-Type": "application/json"};
  await attempt(label, "fetch no-cors, text/plain", () =>
    post("/v1/speak", SAY, {mode: "no-cors", headers: {"Content-Type": "text/plain"}}));
  await attempt(label, "fetch no-cors, form body", () =>
    post("/v1/speak", new URLSearchParams({text: "hacked"}), {mode: "no-cors"}));
  await attempt(label, "fetch cors, JSON", () => post("/v1/speak", SAY, {headers: json}));
  await attempt(label, "fetch cors, guessed token", () =>
    post("/v1/speak", SAY, {headers: {...json, "Authorization": "Bearer guessed"}}));
  await attempt(label, "fetch cors, read a page", () =>
    post("/v1/speak", READ, {headers: json}));
  await attempt(label, "fetch no-cors, OpenAI speech", () =>
    post("/v1/audio/speech", JSON.stringify({input: "hacked"}),
         {mode: "no-cors", headers: {"Content-Type": "text/plain"}}));
  await attempt(label, "fetch, read the status", () =>
    fetch(D + "/v1/status").then(r => r.text()));
  await attempt(label, "fetch, read the spec", () =>
    fetch(D + "/openapi.json").then(r => r.text()));
  await attempt(label, "sendBeacon", () =>
    Promise.resolve(navigator.sendBeacon(D + "/v1/speak", SAY) ? "queued by the browser" :
                    "refused by the browser"));
  await attempt(label, "form POST, text/plain JSON trick", () =>
    form(D + "/v1/speak", "text/plain", [['{"text": "You have been hacked.", "x": "', '"}']]));
  await attempt(label, "form POST, urlencoded", () =>
    form(D + "/v1/speak", "application/x-www-form-urlencoded",
         [["text", "You have been hacked."]]));
  await attempt(label, "img GET /v1/speak", () => tag("img", D + "/v1/speak?text=hacked"));
  await attempt(label, "img GET /v1/stop", () => tag("img", D + "/v1/stop"));
  await attempt(label, "audio GET /v1/audio/speech", () =>
    tag("audio", D + "/v1/audio/speech?input=hacked"));
  await attempt(label, "WebSocket /v1/events", () => socketTo("ws://" + host + "/v1/events"));
  await attempt(label, "WebSocket /v1/speak", () => socketTo("ws://" + host + "/v1/speak"));
  await attempt(label, "WebSocket /v1/stream", () => socketTo("ws://" + host + "/v1/stream"));
  // The worst case: the page somehow knows the token. The Origin check still keeps it out.
  await attempt(label, "WebSocket /v1/stream, leaked token", () =>
    socketTo("ws://" + host + "/v1/stream", ["readaloud", "readaloud.token." + LEAKED_TOKEN]));
}

(async () => {
  for (const [label, host] of Object.entries(TARGETS)) { await attack(label, host); }
  await fetch("/report", {method: "POST", body: JSON.stringify(results)});
})();
</script></body></html>
"""

ATTEMPTS = 18


class Decoy:
    """A naive server that answers anything and records what the browser sent it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []
        decoy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                decoy.seen.append(
                    (
                        self.command,
                        self.path.split("?")[0],
                        self.headers.get("Content-Type", ""),
                        self.headers.get("Upgrade", ""),
                    )
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = do_OPTIONS = _answer  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Attacker:
    """The attacker's web server on its own loopback port: the page, a "secret" page it asks
    the daemon to read, and /report where the page posts what each attempt got."""

    def __init__(self, daemon_port: int, decoy_port: int, token: str) -> None:
        self.report: dict[str, str] | None = None
        self.reported = threading.Event()
        self.secret_hits = 0
        attacker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/secret":
                    attacker.secret_hits += 1
                    body = b"<html><body><p>The intranet page with secrets.</p></body></html>"
                elif self.path == "/":
                    page = ATTACK_PAGE.replace("DAEMON_PORT", str(daemon_port))
                    page = page.replace("DAEMON_TOKEN", token)
                    body = page.replace("DECOY_PORT", str(decoy_port)).encode()
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                attacker.report = json.loads(self.rfile.read(length))
                attacker.reported.set()
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_web_page_in_chromium_cannot_make_the_daemon_speak(
    daemon: Daemon, pulse: PulseServer
) -> None:
    daemon.post("/v1/stop")
    daemon.wait_idle()
    decoy = Decoy()
    attacker = Attacker(daemon.port, decoy.port, daemon.token)
    events = Events(daemon)
    try:
        with pulse.capture(RATE) as cap, browsing(attacker.url):
            assert attacker.reported.wait(90), "the attack page never reported"
            time.sleep(1.0)  # anything it set off would be speaking by now
    finally:
        attacker.close()
        decoy.close()
    everything = attacker.report or {}
    print("\nattack page saw: " + json.dumps(everything, indent=1))
    assert len(everything) == 2 * ATTEMPTS, everything
    report = {k.removeprefix("daemon: "): v for k, v in everything.items() if k[0] == "d"}
    # The browser did send them: the decoy got the POSTs (form, no-cors, beacon), the tags'
    # GETs and the WebSocket handshakes, and answered the reads.
    seen = set(decoy.seen)
    assert ("POST", "/v1/speak", "text/plain", "") in seen
    assert ("POST", "/v1/speak", "text/plain;charset=UTF-8", "") in seen
    assert ("POST", "/v1/speak", "application/x-www-form-urlencoded", "") in seen
    assert ("GET", "/v1/stop", "", "") in seen
    assert ("GET", "/v1/events", "", "websocket") in seen
    assert ("GET", "/v1/stream", "", "websocket") in seen
    assert everything["decoy: fetch, read the status"] == "error: TypeError: Failed to fetch"
    # The daemon's side: nothing queued, nothing said, nothing fetched.
    assert [e for e in events.items if e["type"] != "utterance_timing"] == []
    assert daemon.get("/v1/status").json()["state"] == "idle"
    assert sig.first_sound_index(cap.samples()) is None, "something was heard"
    assert attacker.secret_hits == 0, "the daemon fetched the page the attacker named"
    # The page's side: every attempt that could be read failed; the others were opaque.
    for name, outcome in report.items():
        assert "202" not in outcome and "200" not in outcome and "OPEN" not in outcome, (
            name,
            outcome,
        )
    readable = [n for n in report if n.startswith("fetch cors") or n.startswith("fetch,")]
    for name in readable:
        assert report[name].startswith("error: TypeError"), (name, report[name])
    sockets = ["WebSocket /v1/events", "WebSocket /v1/speak", "WebSocket /v1/stream"]
    for name in [*sockets, "WebSocket /v1/stream, leaked token", "img GET /v1/speak"]:
        assert report[name] in ("answered: error event", "answered: closed 1006"), (
            name,
            report[name],
        )


# -- requests a browser cannot even send, made by hand --------------------------------------------

FOREIGN_HOSTS = [
    "attacker.example:{port}",
    "localhost.attacker.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "127.0.0.1:{port}.attacker.example",
    "localhost",  # no port: not what a local client sends
    "[::ffff:127.0.0.1]:{port}",
    "",
]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_dns_rebinding_is_refused_even_with_the_token(daemon: Daemon, host: str) -> None:
    host = host.format(port=daemon.port)
    request = (
        f"POST /v1/speak HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {daemon.token}\r\n"
        'Content-Type: application/json\r\nContent-Length: 17\r\n\r\n{"text": "Hello"}'
    ).encode()
    status, body = _raw_tcp(daemon.port, request)
    assert status == 421, body
    assert "localhost" in json.loads(body)["error"]["message"]
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_request_without_any_host_is_refused(daemon: Daemon) -> None:
    status, body = _raw_tcp(daemon.port, b"GET /v1/status HTTP/1.0\r\n\r\n")
    assert status == 421, body


TOKEN_PLACES = {
    "no token": ({}, ""),
    "token in the query": ({}, "?token={token}"),
    "token as access_token": ({}, "?access_token={token}"),
    "token in a cookie": ({"Cookie": "token={token}"}, ""),
    "token as Basic auth": ({"Authorization": "Basic {basic}"}, ""),
    "token in X-Api-Key": ({"X-Api-Key": "{token}"}, ""),
    "token without Bearer": ({"Authorization": "{token}"}, ""),
    "Bearer and nothing": ({"Authorization": "Bearer"}, ""),
    "token cut short": ({"Authorization": "Bearer {short}"}, ""),
    "token with more after it": ({"Authorization": "Bearer {token}x"}, ""),
    "another user's token": ({"Authorization": "Bearer {other}"}, ""),
}


@pytest.mark.parametrize(("headers", "query"), TOKEN_PLACES.values(), ids=TOKEN_PLACES.keys())
@pytest.mark.parametrize(
    "path",
    ["/v1/speak", "/v1/audio/speech", "/v1/stop", "/openapi.json", "/v1/events", "/v1/status"],
)
def test_every_route_wants_the_token_in_its_header(
    daemon: Daemon, headers: dict, query: str, path: str
) -> None:
    import base64

    token = daemon.token
    values = {
        "token": token,
        "short": token[:-1],
        "other": "x" * len(token),
        "basic": base64.b64encode(f"user:{token}".encode()).decode(),
    }
    sent = {name: value.format(**values) for name, value in headers.items()}
    method = "GET" if path in ("/openapi.json", "/v1/events", "/v1/status") else "POST"
    body = {"text": "Hacked."} if path == "/v1/speak" else {"input": "Hacked."}
    response = daemon.http.request(
        method,
        path + query.format(**values),
        json=body if method == "POST" else None,
        headers=sent,
        timeout=10,
    )
    assert response.status_code == 401, response.text
    assert "token" in response.json()["error"]["message"]
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_healthz_answers_without_the_token_and_says_nothing(daemon: Daemon) -> None:
    response = daemon.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


TRAVERSALS = [
    ("GET", "/v1/models/..%2F..%2F..%2Fetc%2Fpasswd", 404),
    ("GET", "/v1/models/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404),
    ("GET", "/v1/models/../../etc/passwd", 404),
    ("GET", "/healthz/../v1/status", 401),  # not /healthz: the token is still wanted
    ("GET", "/healthz%2f..%2fv1%2fstatus", 401),
    ("GET", "/v1/../openapi.json", 401),
]


@pytest.mark.parametrize(("method", "path", "status"), TRAVERSALS)
def test_path_traversal_in_ids_and_paths(daemon: Daemon, method: str, path: str, status: int):
    # Sent as given, without the client tidying the path: raw bytes on a socket.
    request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
    if status != 401:
        request += f"Authorization: Bearer {daemon.token}\r\n"
    got, body = _raw_tcp(daemon.port, (request + "Connection: close\r\n\r\n").encode())
    assert got == status, body
    assert "root:" not in body and '"state"' not in body and "paths" not in body


@pytest.fixture(scope="module")
def stray_model(tmp_path_factory) -> Path:
    """A real Piper voice copied outside the voices folder: reachable only by its path."""
    from readaloud.engines.piper import bundled_model

    folder = tmp_path_factory.mktemp("stray-voice")
    model = bundled_model()
    assert model is not None
    shutil.copy(model.model_path, folder / "evil.onnx")
    shutil.copy(model.config_path, folder / "evil.onnx.json")
    return folder / "evil.onnx"


def _voice_paths(model: Path) -> list[str]:
    return [str(model), str(model.with_suffix("")), f"../../../..{model.with_suffix('')}", "evil"]


def test_voices_are_ids_never_file_paths(daemon: Daemon, stray_model: Path) -> None:
    for voice in _voice_paths(stray_model):
        native = daemon.post("/v1/speak", {"text": "Hello.", "voice": voice})
        assert native.status_code == 400, native.text
        assert "Unknown voice" in native.json()["error"]["message"]
        openai = daemon.post("/v1/audio/speech", {"input": "Hello.", "voice": {"id": voice}})
        assert openai.status_code == 400, openai.text
    assert daemon.get("/v1/status").json()["state"] == "idle"
    for voice in daemon.get("/v1/voices").json()["voices"]:
        assert "/" not in voice["id"] and not voice["id"].endswith(".onnx")  # ids, not paths


def test_no_request_names_an_output_file(daemon: Daemon) -> None:
    spec = daemon.get("/openapi.json").json()
    fields = {
        name.lower()
        for schema in spec["components"]["schemas"].values()
        for name in schema.get("properties", {})
    } | {
        parameter["name"].lower()
        for operations in spec["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
    }
    # "file" is a document to read, and only for the local socket: over HTTP it is refused.
    assert fields and not fields & {"out", "output", "path", "filename", "dir"}, fields
    refused = daemon.post("/v1/speak", {"file": "/etc/passwd"})
    assert refused.status_code == 403, refused.text
    for response_format in ("/tmp/out.wav", "../out.mp3", "wav; rm -rf /"):
        answer = daemon.post(
            "/v1/audio/speech", {"input": "Hi.", "response_format": response_format}
        )
        assert answer.status_code == 400, answer.text


def test_files_only_this_user_can_touch(daemon: Daemon) -> None:
    token_file = daemon.config_home / "readaloud" / "token"
    for path, mode in (
        (daemon.socket_path, 0o600),
        (daemon.socket_path.parent, 0o700),
        (token_file, 0o600),  # its folder may be the user's own, opened up: the file is what counts
    ):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


NOBODY_SCRIPT = """
import json, socket, sys
results = {}
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b'POST /v1/speak HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json'
              b'\\r\\nContent-Length: 17\\r\\n\\r\\n{"text": "Hello"}')
    results["socket"] = "CONNECTED: " + s.recv(200).decode(errors="replace")
except OSError as error:
    results["socket"] = type(error).__name__
try:
    results["token"] = "READ: " + open(sys.argv[2]).read()
except OSError as error:
    results["token"] = type(error).__name__
print(json.dumps(results))
"""


def _as_nobody(*args: str) -> dict[str, str]:
    completed = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--reset-env",
            "/usr/bin/python3",
            "-c",
            NOBODY_SCRIPT,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(completed.stdout)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root")
def test_another_local_user_cannot_reach_the_socket_or_the_token(daemon: Daemon) -> None:
    token_file = daemon.config_home / "readaloud" / "token"
    assert _as_nobody(str(daemon.socket_path), str(token_file)) == {
        "socket": "PermissionError",
        "token": "PermissionError",
    }
    # Even with every folder above them opened up, the files' own modes keep nobody out.
    opened = [
        daemon.home,
        daemon.runtime,
        daemon.socket_path.parent,
        daemon.config_home,
        token_file.parent,
    ]
    saved = {path: stat.S_IMODE(path.stat().st_mode) for path in opened}
    try:
        for path in opened:
            path.chmod(0o755)
        assert _as_nobody(str(daemon.socket_path), str(token_file)) == {
            "socket": "PermissionError",
            "token": "PermissionError",
        }
    finally:
        for path, mode in saved.items():
            path.chmod(mode)
    # Loopback TCP is open to every local user, which is why it wants the token.
    status, _ = _raw_tcp(
        daemon.port,
        f"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n\r\n".encode(),
    )
    assert status == 401


def _raw_tcp(port: int, request: bytes) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(request)
        reply = b""
        while True:
            head, _, body = reply.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if length is not None and len(body) >= length:
                break
            chunk = client.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode("utf-8", "replace")
