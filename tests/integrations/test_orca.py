"""Real Orca on a real desktop: Orca 43 on Xvfb with at-spi, a zenity dialog, keystrokes by
xdotool, a real speech-dispatcher whose default module is readaloud, a real daemon, and what a
blind user hears at PulseAudio's monitor."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import signal as sig
from support.daemon import DaemonProcess, Events
from support.pulse import PulseServer

from readaloud.bench.measure import Recorder, wait_until_quiet
from readaloud.bench.screenreader import Orca, SpeechDispatcher, missing_packages
from readaloud.bench.screenreading import BOOK, keystrokes, say_all
from readaloud.bench.soundserver import SINK

RATE = 22050
LATENCIES: dict[str, float] = {}


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[DaemonProcess]:
    missing = missing_packages()
    if missing:
        pytest.fail(f"the Orca tests need: apt-get install {' '.join(missing)}")
    process = DaemonProcess(pulse.env)
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def orca(daemon: DaemonProcess, pulse: PulseServer) -> Iterator[Orca]:
    with SpeechDispatcher(daemon.env) as speechd:
        reader = Orca(speechd.env)
        try:
            with pulse.capture(RATE) as cap:
                reader.start(cap)
            yield reader
        finally:
            reader.close()


@pytest.fixture(scope="module")
def entry(orca: Orca, daemon: DaemonProcess, pulse: PulseServer) -> Orca:
    """A zenity entry with the focus, the key echo set made (after a first key, as a user's
    first key makes it)."""
    with pulse.capture(RATE) as cap:
        orca.open(cap, "Type here", "--entry", "--text", "Name")
        orca.key("a")
        time.sleep(0.5)
    assert daemon.process is not None
    assert wait_until_quiet(daemon.process.pid), "the daemon kept working"
    return orca


def _spoken(events: Events, since: float) -> list[dict]:
    return [e for e in events.items if e["type"] == "utterance_start" and e["seen"] > since]


def test_every_key_typed_in_an_entry_is_echoed_at_once(
    entry: Orca, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)
    letters = "jkvxbnm"
    began = time.monotonic()
    heard_ms = keystrokes(entry, Recorder(pulse, f"{SINK}.monitor", RATE), letters)
    assert [e["text"].strip() for e in _spoken(events, began)] == list(letters)
    assert None not in heard_ms, f"keys never heard: {heard_ms}"
    LATENCIES["Orca: keystroke → first sound (ms, median)"] = statistics.median(heard_ms)
    print("keystroke → first sound (ms):", heard_ms)
    # The benchmark measures the target (50 ms); an echo this late is heard as lag.
    assert statistics.median(heard_ms) < 150, heard_ms


def test_typing_at_8_keys_a_second_every_letter_is_heard(
    entry: Orca, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    """Each key interrupts the echo of the one before: it must have started to sound by then."""
    events = Events(daemon)
    letters = "qwertyu"
    pressed = []
    began = time.monotonic()
    for letter in letters:
        pressed.append(entry.key(letter))
        time.sleep(max(0.0, pressed[-1] + 0.125 - time.monotonic()))
    time.sleep(1.0)
    spoken = _spoken(events, began)
    assert [e["text"].strip() for e in spoken] == list(letters)
    heard = {e["id"]: e["seen"] for e in reversed(events.items) if e["type"] == "segment_start"}
    late = [
        (letter, round((heard[e["id"]] - at) * 1000) if e["id"] in heard else None)
        for letter, at, e in zip(letters, pressed, spoken, strict=True)
    ]
    assert all(ms is not None and ms < 125 for _, ms in late), late


def test_a_capital_letter_is_heard_higher(
    entry: Orca, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    """Orca raises the pitch for capitals (SET pitch 50 against 10)."""
    events = Events(daemon)
    pitch = {}
    for keys, letter in (("shift+b", "B"), ("b", "b")):
        began = time.monotonic()
        with pulse.capture(RATE) as cap:
            time.sleep(0.1)
            entry.key(keys)
            time.sleep(0.8)
        said = next(e for e in _spoken(events, began) if e["text"].strip() == letter)
        samples = cap.samples()[max(0, cap.index_at(said["seen"])) :]
        first, last = sig.first_sound_index(samples), sig.last_sound_index(samples)
        assert first is not None and last is not None, f"{letter!r} was not heard"
        pitch[letter] = sig.fundamental_hz(samples[first:last], RATE)
    # 4.8 semitones up: × 1.32.
    assert 1.15 < pitch["B"] / pitch["b"] < 1.6, pitch


def test_say_all_reads_every_sentence_without_added_silence(
    orca: Orca, daemon: DaemonProcess, pulse: PulseServer, tmp_path: Path
) -> None:
    """Orca's Say All (keypad plus) sends one sentence at a time, the next after 702 END."""
    book = tmp_path / "book.txt"
    book.write_text(" ".join(BOOK) + "\n")
    read = say_all(orca, daemon, Recorder(pulse, f"{SINK}.monitor", RATE), str(book))
    assert read["spoken"] == list(BOOK)
    assert read["completed"] == [True] * len(BOOK), "a sentence was cut short"
    LATENCIES["Orca Say All: longest pause between sentences − within one (ms)"] = read[
        "added_silence_ms"
    ]
    # The target, 50 ms, is a printed figure (a loaded machine measured 61.8 ms once); what is
    # asserted is what waiting for each message's end before making the next one costs: about
    # 250 ms per sentence before they were played back to back.
    assert read["added_silence_ms"] < 150, read
