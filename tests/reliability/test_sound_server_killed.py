"""The sound server killed (SIGKILL, as in a crash) under a real daemon, in every state of its
player: the daemon must never wedge.

For each state: a request while the server is gone fails with "no sound output" (an ``error``
event, the CLI's exit 4); stop, pause, status and /healthz answer at once; when the server
returns the user is told what was missed and the next request is heard, without a restart; and
SIGTERM ends the daemon within 2 s with its socket removed.

Each state gets a daemon and a PulseAudio of its own, so that no state inherits another's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from support import signal as sig
from support.cli import run_readaloud
from support.daemon import Events
from support.pulse import PulseServer
from support.reliable import LONG, Daemon

from readaloud.daemon import SOUND_BACK_PHRASE

pytestmark = pytest.mark.sound

RATE = 22050
NO_DESKTOP = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
#: Long enough that "draining the tail" is a state the test can be sure to be in.
CONFIG = "[audio]\ntail_padding_ms = 2000\nidle_close_s = 0.5\n"
#: A request that answers slower than this is waiting on the sound output (a deadline is 1 s).
PROMPT_S = 0.5


class Setup:
    def __init__(self, daemon: Daemon, server: PulseServer, events: Events) -> None:
        self.daemon, self.server, self.events = daemon, server, events

    def speak(self, text: str) -> str:
        return self.daemon.post("/v1/speak", {"text": text}).json()["id"]

    def heard(self, uid: str, index: int = 0) -> dict:
        return self.events.wait_for(
            lambda e: e["type"] == "segment_start" and e["id"] == uid and e["index"] >= index, 30
        )


def _open_just_now(s: Setup) -> None:
    s.server.kill()  # at once after READY: the stream the daemon opened is fresh


def _open_a_while(s: Setup) -> None:
    time.sleep(1.5)  # open for a while, never started
    s.server.kill()


def _playing(s: Setup) -> None:
    s.heard(s.speak(LONG), 1)
    s.server.kill()


def _paused(s: Setup) -> None:
    s.heard(s.speak(LONG), 1)
    assert s.daemon.post("/v1/pause").status_code == 200
    time.sleep(0.3)
    s.server.kill()


def _draining_the_tail(s: Setup) -> None:
    uid = s.speak("Yes.")
    s.heard(uid)
    time.sleep(1.0)  # "Yes." has been heard; 2 s of tail padding are playing
    status = s.daemon.get("/v1/status").json()
    assert status["state"] == "speaking" and status["utterance"] == uid, status
    s.server.kill()


def _after_the_idle_close(s: Setup) -> None:
    uid = s.speak("Yes.")
    s.events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid, 30)
    time.sleep(1.0)  # past idle_close_s: the stream is closed
    s.server.kill()


def _during_rescans(s: Setup) -> None:
    """Kills and restarts racing the daemon's device re-scans: with the server gone, every
    request makes PortAudio look for devices again, and the server comes and goes meanwhile."""
    s.server.kill()
    for pause in (0.0, 0.02, 0.05, 0.1, 0.2):
        s.speak("Are you there?")
        s.server.start()
        time.sleep(pause)
        s.server.kill()
    time.sleep(0.3)


STATES: dict[str, Callable[[Setup], None]] = {
    "open, just started": _open_just_now,
    "open for a while, never started": _open_a_while,
    "playing": _playing,
    "paused": _paused,
    "draining the tail": _draining_the_tail,
    "after the idle close": _after_the_idle_close,
    "during device re-scans": _during_rescans,
}


@pytest.fixture
def setup() -> Iterator[Setup]:
    server = PulseServer()
    server.start()
    daemon = Daemon({**server.env, **NO_DESKTOP}, config_text=CONFIG)
    try:
        daemon.start()
        yield Setup(daemon, server, Events(daemon))
    finally:
        daemon.close()
        server.close()


def _prompt(send: Callable[[], object]) -> float:
    began = time.monotonic()
    response = send()
    took = time.monotonic() - began
    assert getattr(response, "status_code", 200) == 200, response
    return took


@pytest.mark.parametrize("state", list(STATES))
def test_a_killed_sound_server_never_wedges_the_daemon(setup: Setup, state: str) -> None:
    daemon, server, events = setup.daemon, setup.server, setup.events
    STATES[state](setup)

    # A request while the sound is gone: accepted at once, then the usual error.
    began = time.monotonic()
    uid = setup.speak("Can you hear me now?")
    assert time.monotonic() - began < PROMPT_S
    error = events.wait_for(lambda e: e["type"] == "error" and e["id"] == uid, 30)
    assert error["code"] == "no_sound_output", error
    assert "No sound output device found" in error["message"], error

    # The controls answer at once, whatever the audio path is doing. (Timed on the Unix socket,
    # the CLI's door: the test's HTTP client adds 40 ms of Nagle delay to a TCP GET.)
    times = {
        "stop": _prompt(lambda: daemon.unix.post("/v1/stop", json={})),
        "pause": _prompt(lambda: daemon.unix.post("/v1/pause", json={})),
        "status": _prompt(lambda: daemon.unix.get("/v1/status")),
        "healthz": _prompt(lambda: daemon.unix.get("/healthz")),
    }
    print(f"{state}: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in times.items()))
    assert max(times.values()) < PROMPT_S, times
    assert daemon.get("/v1/status").json()["state"] == "idle"

    # The CLI says what is wrong, in one line, with the no-sound exit code.
    failed = run_readaloud("say", "--wait", "Still nothing?", env=daemon.env, timeout=30)
    assert failed.code == 4, failed
    assert failed.stderr.strip().count("\n") == 0 and "No sound output" in failed.stderr

    # The server comes back: the user is told what was missed, and the next request is heard.
    back_at = time.time()
    server.start()
    told = events.wait_for(
        lambda e: e["type"] == "utterance_start"
        and e["text"] == SOUND_BACK_PHRASE
        and e["time"] >= back_at,  # not one said while the server came and went
        30,
    )
    setup.heard(told["id"])
    with server.capture(RATE) as cap:
        uid = setup.speak("The sound is back and so am I.")
        end = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid, 30)
    assert end["completed"] is True, end
    assert sig.sound_duration(cap.samples(), RATE) > 1.0

    # SIGTERM ends it promptly, socket removed, whatever was left stuck inside PortAudio.
    took = daemon.terminate()
    assert took < 2.0, took
    assert daemon.process is not None and daemon.process.returncode == 0
    assert not daemon.socket_path.exists()
    assert not [line for line in daemon.stderr_lines if "Traceback" in line], "\n".join(
        daemon.stderr_lines
    )
