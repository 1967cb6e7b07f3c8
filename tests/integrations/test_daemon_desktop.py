"""The daemon on a real X display: hotkeys pressed with xdotool read the selection and the
clipboard set with xclip, stop and pause; failures the user cannot see are spoken."""

from __future__ import annotations

import time

import pytest
from support import signal as sig
from support.daemon import DaemonProcess, Events
from support.pulse import PulseServer
from support.xserver import XServer

pytestmark = pytest.mark.sound

RATE = 22050
SELECTED = "This sentence was highlighted by the user."
COPIED = "And this one was copied to the clipboard."


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer, xserver: XServer):
    process = DaemonProcess({**pulse.env, **xserver.env}, hotkeys=True)
    process.start()
    yield process
    process.close()


def spoken(events: Events, uid: str) -> str:
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    return " ".join(
        e["text"] for e in events.items if e["type"] == "segment_start" and e["id"] == uid
    )


def test_hotkey_reads_the_selection(daemon: DaemonProcess, xserver: XServer) -> None:
    events = Events(daemon)
    with xserver.own_selection("primary", SELECTED):
        xserver.key("super+alt+a")
        started = events.wait_for(lambda e: e["type"] == "utterance_start")
    assert started["text"] == SELECTED
    assert spoken(events, started["id"]) == SELECTED


def test_hotkey_reads_the_clipboard_and_stop_key_silences(
    daemon: DaemonProcess, xserver: XServer, pulse: PulseServer
) -> None:
    events = Events(daemon)
    long_text = " ".join([COPIED] * 12)
    with pulse.capture(RATE) as cap, xserver.own_selection("clipboard", long_text):
        xserver.key("super+alt+c")
        started = events.wait_for(lambda e: e["type"] == "utterance_start")
        events.wait_for(lambda e: e["type"] == "segment_start" and e["index"] >= 1)
        pressed = time.monotonic()
        xserver.key("super+alt+x")
        ended = events.wait_for(lambda e: e["type"] == "utterance_end")
        time.sleep(0.3)
    assert started["text"] == long_text
    assert ended["completed"] is False
    last = sig.last_sound_index(cap.samples())
    # xdotool itself takes a few ms to deliver the key; the sound must end well within 100 ms.
    assert (cap.time_at(last) - pressed) * 1000 < 100


def test_pause_key_toggles(daemon: DaemonProcess, xserver: XServer) -> None:
    events = Events(daemon)
    daemon.post("/v1/speak", {"text": " ".join([SELECTED] * 6)})
    events.wait_for(lambda e: e["type"] == "segment_start")
    xserver.key("super+alt+space")
    events.wait_for(lambda e: e["type"] == "paused")
    assert daemon.get("/v1/status").json()["state"] == "paused"
    time.sleep(0.5)  # a second press, not the first one held (the hotkeys ignore key repeat)
    xserver.key("super+alt+space")
    events.wait_for(lambda e: e["type"] == "resumed")
    assert daemon.get("/v1/status").json()["state"] == "speaking"
    daemon.post("/v1/stop")


def test_resume_key_goes_on_with_the_last_document(
    daemon: DaemonProcess, xserver: XServer, tmp_path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("\n\n".join(f"Paragraph {n} of the notes, read aloud." for n in range(1, 9)))
    events = Events(daemon)
    uid = daemon.unix.post("/v1/speak", json={"file": str(notes)}).json()["id"]
    heard = events.wait_for(lambda e: e["type"] == "segment_start" and e["index"] == 2)
    daemon.post("/v1/stop")
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    xserver.key("super+alt+b")
    started = events.wait_for(lambda e: e["type"] == "utterance_start" and e["id"] != uid)
    first = events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == started["id"])
    assert heard["text"].startswith(first["text"]) and "Paragraph 3" in first["text"]
    daemon.post("/v1/stop")


def test_resume_key_goes_on_with_the_last_web_page(
    daemon: DaemonProcess, xserver: XServer, pages
) -> None:
    events = Events(daemon)
    uid = daemon.post("/v1/speak", {"url": pages.url("/article")}).json()["id"]
    heard = events.wait_for(lambda e: e["type"] == "segment_start" and e["index"] == 2)
    daemon.post("/v1/stop")
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    xserver.key("super+alt+b")  # the page is fetched again and read on from that sentence
    started = events.wait_for(lambda e: e["type"] == "utterance_start" and e["id"] != uid)
    first = events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == started["id"])
    assert heard["text"].startswith(first["text"]) and len(first["text"]) > 10
    daemon.post("/v1/stop")


def test_nothing_selected_is_said_aloud(
    daemon: DaemonProcess, xserver: XServer, pulse: PulseServer
) -> None:
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        xserver.key("super+alt+a")
        started = events.wait_for(lambda e: e["type"] == "utterance_start")
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == started["id"])
    assert started["text"] == "Nothing is selected."
    assert sig.sound_duration(cap.samples(), RATE) > 0.5


def test_cli_selection_command_goes_through_the_daemon(
    daemon: DaemonProcess, xserver: XServer
) -> None:
    from support.cli import run_readaloud

    events = Events(daemon)
    env = {k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")}
    with xserver.own_selection("primary", SELECTED):
        result = run_readaloud("selection", env=env)
        assert result.code == 0, result.stderr
        started = events.wait_for(lambda e: e["type"] == "utterance_start")
    assert started["text"] == SELECTED
    daemon.post("/v1/stop")
