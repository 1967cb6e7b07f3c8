"""The screen-reader figures of ``readaloud bench``: what a blind user hears through Orca and
Speech Dispatcher, with readaloud as speechd's default module and, in the same run, espeak-ng
(the voice screen-reader users compare every other with).

* keystroke → first sound: a letter typed into a zenity entry, echoed by Orca;
* ``spd-say`` → first sound: a word never said before, from the start of the spd-say process;
* Say All: the longest pause between Orca's sentences, less the longest pause the daemon
  leaves between the same sentences read in one go (the silence Say All adds).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

import numpy as np

from readaloud.bench.harness import DaemonProcess, Events
from readaloud.bench.measure import (
    AUDIBLE,
    FIRST_SAMPLE,
    Recorder,
    first_above,
    last_above,
    summary,
    wait_until_quiet,
)
from readaloud.bench.screenreader import ESPEAK_NG, Orca, SpeechDispatcher
from readaloud.bench.soundserver import Capture
from readaloud.integrations.speechd.settings import Settings

#: Letters typed, one every ``KEY_GAP_S``.
LETTERS = "jkvxbnmqwertyuiop"
KEY_GAP_S = 0.6
#: Words spd-say says, each once (no cache can answer).
SPD_WORDS = ("Kettle", "Lantern", "Meadow", "Orchard", "Pebble", "Quarry", "Ribbon", "Saddle")
#: What Orca sends with its default settings (its debug log: "SD rate 2, pitch 10").
ORCA_VOICE = Settings(rate=2, pitch=10)
BOOK = (
    "The first sentence of the book is here.",
    "Then comes a second one, a little longer.",
    "And a third.",
    "The fourth sentence ends the page.",
)


def keystrokes(orca: Orca, recorder: Recorder, letters: str, gap_s: float = KEY_GAP_S) -> list:
    """Milliseconds from each key going down to the first sound after it (None: not heard
    within ``gap_s``). Each key is pressed ``gap_s`` after the last, once the echo before it
    has fallen silent."""
    pressed = []
    with recorder.capture() as cap:
        time.sleep(0.2)
        for letter in letters:
            _wait_for_silence(cap)
            pressed.append(orca.key(letter))
            time.sleep(max(0.0, pressed[-1] + gap_s - time.monotonic()))
    samples = cap.samples()
    return [_first_sound_ms(cap, samples, at, gap_s) for at in pressed]


def spd_say(env: dict[str, str], recorder: Recorder, words: Sequence[str]) -> list:
    """Milliseconds from starting ``spd-say WORD`` to its first sound."""
    heard = []
    for word in words:
        with recorder.capture() as cap:
            time.sleep(0.2)
            started = time.monotonic()
            subprocess.run(["spd-say", "-w", word], env=env, timeout=30, capture_output=True)
        heard.append(_first_sound_ms(cap, cap.samples(), started, 5.0))
        time.sleep(0.2)
    return heard


def say_all(orca: Orca, daemon: DaemonProcess, recorder: Recorder, path: str) -> dict:
    """Orca's Say All (keypad plus) over the text of ``BOOK`` in a zenity text view: what was
    spoken, whether each sentence was heard to the end, and the pauses."""
    with recorder.capture() as cap:
        orca.open(cap, "Book", "--text-info", "--filename", path)
    events = Events(daemon)
    with recorder.capture() as cap:
        uid = daemon.post(
            "/v1/speak",
            {"text": " ".join(BOOK), "rate": ORCA_VOICE.speed, "pitch": ORCA_VOICE.semitones},
        ).json()["id"]
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == uid)
    within = _longest_silence(cap.samples(), cap.rate)
    with recorder.capture() as cap:
        orca.key("ctrl+Home")
        time.sleep(0.5)
        began = time.monotonic()
        orca.key("KP_Add")
        last = events.wait_for(
            lambda e: (
                e["type"] == "utterance_start"
                and e["seen"] > began
                and e["text"].strip() == BOOK[-1]
            ),
            60,
        )
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == last["id"], 30)
    spoken = [
        e
        for e in events.items
        if e["type"] == "utterance_start" and e["seen"] > began and e["text"].strip() in BOOK
    ]
    ends = {e["id"]: e["completed"] for e in events.items if e["type"] == "utterance_end"}
    read = cap.samples()[max(0, cap.index_at(spoken[0]["seen"])) :]
    between = _longest_silence(read, cap.rate)
    return {
        "spoken": [e["text"].strip() for e in spoken],
        "completed": [ends.get(e["id"]) for e in spoken],
        "longest_pause_within_ms": round(within * 1000, 1),
        "longest_pause_between_ms": round(between * 1000, 1),
        "added_silence_ms": round((between - within) * 1000, 1),
    }


def run(daemon: DaemonProcess, recorder: Recorder, runs: int, book: str) -> dict:
    """Every figure, for readaloud and then for espeak-ng, in this run."""
    results: dict = {}
    for module in ("readaloud", ESPEAK_NG):
        with SpeechDispatcher(daemon.env, default=module) as speechd:
            events = Events(daemon)
            words = SPD_WORDS[: max(1, min(runs, len(SPD_WORDS)))]
            said = spd_say(speechd.env, recorder, words)
            orca = Orca(speechd.env)
            try:
                with recorder.capture() as cap:
                    orca.start(cap)
                    orca.open(cap, "Type here", "--entry", "--text", "Name")
                orca.key("a")  # the first key echo: the daemon makes its echo set
                time.sleep(0.5)
                assert daemon.process is not None
                wait_until_quiet(daemon.process.pid)
                typed = keystrokes(orca, recorder, LETTERS[: max(3, min(runs, len(LETTERS)))])
                figures = {
                    "keystroke_first_sound_ms": summary([ms for ms in typed if ms is not None]),
                    "keys_not_heard": sum(ms is None for ms in typed),
                    "spd_say_first_sound_ms": summary([ms for ms in said if ms is not None]),
                }
                if module == "readaloud":
                    # Of spd-say's time, what the engine took for the word's first chunk.
                    figures["spd_say_engine_first_chunk_ms"] = summary(
                        _engine_first_chunk_ms(events, words)
                    )
                    figures["say_all"] = say_all(orca, daemon, recorder, book)
            finally:
                orca.close()
        results[module if module == "readaloud" else "espeak_ng"] = figures
    ours, theirs = results["readaloud"], results["espeak_ng"]
    results["ratios"] = {
        f"{name}_vs_espeak_ng": _ratio(ours[name], theirs[name])
        for name in ("keystroke_first_sound_ms", "spd_say_first_sound_ms")
    }
    return results


def _engine_first_chunk_ms(events: Events, texts: Sequence[str]) -> list[float]:
    ids = {
        e["id"]
        for e in events.items
        if e["type"] == "utterance_start" and e["text"].strip() in texts
    }
    return [
        e["engine_first_chunk_ms"]
        for e in events.items
        if e["type"] == "utterance_timing" and e["id"] in ids
    ]


def _first_sound_ms(cap: Capture, samples: np.ndarray, at: float, within_s: float) -> float | None:
    start = max(0, cap.index_at(at))
    first = first_above(samples[: start + int(within_s * cap.rate)], FIRST_SAMPLE, start)
    return None if first is None else round((first - start) / cap.rate * 1000, 1)


def _wait_for_silence(cap: Capture, quiet_s: float = 0.1, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if last_above(cap.samples()[-int(quiet_s * cap.rate) :], FIRST_SAMPLE) is None:
            return
        time.sleep(0.01)


def _longest_silence(samples: np.ndarray, rate: int) -> float:
    """Seconds of the longest quiet stretch between the first and the last sound."""
    loud = np.flatnonzero(np.abs(samples) > AUDIBLE)
    if len(loud) < 2:
        return 0.0
    return float(np.diff(loud).max() - 1) / rate


def _ratio(ours: dict, theirs: dict) -> float | None:
    if not ours or not theirs or not theirs["median"]:
        return None
    return round(ours["median"] / theirs["median"], 2)
