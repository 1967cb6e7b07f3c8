"""Pages in Russian, Japanese and German through the daemon, heard at the sound server: with no
voice for the language the user hears one notice with the command to run, never the English
voice misreading the page; once the voice is downloaded, the page is read in it."""

from __future__ import annotations

import pytest
from support import signal as sig
from support.cli import run_readaloud
from support.daemon import DaemonProcess, Events
from support.pages import FOREIGN_PAGES, PageServer
from support.pulse import PulseServer
from support.voice_repo import VoiceRepo

pytestmark = pytest.mark.sound

RATE = 22050


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer, voice_repo: VoiceRepo, tmp_path_factory: pytest.TempPathFactory):
    voices = tmp_path_factory.mktemp("voices")
    config = f'[voices]\npiper_url = "{voice_repo.url}"\n\n[piper]\nvoices_dir = "{voices}"\n'
    process = DaemonProcess(pulse.env, config_text=config)
    process.start()
    yield process
    process.close()


def hear_page(daemon: DaemonProcess, pulse: PulseServer, url: str) -> tuple[float, list[dict]]:
    """Seconds of sound heard for the page, and its events."""
    events = Events(daemon)
    with pulse.capture(RATE) as cap:
        answer = daemon.post("/v1/speak", {"url": url, "from_start": True})
        assert answer.status_code == 202, answer.text
        uid = answer.json()["id"]
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid, timeout=120)
    mine = [e for e in events.items if e.get("id") == uid]
    return sig.sound_duration(cap.samples(), RATE), mine


@pytest.mark.parametrize(("language", "name"), [("ru", "Russian"), ("ja", "Japanese")])
def test_a_page_in_a_language_with_no_voice_is_told_not_misread(
    daemon: DaemonProcess, pulse: PulseServer, pages: PageServer, language: str, name: str
) -> None:
    heard, events = hear_page(daemon, pulse, pages.url(f"/news/{language}"))
    notices = [e for e in events if e["type"] == "error"]
    assert [e["code"] for e in notices] == ["missing_voice"], events  # once, not per sentence
    assert notices[0]["message"] == (
        f"No {name} voice is installed. Run: readaloud voice download {language}. "
        f"The {name} sentences are skipped."
    )
    # The notice alone (4-8 s here), not the English voice spelling out a page (36-45 s).
    assert 2.5 < heard < 12.0, heard
    ended = [e for e in events if e["type"] == "utterance_end"]
    assert ended and ended[0]["completed"]


def test_after_the_download_the_page_is_read_in_its_language(
    daemon: DaemonProcess, pulse: PulseServer, pages: PageServer
) -> None:
    url = pages.url("/news/de")
    before, events = hear_page(daemon, pulse, url)
    assert [e["code"] for e in events if e["type"] == "error"] == ["missing_voice"]
    env = {
        "XDG_CONFIG_HOME": str(daemon.config_home),
        "XDG_RUNTIME_DIR": str(daemon.runtime),
        "XDG_CACHE_HOME": str(daemon.home / "cache"),
    }
    download = run_readaloud("voice", "download", "de", env=env, timeout=300)
    assert download.code == 0, download.stderr
    after, events = hear_page(daemon, pulse, url)  # the running daemon sees the new voice
    assert not [e for e in events if e["type"] == "error"]
    segments = [e for e in events if e["type"] == "segment_start"]
    title, paragraphs = FOREIGN_PAGES["de"]
    assert " ".join(s["text"] for s in segments) == " ".join([title, *paragraphs])
    assert {s["language"] for s in segments} == {"de"}
    assert after > 8.0 and after > 1.5 * before, (before, after)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", 9.0, "temperature 9 is out of range; use 0.01 to 2"),
        ("top_k", 0, "top_k 0 is out of range"),
        ("volume", 2.5, "less than or equal to 2"),
    ],
)
def test_bad_voice_settings_are_refused_and_the_queue_goes_on(
    daemon: DaemonProcess, field: str, value: float, message: str
) -> None:
    events = Events(daemon)
    queued = daemon.post(
        "/v1/speak", {"text": "One long sentence that keeps on going for a while."}
    )
    assert queued.status_code == 202, queued.text
    answer = daemon.post("/v1/speak", {"text": "Hello there.", field: value, "mode": "queue"})
    assert 400 <= answer.status_code < 500, answer.text
    assert message in answer.json()["error"]["message"]
    uid = queued.json()["id"]
    events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid, timeout=60)
    assert [e for e in events.items if e["type"] == "utterance_end"][0]["completed"]


def test_the_cli_refuses_a_bad_temperature_in_one_line() -> None:
    result = run_readaloud("say", "--local", "--temperature", "9", "Hello.")
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "temperature 9 is out of range" in result.stderr


def test_the_running_daemon_uses_a_voices_own_volume(
    daemon: DaemonProcess, pulse: PulseServer
) -> None:
    sentence = "The foghorn still sounds each evening at six."

    def loudness() -> float:
        events = Events(daemon)
        with pulse.capture(RATE) as cap:
            uid = daemon.post("/v1/speak", {"text": sentence}).json()["id"]
            events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
        samples = cap.samples()
        loud = samples[abs(samples) > 0.01]
        return float((loud.astype("float64") ** 2).mean() ** 0.5)

    env = {"XDG_CONFIG_HOME": str(daemon.config_home), "XDG_RUNTIME_DIR": str(daemon.runtime)}
    plain = loudness()
    try:
        assert run_readaloud("voice", "set", "en_US-joe-medium", "volume=0.4", env=env).code == 0
        quiet = loudness()
    finally:
        run_readaloud("voice", "set", "en_US-joe-medium", "volume=", env=env)
    assert quiet < 0.6 * plain, (quiet, plain)
