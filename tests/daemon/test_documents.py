"""Documents through the daemon: `readaloud read FILE` is heard while the rest of the book waits
unread, stopping keeps the place, `readaloud resume` goes on from the sentence that was being
heard (also after a restart, and in this process), and files are opened only for the local
socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import signal as sig
from support.cli import run_readaloud
from support.daemon import DaemonProcess, Events
from support.documents import book, groff_pdf, numbers_in, pandoc
from support.pages import ARTICLE_TITLE, PageServer
from support.pulse import PulseServer

RATE = 22050
BOOK = book(chapters=3, paragraphs=8)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("read")
    return {
        "pdf": groff_pdf(folder / "book.pdf", BOOK),
        "epub": pandoc(folder / "book.epub", BOOK),
    }


@pytest.fixture(autouse=True)
def quiet_after(request):
    yield
    if "daemon" in request.fixturenames:
        request.getfixturevalue("daemon").post("/v1/stop")


def cli_env(daemon: DaemonProcess) -> dict[str, str]:
    return {k: daemon.env[k] for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME")}


def starts(events: Events, uid: str) -> list[dict]:
    return [e for e in events.items if e["type"] == "segment_start" and e["id"] == uid]


def latest_uid(events: Events) -> str:
    event = events.wait_for(lambda e: e["type"] == "utterance_start")
    return event["id"]


def test_read_a_pdf_then_resume_where_it_stopped(
    daemon: DaemonProcess, pulse: PulseServer, files
) -> None:
    env = cli_env(daemon)
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        result = run_readaloud("read", str(files["pdf"]), "--rate", "2", env=env)
        assert result.code == 0, result.stderr
        uid = latest_uid(events)
        events.wait_for(
            lambda e: e["type"] == "segment_start" and e["id"] == uid and e["index"] == 5
        )
        heard = starts(events, uid)[-1]
        stopped = run_readaloud("stop", env=env)
        assert stopped.code == 0
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    assert sig.sound_duration(cap.samples(), RATE) > 2.0
    first = starts(events, uid)
    assert [s["text"] for s in first[:2]] == ["Harbour Notes", "Ann Author"]

    listed = run_readaloud("bookmarks", env=env)
    assert listed.code == 0
    assert str(files["pdf"]) in listed.stdout and "Harbour Notes" in listed.stdout
    assert heard["text"].split()[0] in listed.stdout

    events = Events(daemon)
    resumed = run_readaloud("resume", env=env)
    assert resumed.code == 0, resumed.stderr
    uid = latest_uid(events)
    again = events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    # The sentence that was being heard, from its start (its first words a quick fragment).
    assert heard["text"].startswith(again["text"]) and len(again["text"]) > 10
    run_readaloud("stop", env=env)
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)

    # --from-start ignores the place; the place is still kept for the next time.
    events = Events(daemon)
    assert run_readaloud("read", str(files["pdf"]), "--from-start", env=env).code == 0
    uid = latest_uid(events)
    assert (
        events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)["text"]
        == "Harbour Notes"
    )


def test_a_chapter_through_the_daemon_and_the_place_survives_a_restart(
    daemon: DaemonProcess, pulse: PulseServer, files
) -> None:
    env = cli_env(daemon)
    events = Events(daemon)
    assert run_readaloud("read", str(files["epub"]), "--chapter", "3", env=env).code == 0
    uid = latest_uid(events)
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid and e["index"] == 2)
    heard = starts(events, uid)[-1]
    assert starts(events, uid)[0]["text"] == BOOK.chapters[2][0]
    daemon.post("/v1/stop")
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)

    # Another daemon with the same state folder (a restart) goes on from there.
    second = DaemonProcess(pulse.env | {"XDG_STATE_HOME": daemon.env["XDG_STATE_HOME"]})
    daemon.post("/v1/stop")
    second.start()
    try:
        events = Events(second)
        result = second.unix.post("/v1/speak", json={"file": str(files["epub"])})
        assert result.status_code == 202, result.text
        uid = result.json()["id"]
        again = events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
        assert heard["text"].startswith(again["text"]) and len(again["text"]) > 10
        second.post("/v1/stop")
    finally:
        second.close()


def test_a_web_page_goes_on_where_it_stopped(daemon: DaemonProcess, pages: PageServer) -> None:
    env = cli_env(daemon)
    url = pages.url("/article")
    events = Events(daemon)
    assert run_readaloud("read", url, "--rate", "2", env=env).code == 0
    uid = latest_uid(events)
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid and e["index"] == 3)
    heard = starts(events, uid)[-1]
    assert starts(events, uid)[0]["text"] == ARTICLE_TITLE
    daemon.post("/v1/stop")
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    assert url in run_readaloud("bookmarks", env=env).stdout
    events = Events(daemon)
    assert run_readaloud("read", url, env=env).code == 0  # the same page, unchanged
    uid = latest_uid(events)
    again = events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    assert heard["text"].startswith(again["text"]) and again["text"] != ARTICLE_TITLE
    daemon.post("/v1/stop")
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    events = Events(daemon)
    assert run_readaloud("read", url, "--from-start", env=env).code == 0
    uid = latest_uid(events)
    first = events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    assert first["text"] == ARTICLE_TITLE
    daemon.post("/v1/stop")


def test_files_are_opened_only_for_the_local_socket(daemon: DaemonProcess, files) -> None:
    events = Events(daemon)
    playing = daemon.post("/v1/speak", {"text": "This sentence keeps playing meanwhile. " * 4})
    uid = playing.json()["id"]
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    answer = daemon.post("/v1/speak", {"file": str(files["pdf"])})  # TCP, with the token
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == (
        "Files are opened only when asked over the daemon's socket."
    )
    bad = daemon.unix.post("/v1/speak", json={"file": "book.pdf", "mode": "queue"})
    assert bad.status_code == 400
    assert "not an absolute path" in bad.json()["error"]["message"]
    status = daemon.get("/v1/status").json()
    assert status["utterance"] == uid, status  # still speaking


def test_a_bad_document_is_refused_and_what_plays_goes_on(
    daemon: DaemonProcess, files, tmp_path
) -> None:
    env = cli_env(daemon)
    events = Events(daemon)
    uid = daemon.post("/v1/speak", {"text": "This sentence keeps playing meanwhile. " * 4}).json()[
        "id"
    ]
    events.wait_for(lambda e: e["type"] == "segment_start" and e["id"] == uid)
    locked = tmp_path / "locked.pdf"
    subprocess.run(
        ["qpdf", "--encrypt", "pw", "pw", "256", "--", str(files["pdf"]), str(locked)], check=True
    )
    result = run_readaloud("read", str(locked), "--queue", env=env)
    assert result.code == 2
    assert result.stderr.strip() == (
        f"readaloud: {locked} is protected by a password. Give it with --password."
    )
    assert daemon.get("/v1/status").json()["utterance"] == uid
    opened = run_readaloud("read", str(locked), "--password", "pw", "--queue", env=env)
    assert opened.code == 0, opened.stderr


@pytest.mark.sound
def test_in_this_process_ctrl_c_keeps_the_place(files, tmp_path) -> None:
    env = {
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    # A sound server of its own: what it records is this reading and nothing else (in full
    # runs on the shared one, "4 s heard" twice came while the heading was being read).
    with PulseServer() as own, own.capture(RATE) as cap:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "readaloud",
                "read",
                "--local",
                str(files["pdf"]),
                "--rate",
                "2",
            ],
            env={**os.environ, **own.env, **env},
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sig.sound_duration(cap.samples(), RATE) < 4.0:
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    marks = json.loads((tmp_path / "state" / "readaloud" / "bookmarks.json").read_text())
    [mark] = marks["bookmarks"]
    assert mark["path"] == str(files["pdf"]) and mark["part"] == 0 and mark["offset"] > 0
    assert mark["title"] == "Harbour Notes"
    listed = run_readaloud("bookmarks", env=env)
    assert mark["words"] in listed.stdout
    # The place is the start of the sentence being heard, well past the title.
    text = " ".join(run_readaloud("text", str(files["pdf"]), "--from-start").stdout.split())
    assert numbers_in(mark["words"][:12]) and mark["words"][:40] in text
