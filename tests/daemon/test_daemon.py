"""A real daemon process, spoken to over HTTP and its Unix socket, heard at PulseAudio's monitor."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import httpx2
import pytest
from support import signal as sig
from support.cli import run_readaloud
from support.daemon import DaemonProcess, Events
from support.pulse import PulseServer

from readaloud.bench.measure import wait_until_quiet

pytestmark = pytest.mark.sound

RATE = 22050
LONG = " ".join(
    f"Sentence {n} of a long text that keeps the daemon talking for a while." for n in range(1, 25)
)


@pytest.fixture(autouse=True)
def quiet_after(request):
    yield
    if "daemon" in request.fixturenames:
        request.getfixturevalue("daemon").post("/v1/stop")


def test_ready_socket_token_and_health(daemon: DaemonProcess) -> None:
    assert "READY=1" in daemon.notifications
    assert stat.S_IMODE(daemon.socket_path.stat().st_mode) == 0o600
    token_file = daemon.config_home / "readaloud" / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert len(daemon.token) >= 32
    assert daemon.http.get("/healthz").json() == {"status": "ok"}


def test_speak_over_http_is_heard(daemon: DaemonProcess, pulse: PulseServer) -> None:
    with pulse.capture(RATE) as cap:
        answer = daemon.post("/v1/speak", {"text": "Hello from the daemon."})
        assert answer.status_code == 202, answer.text
        uid = answer.json()["id"]
        assert daemon.wait_state("speaking", 5, utterance=uid)["utterance"] == uid
        daemon.wait_state("idle")
    assert sig.sound_duration(cap.samples(), RATE) > 0.8


def test_cli_talks_to_the_daemon_over_the_socket(daemon: DaemonProcess, pulse: PulseServer) -> None:
    env = {k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    with pulse.capture(RATE) as cap:
        result = run_readaloud("say", "--wait", "Through the socket.", env=env)
    assert result.code == 0, result.stderr
    assert sig.sound_duration(cap.samples(), RATE) > 0.6
    status = run_readaloud("status", env=env)
    assert status.code == 0 and status.stdout.startswith("idle; engine: piper")


def test_interrupt_and_queue(daemon: DaemonProcess) -> None:
    events = Events(daemon)
    first = daemon.post("/v1/speak", {"text": LONG}).json()["id"]
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == first)
    second = daemon.post("/v1/speak", {"text": "Interrupting you."}).json()["id"]
    ended = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == first)
    assert ended["completed"] is False
    events.wait_for(lambda e: e["type"] == "utterance_start" and e["id"] == second)
    third = daemon.post("/v1/speak", {"text": "After you.", "mode": "queue"}).json()["id"]
    done = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == second)
    assert done["completed"] is True
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == third)
    order = [e["id"] for e in events.items if e["type"] == "utterance_start"]
    assert order == [first, second, third]


def test_replaced_in_its_closing_pause_an_utterance_was_heard_to_the_end(
    daemon: DaemonProcess,
) -> None:
    """A screen reader sends the next sentence on sound_end: the one before was not cut."""
    events = Events(daemon)
    first = daemon.post("/v1/speak", {"text": "The first sentence."}).json()["id"]
    events.wait_for(lambda e: e["type"] == "sound_end" and e["id"] == first)
    second = daemon.post("/v1/speak", {"text": "The next one."}).json()["id"]
    ended = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == first)
    assert ended["completed"] is True
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == second)
    # Replaced while still sounding, it was cut short.
    third = daemon.post("/v1/speak", {"text": "Hello."}).json()["id"]
    cut = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == second)
    assert cut["completed"] is False
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == third)


def test_segment_events_carry_offsets(daemon: DaemonProcess) -> None:
    events = Events(daemon)
    text = "First sentence here. Second one follows. And a third."
    uid = daemon.post("/v1/speak", {"text": text}).json()["id"]
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    segments = [e for e in events.items if e["type"] == "segment_start" and e["id"] == uid]
    assert [s["index"] for s in segments] == list(range(len(segments)))
    assert [text[s["start"] : s["end"]] for s in segments] == [s["text"] for s in segments]
    assert " ".join(s["text"] for s in segments) == text


def test_stop_silences_at_once(daemon: DaemonProcess, pulse: PulseServer) -> None:
    with pulse.capture(RATE) as cap:
        daemon.post("/v1/speak", {"text": LONG})
        while sig.sound_duration(cap.samples(), RATE) < 1.5:
            time.sleep(0.01)
        asked = time.monotonic()
        assert daemon.post("/v1/stop").json() == {"ok": True}
        time.sleep(0.3)
    last = sig.last_sound_index(cap.samples())
    after_ms = (cap.time_at(last) - asked) * 1000
    # Heard as at once (well under the 100 ms a listener notices); the sentence would have gone
    # on for seconds. The figure itself is the benchmark's (control.stop_to_silence_ms): on a
    # loaded 2-core machine this wall-clock span also holds the HTTP request and scheduling.
    assert after_ms < 100, after_ms
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_pause_keeps_the_place_and_resume_continues(
    daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        uid = daemon.post("/v1/speak", {"text": LONG[:300]}).json()["id"]
        events.wait_for(lambda e: e["type"] == "segment_start" and e["index"] == 1)
        paused_at = time.monotonic()
        assert daemon.post("/v1/pause").json() == {"ok": True}
        assert daemon.get("/v1/status").json()["state"] == "paused"
        time.sleep(1.0)
        resumed_at = time.monotonic()
        assert daemon.post("/v1/resume").json() == {"ok": True}
        end = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    assert end["completed"] is True
    samples = cap.samples()
    quiet = samples[cap.index_at(paused_at + 0.06) : cap.index_at(resumed_at - 0.01)]
    assert sig.first_sound_index(quiet) is None  # silent while paused
    resumed = samples[cap.index_at(resumed_at) :]
    first = sig.first_sound_index(resumed)
    assert first is not None and first / RATE < 0.5  # it continued, and promptly
    starts = [e["index"] for e in events.items if e["type"] == "segment_start" and e["id"] == uid]
    assert starts == sorted(set(starts))  # nothing repeated


def test_skip_moves_by_sentences(daemon: DaemonProcess) -> None:
    events = Events(daemon)
    uid = daemon.post("/v1/speak", {"text": LONG}).json()["id"]
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    assert daemon.post("/v1/skip", {"count": 3}).json() == {"ok": True}
    jumped = events.wait_for(
        lambda e: e["type"] == "segment_start" and e["id"] == uid and e["index"] >= 3
    )
    assert jumped["index"] in (3, 4)
    assert daemon.post("/v1/skip", {"count": -1}).json() == {"ok": True}
    events.wait_for(lambda e: e["type"] == "segment_start" and e["index"] == jumped["index"] - 1)


BAD_REQUESTS = {
    "no token": ("POST", "/v1/speak", {"json": {"text": "hi"}}, {}, 401),
    "wrong token": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi"}},
        {"Authorization": "Bearer x"},
        401,
    ),
    "token in query": ("GET", "/v1/status?token=TOKEN", {}, {}, 401),
    "foreign host": ("GET", "/v1/status", {}, {"Host": "evil.example:80", "AUTH": "1"}, 421),
    "foreign origin": (
        "GET",
        "/v1/status",
        {},
        {"Origin": "https://evil.example", "AUTH": "1"},
        403,
    ),
    "form post": ("POST", "/v1/speak", {"data": {"text": "hi"}}, {"AUTH": "1"}, 415),
    "malformed json": (
        "POST",
        "/v1/speak",
        {"content": b"{text", "headers": {"Content-Type": "application/json"}},
        {"AUTH": "1"},
        400,
    ),
    "unknown field": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "speed": 2}},
        {"AUTH": "1"},
        400,
    ),
    "two sources": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "url": "http://x"}},
        {"AUTH": "1"},
        400,
    ),
    "empty text": ("POST", "/v1/speak", {"json": {"text": "  "}}, {"AUTH": "1"}, 400),
    "rate out of range": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "rate": 9}},
        {"AUTH": "1"},
        400,
    ),
    "pitch out of range": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "pitch": 13}},
        {"AUTH": "1"},
        400,
    ),
    "volume as a string": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "volume": "0.5"}},
        {"AUTH": "1"},
        400,
    ),
    "unknown voice": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "voice": "nobody"}},
        {"AUTH": "1"},
        400,
    ),
    "voice as a path": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "voice": "../../etc/passwd"}},
        {"AUTH": "1"},
        400,
    ),
    "unsupported language": (
        "POST",
        "/v1/speak",
        {"json": {"text": "hi", "language": "xx"}},
        {"AUTH": "1"},
        400,
    ),
    "bad mode": ("POST", "/v1/speak", {"json": {"text": "hi", "mode": "now"}}, {"AUTH": "1"}, 400),
    "oversized body": (
        "POST",
        "/v1/speak",
        {"json": {"text": "a " * 5_000_000}},
        {"AUTH": "1"},
        413,
    ),
    "skip not a number": ("POST", "/v1/skip", {"json": {"count": "two"}}, {"AUTH": "1"}, 400),
}


@pytest.mark.parametrize(
    ("method", "path", "options", "headers", "status"),
    BAD_REQUESTS.values(),
    ids=BAD_REQUESTS.keys(),
)
def test_bad_requests_are_refused_and_speech_goes_on(
    daemon: DaemonProcess, pulse: PulseServer, method, path, options, headers, status
) -> None:
    uid = daemon.post("/v1/speak", {"text": LONG}).json()["id"]
    assert daemon.wait_state("speaking", 5, utterance=uid)["utterance"] == uid
    headers = dict(headers)
    if headers.pop("AUTH", None):
        headers.update(daemon.auth)
    options = dict(options)
    headers.update(options.pop("headers", {}))
    response = daemon.http.request(method, path, headers=headers, **options)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and "Traceback" not in error["message"]
    assert "access-control-allow-origin" not in response.headers
    status_now = daemon.get("/v1/status").json()
    assert status_now["state"] == "speaking" and status_now["utterance"] == uid


def test_unix_socket_serves_the_same_api_without_token(daemon: DaemonProcess) -> None:
    assert daemon.unix.get("/v1/voices").json()["voices"][0]["id"] == "en_US-joe-medium"
    assert daemon.unix.post("/v1/stop", json={}).json() == {"ok": True}


def test_no_daemon_commands_explain(tmp_path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    for command in (["stop"], ["status"], ["skip"], ["selection"]):
        result = run_readaloud(*command, env=env)
        assert result.code == 8, result
        assert "No readaloud daemon is running" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_sigterm_exits_cleanly_and_kill_leaves_a_socket_the_next_daemon_replaces(
    pulse: PulseServer,
) -> None:
    first = DaemonProcess(pulse.env)
    try:
        first.start()
        first.post("/v1/speak", {"text": LONG})
        assert first.terminate() < 2.0
        assert first.process.returncode == 0
        assert not first.socket_path.exists()
        assert "STOPPING=1" in first.notifications
    finally:
        first.close()
    second = DaemonProcess(pulse.env)
    try:
        second.start()
        second.process.send_signal(signal.SIGKILL)
        second.process.wait(5)
        assert second.socket_path.exists()  # stale
        third = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "readaloud",
                "daemon",
                "--listen",
                "127.0.0.1:0",
                "--no-hotkeys",
            ],
            env={**second.env, "NOTIFY_SOCKET": ""},
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            client = httpx2.Client(transport=httpx2.HTTPTransport(uds=str(second.socket_path)))
            while time.monotonic() < deadline:
                try:
                    if client.get("http://localhost/healthz").status_code == 200:
                        break
                except httpx2.HTTPError:
                    time.sleep(0.05)
            assert client.get("http://localhost/healthz").status_code == 200
        finally:
            third.send_signal(signal.SIGTERM)
            third.wait(10)
    finally:
        second.close()


def test_second_daemon_refuses_to_start(daemon: DaemonProcess) -> None:
    env = {k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    result = run_readaloud("daemon", "--listen", "127.0.0.1:0", "--no-hotkeys", env=env)
    assert result.code == 9
    assert "already running" in result.stderr


def test_non_loopback_listen_is_refused(tmp_path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = run_readaloud("daemon", "--listen", "0.0.0.0:0", "--no-hotkeys", env=env)
    assert result.code != 0
    assert "only loopback addresses are allowed" in result.stderr
    assert not os.path.exists(tmp_path / "readaloud" / "readaloud.sock")


def test_cli_controls_the_daemon(daemon: DaemonProcess) -> None:
    env = {k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    events = Events(daemon)
    uid = daemon.post("/v1/speak", {"text": LONG}).json()["id"]
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    assert run_readaloud("pause", env=env).code == 0
    assert daemon.get("/v1/status").json()["state"] == "paused"
    toggled = run_readaloud("toggle", env=env)
    assert toggled.code == 0 and toggled.stdout.strip() == "speaking"
    assert run_readaloud("skip", "2", env=env).code == 0
    events.wait_for(lambda e: e["type"] == "segment_start" and e["index"] >= 2)
    assert run_readaloud("stop", env=env).code == 0
    ended = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    assert ended["completed"] is False


def test_the_next_daemon_makes_the_key_echo_set_at_start(pulse: PulseServer, tmp_path) -> None:
    """The settings of the last key echoes are remembered: after a restart the first key a
    screen reader echoes is heard from memory, not made then."""
    state = {"XDG_STATE_HOME": str(tmp_path / "state")}
    first = DaemonProcess({**pulse.env, **state})
    first.start()
    try:
        events = Events(first)
        uid = first.post("/v1/speak", {"text": "a", "rate": 1.25}).json()["id"]  # a key echo
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    finally:
        first.close()
    assert (tmp_path / "state" / "readaloud" / "echo-settings.json").exists()
    second = DaemonProcess({**pulse.env, **state})
    second.start()
    try:
        assert second.process is not None
        assert wait_until_quiet(second.process.pid), "the daemon kept working"
        events = Events(second)
        made = {}
        for text in ("q", "Quarry"):  # in the set / a word never said
            uid = second.post("/v1/speak", {"text": text, "rate": 1.25}).json()["id"]
            timing = events.wait_for(
                lambda e, u=uid: e["type"] == "utterance_timing" and e["id"] == u
            )
            made[text] = timing["engine_first_chunk_ms"]
            events.wait_for(lambda e, u=uid: e["type"] == "utterance_end" and e["id"] == u)
    finally:
        second.close()
    assert made["q"] < 5 < made["Quarry"], made  # from memory (~0.1 ms) / synthesized (~50 ms)
