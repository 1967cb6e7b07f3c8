"""The reader page's door, on a real daemon: a one-time link from the user's socket, a cookie
that web pages cannot use, and the speed changed while reading (POST /v1/rate)."""

from __future__ import annotations

import httpx2
import pytest
from support.cli import run_readaloud
from support.daemon import DaemonProcess, Events
from support.reliable import LONG

from readaloud.server.reader.access import LINK_TTL_S, ReaderAccess

pytestmark = pytest.mark.sound


@pytest.fixture(autouse=True)
def quiet_after(daemon: DaemonProcess):
    yield
    daemon.post("/v1/stop")


def base(daemon: DaemonProcess) -> str:
    return f"http://127.0.0.1:{daemon.port}"


def opened(daemon: DaemonProcess) -> httpx2.Client:
    """A browser that opened a fresh link: it holds the reader's cookie."""
    url = daemon.unix.post("/v1/reader/link", json={}).json()["url"]
    browser = httpx2.Client(base_url=base(daemon))
    assert browser.get(url, follow_redirects=True).status_code == 200
    return browser


def test_the_link_works_once_and_leaves_no_secret_in_the_address(daemon: DaemonProcess):
    done = run_readaloud(
        "reader", "--print", env={k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    )
    assert done.code == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith(f"{base(daemon)}/reader?once=")
    assert daemon.token not in url

    browser = httpx2.Client()
    first = browser.get(url)
    assert first.status_code == 303 and first.headers["location"] == "/reader"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/reader" in cookie
    page = browser.get(f"{base(daemon)}/reader")
    assert page.status_code == 200 and "readaloud reader" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert browser.get(f"{base(daemon)}/reader/api/now").json()["state"] == "idle"

    again = httpx2.get(url)  # the same link, another browser (or the same one, later)
    assert again.status_code == 403 and "readaloud reader" in again.text


@pytest.mark.parametrize(
    "path",
    ["/reader?once=forged-code-0123456789", "/reader", "/reader/api/now", "/reader/api/events"],
)
def test_without_a_real_link_nothing_opens(daemon: DaemonProcess, path: str):
    answer = httpx2.get(base(daemon) + path, timeout=5)
    assert answer.status_code == 403
    refused = httpx2.post(
        base(daemon) + "/reader/api/control",
        json={"action": "stop"},
        cookies={"readaloud_reader": "guessed"},
    )
    assert refused.status_code == 403


def test_a_web_page_cannot_use_the_readers_controls_or_ask_for_a_link(daemon: DaemonProcess):
    browser = opened(daemon)
    uid = daemon.post("/v1/speak", {"text": LONG}).json()["id"]
    daemon.wait_state("speaking", utterance=uid)
    # Another site's page posting with the cookie (if the browser sent it) is refused.
    foreign = browser.post(
        "/reader/api/control", json={"action": "stop"}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and foreign.json()["error"]["type"] == "bad_origin"
    assert daemon.get("/v1/status").json()["state"] == "speaking"
    # Over TCP a link needs the token, like the rest of the API.
    assert httpx2.post(f"{base(daemon)}/v1/reader/link", json={}).status_code == 401
    # The page itself (its own origin) steers the reading.
    own = browser.post(
        "/reader/api/control", json={"action": "pause"}, headers={"Origin": base(daemon)}
    )
    assert own.json() == {"ok": True, "state": "paused"}
    now = browser.get("/reader/api/now").json()
    assert now["utterance"]["id"] == uid and now["utterance"]["text"] == LONG
    assert now["segment"]["text"] in LONG
    stopped = browser.post(
        "/reader/api/control", json={"action": "stop"}, headers={"Origin": base(daemon)}
    )
    assert stopped.json() == {"ok": True, "state": "idle"}


def test_a_link_left_unopened_expires():
    clock = [0.0]
    access = ReaderAccess(clock=lambda: clock[0])
    code = access.new_code()
    clock[0] = LINK_TTL_S + 1
    assert access.redeem(code) is None
    fresh = access.new_code()
    session = access.redeem(fresh)
    assert session and access.valid(session) and not access.valid("x" + session)
    assert access.redeem(fresh) is None
    # Links asked for in a flood: only the newest are kept, the last one always works.
    codes = [access.new_code() for _ in range(100)]
    assert access.redeem(codes[0]) is None and access.redeem(codes[-1])


def test_a_new_speed_applies_at_once_from_the_sentence_heard(daemon: DaemonProcess):
    events = Events(daemon)
    uid = daemon.post("/v1/speak", {"text": LONG}).json()["id"]

    def start_of(index: int, after: float = 0.0) -> float:
        found = events.wait_for(
            lambda e: (
                e["type"] == "segment_start"
                and e["id"] == uid
                and e["index"] == index
                and e["seen"] > after
            )
        )
        return found["seen"]

    # Segment 0 is the first sentence's opening words, said at once: whole sentences from 2 on.
    normal = start_of(3) - start_of(2)
    changed_at = start_of(3)
    assert daemon.post("/v1/rate", {"rate": 2.0}).json() == {"ok": True}
    again = start_of(3, after=changed_at)  # the sentence heard starts again, faster
    faster = start_of(4, after=again) - again
    assert faster < 0.8 * normal, (faster, normal)  # 0.64 here (the pauses keep their length)
    assert daemon.post("/v1/rate", {"rate": 9}).status_code == 400
    daemon.post("/v1/stop")
    assert daemon.post("/v1/rate", {"rate": 1.5}).json() == {"ok": False}  # nothing to speed up


def event(kind: str, uid: str):
    return lambda e: e["type"] == kind and e.get("id") == uid


@pytest.mark.parametrize("move", [("/v1/rate", {"rate": 1.5}), ("/v1/skip", {"count": 1})])
def test_stop_right_after_a_new_speed_or_a_skip_still_stops(daemon: DaemonProcess, move):
    # The new speed (or skip) restarts the sentence on the speech thread; a stop that comes
    # before that restart must not be undone by it.
    for _ in range(3):
        events = Events(daemon)
        uid = daemon.post("/v1/speak", {"text": LONG}).json()["id"]
        events.wait_for(event("segment_start", uid))
        daemon.post(*move)
        daemon.post("/v1/stop")
        ended = events.wait_for(event("utterance_end", uid), 5)
        assert ended["completed"] is False
        assert daemon.wait_state("idle", 2)["state"] == "idle"
