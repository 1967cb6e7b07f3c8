"""The Speech Dispatcher output module: sd_readaloud driven line by line as speechd drives it,
then the real speech-dispatcher and spd-say, against a real daemon, heard at PulseAudio's
monitor."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from support import signal as sig
from support.cli import run_readaloud
from support.daemon import DaemonProcess, Events
from support.pulse import PulseServer

from readaloud.bench.measure import wait_until_quiet
from readaloud.bench.screenreader import SpeechDispatcher
from readaloud.integrations.speechd import install as speechd_install
from readaloud.integrations.speechd.marks import MarkTimeline
from readaloud.integrations.speechd.settings import Settings, speechd_rate
from readaloud.integrations.speechd.ssml import Mark, parse, resent_from
from readaloud.text.keys import char_words, key_words

RATE = 22050
SD_READALOUD = Path(sys.executable).parent / "sd_readaloud"
LONG = " ".join(f"Sentence {n} of a long text for the screen reader." for n in range(1, 30))
LATENCIES: dict[str, float] = {}


# -- helpers ---------------------------------------------------------------------------------


class ModuleProcess:
    """sd_readaloud run the way speechd runs it: commands in on stdin, lines out on stdout."""

    def __init__(self, env: dict[str, str], config: Path | None = None) -> None:
        if not SD_READALOUD.exists():
            pytest.fail(f"{SD_READALOUD} is missing: run scripts/setup.sh (pip install -e .)")
        self.process = subprocess.Popen(
            [str(SD_READALOUD), *([str(config)] if config else [])],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[tuple[float, str]] = []  # (monotonic time, line) as they came
        self.log: list[str] = []
        self._next = 0
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_log, daemon=True).start()

    def send(self, *lines: str) -> float:
        """Write ``lines``; returns the time just before (measurements start there)."""
        assert self.process.stdin is not None
        data = "".join(f"{line}\n" for line in lines).encode()
        sent = time.monotonic()
        self.process.stdin.write(data)
        self.process.stdin.flush()
        return sent

    def next_line(self, timeout: float = 10.0) -> tuple[float, str]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.lines) > self._next, timeout):
                raise AssertionError(
                    f"no line from sd_readaloud within {timeout} s; got {self.lines[self._next :]}"
                    f"\nits log:\n" + "\n".join(self.log)
                )
            self._next += 1
            return self.lines[self._next - 1]

    def reply(self, timeout: float = 10.0) -> list[str]:
        """One reply: lines up to the one without '-' after the code."""
        lines = []
        while True:
            line = self.next_line(timeout)[1]
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def command(self, *lines: str) -> list[str]:
        self.send(*lines)
        return self.reply()

    def init(self) -> list[str]:
        reply = self.command("INIT")
        assert reply[-1] == "299 OK LOADED SUCCESSFULLY", reply
        assert self.command("AUDIO") == ["207 OK RECEIVING AUDIO SETTINGS"]
        assert self.command("audio_output_method=pulse", ".") == ["203 OK AUDIO INITIALIZED"]
        self.set(rate=0, language="en", synthesis_voice="NULL")
        return reply

    def set(self, **values: object) -> None:
        assert self.command("SET") == ["207 OK RECEIVING SETTINGS"]
        lines = [f"{name}={value}" for name, value in values.items()]
        assert self.command(*lines, ".") == ["203 OK SETTINGS RECEIVED"]

    def speak(self, text: str, kind: str = "SPEAK") -> float:
        """Send a message; returns when it was sent (after 200 OK SPEAKING came back)."""
        assert self.command(kind) == ["202 OK RECEIVING MESSAGE"]
        # As speechd does: a line starting with "." gets one more (a lone "." ends the data).
        lines = ["." + line if line.startswith(".") else line for line in text.split("\n")]
        sent = self.send(*lines, ".")
        assert self.reply() == ["200 OK SPEAKING"]
        return sent

    def events_until(self, last: tuple[str, ...], timeout: float = 30.0) -> list[tuple[float, str]]:
        events = []
        while True:
            at, line = self.next_line(timeout)
            events.append((at, line))
            if line in last:
                return events

    def close(self) -> int:
        if self.process.poll() is None:
            try:
                self.send("QUIT")
                self.process.wait(5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._arrived:
                self.lines.append((time.monotonic(), raw.decode().removesuffix("\n")))
                self._arrived.notify_all()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.log.append(raw.decode(errors="replace").rstrip())


def heard_from(cap, when: float) -> float | None:
    """Seconds from ``when`` to the first sound heard after it (None: nothing heard)."""
    start = max(0, cap.index_at(when))
    first = sig.first_sound_index(cap.samples()[start:])
    return None if first is None else first / RATE


def wait_for_sound(cap, seconds: float, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sig.sound_duration(cap.samples(), RATE) < seconds:
        assert time.monotonic() < deadline, "nothing was heard"
        time.sleep(0.01)


def private_env(base: dict[str, str], home: Path) -> dict[str, str]:
    """A HOME and XDG folders of its own, so nothing of the real user's is read or written."""
    return {
        **base,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer) -> Iterator[DaemonProcess]:
    process = DaemonProcess(pulse.env)
    process.start()
    process.post("/v1/speak", {"text": "Warm up."})  # the first request after start is cold
    process.wait_state("idle", 30)
    yield process
    process.close()


@pytest.fixture
def module(daemon: DaemonProcess) -> Iterator[ModuleProcess]:
    process = ModuleProcess(daemon.env)
    yield process
    process.close()
    daemon.post("/v1/stop", {})


@pytest.fixture
def ready(module: ModuleProcess) -> ModuleProcess:
    module.init()
    return module


# -- the protocol, line by line --------------------------------------------------------------


def test_init_settings_voices_and_quit(module: ModuleProcess, daemon: DaemonProcess) -> None:
    reply = module.command("INIT")
    assert reply[-1] == "299 OK LOADED SUCCESSFULLY"
    assert "readaloud daemon" in reply[0] and reply[0].startswith("299-")
    # speechd first offers to play the audio itself: refused, then the classic settings.
    assert module.command("AUDIO") == ["207 OK RECEIVING AUDIO SETTINGS"]
    assert module.command("audio_output_method=server", ".") == [
        "303 ERROR INVALID PARAMETER OR VALUE"
    ]
    assert module.command("AUDIO") == ["207 OK RECEIVING AUDIO SETTINGS"]
    assert module.command("audio_output_method=pulse", "audio_pulse_device=default", ".") == [
        "203 OK AUDIO INITIALIZED"
    ]
    assert module.command("LOGLEVEL") == ["207 OK RECEIVING SETTINGS"]
    assert module.command("log_level=3", ".") == ["203 OK LOGLEVEL SET"]
    assert module.command("SET") == ["207 OK RECEIVING SETTINGS"]
    speechd_settings = [
        *("pitch=0", "pitch_range=0", "rate=20", "volume=100", "punctuation_mode=none"),
        *("spelling_mode=off", "cap_let_recogn=none", "voice=male1", "language=c"),
        "synthesis_voice=NULL",
    ]
    assert module.command(*speechd_settings, ".") == ["203 OK SETTINGS RECEIVED"]
    assert module.command("SET") == ["207 OK RECEIVING SETTINGS"]
    assert module.command("rate=fast", ".") == ["303 ERROR INVALID PARAMETER OR VALUE"]
    assert module.command("LIST VOICES") == [
        "200-en_US-joe-medium\ten\tnone",
        "200 OK VOICE LIST SENT",
    ]
    assert module.command("HELLO") == ["300 ERR UNKNOWN COMMAND"]
    module.send("STOP")  # nothing plays: no answer, no event
    assert module.command("QUIT") == ["210 OK QUIT"]
    assert module.process.wait(5) == 0


def test_speak_ssml_reports_begin_marks_in_step_with_playback_then_end(
    ready: ModuleProcess, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)
    ssml = (
        '<speak><mark name="m0"/>Hello &amp; welcome.<mark name="__spd_0"/> '
        'This is the second <mark name="m1"/>sentence, and it is longer than the first one.'
        '<mark name="__spd_1"/> Third.<mark name="end"/></speak>'
    )
    with pulse.capture(RATE) as cap:
        sent = ready.speak(ssml)
        lines = ready.events_until(("702 END", "703 STOP"))
    names = [line[4:] for _, line in lines if line.startswith("700-")]
    assert [line for _, line in lines if not line.startswith("700")] == ["701 BEGIN", "702 END"]
    assert names == ["m0", "__spd_0", "m1", "__spd_1", "end"]
    assert sum(1 for _, line in lines if line == "700 INDEX MARK") == 5
    text = "Hello & welcome. This is the second sentence, and it is longer than the first one. "
    started = events.wait_for(lambda e: e["type"] == "utterance_start")
    assert started["text"] == text + "Third. "
    # BEGIN comes when the first sound is heard, not when the request was sent.
    begin = next(at for at, line in lines if line == "701 BEGIN")
    first_heard = heard_from(cap, sent)
    assert first_heard is not None
    assert abs((sent + first_heard) - begin) < 0.15, (first_heard, begin - sent)
    LATENCIES["SPEAK → first audio (ms)"] = first_heard * 1000
    # Marks are never early: each comes after the segment holding it began to be heard.
    segments = [e for e in events.items if e["type"] == "segment_start"]
    at = {line[4:]: t for t, line in lines if line.startswith("700-")}
    for name, offset in (("__spd_0", text.index("This")), ("m1", text.index("sentence"))):
        segment = next(s for s in segments if s["start"] <= offset < s["end"])
        assert at[name] >= segment["seen"] - 0.02, (name, segment)
    assert sig.sound_duration(cap.samples(), RATE) > 3.0


def test_orca_word_marks_are_reported_as_each_word_is_heard(
    ready: ModuleProcess, daemon: DaemonProcess
) -> None:
    """Orca puts a mark before every word and follows them in Say All (the caret, and where
    speech goes on after an interruption): each comes with the daemon's event for its word."""
    events = Events(daemon)
    words = _offsets(re.findall(r"\S+", "After a long pause, the second one comes with more."))
    names = [f"{offset}:{offset + len(word)}" for offset, word in words]
    ready.speak(
        "<speak>" + "".join(f'<mark name="{o}:{o + len(w)}"/>{w} ' for o, w in words) + "</speak>"
    )
    lines = ready.events_until(("702 END",))
    marks = {line[4:]: at for at, line in lines if line.startswith("700-")}
    assert list(marks) == names
    heard = [next(e["seen"] for e in events.items if e.get("start") == o and e["type"] == "word")
             for o, _ in words]  # fmt: skip
    late = [(marks[name] - at) * 1000 for name, at in zip(names, heard, strict=True)]
    LATENCIES["word heard → its index mark (ms, median)"] = statistics.median(late)
    assert all(ms < 60 for ms in late), late  # never late...
    # ...and never before the word in front of it was heard (a mark in the pause between two
    # sentences or at a comma is reached as the pause starts).
    assert all(marks[name] > at - 0.02 for name, at in zip(names[1:], heard, strict=False))
    assert statistics.median(abs(ms) for ms in late) < 15, late


def _offsets(words: list[str]) -> list[tuple[int, str]]:
    offsets, at = [], 0
    for word in words:
        offsets.append((at, word))
        at += len(word) + 1
    return offsets


def test_stop_silences_within_50_ms_and_reports_stop(
    ready: ModuleProcess, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    silent_after, reported_after = [], []
    for _ in range(3):  # the median: one slow wake-up on a loaded machine is not the rule
        with pulse.capture(RATE) as cap:
            ready.speak(LONG)
            assert ready.next_line()[1] == "701 BEGIN"
            wait_for_sound(cap, 1.0)
            asked = ready.send("STOP")
            lines = ready.events_until(("703 STOP", "702 END"), timeout=5)
            time.sleep(0.3)
        assert lines[-1][1] == "703 STOP"
        reported_after.append((lines[-1][0] - asked) * 1000)
        silent_after.append((cap.time_at(sig.last_sound_index(cap.samples())) - asked) * 1000)
        assert daemon.wait_state("idle", 5)["state"] == "idle"
    LATENCIES["STOP → 703 STOP (ms, median of 3)"] = sorted(reported_after)[1]
    LATENCIES["STOP → silence at the monitor (ms, median of 3)"] = sorted(silent_after)[1]
    assert sorted(silent_after)[1] < 50, silent_after
    assert max(silent_after) < 250, silent_after
    # speechd's next message is spoken as usual.
    ready.speak("Next.")
    assert [line for _, line in ready.events_until(("702 END",))] == ["701 BEGIN", "702 END"]


def test_pause_stops_at_once_and_reports_pause(ready: ModuleProcess, pulse: PulseServer) -> None:
    with pulse.capture(RATE) as cap:
        ready.speak(LONG)
        assert ready.next_line()[1] == "701 BEGIN"
        wait_for_sound(cap, 1.0)
        asked = ready.send("PAUSE")
        lines = ready.events_until(("704 PAUSE",), timeout=5)
        time.sleep(0.3)
    assert all(line == "700 INDEX MARK" or line.startswith("700-") for _, line in lines[:-1])
    assert (cap.time_at(sig.last_sound_index(cap.samples())) - asked) * 1000 < 50


def test_char_and_key_are_spoken_at_once(
    ready: ModuleProcess, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)
    ready.speak("Warm.")  # the first message after start may pay for cold caches
    ready.events_until(("702 END",))
    rounds = []
    for kind, data, said in (
        ("CHAR", "a", "a"),
        ("CHAR", ".", "dot"),
        ("KEY", "shift_L", "left shift"),
        ("KEY", "Return", "return"),
        ("KEY", "control_alt_delete", "control alt delete"),
        ("CHAR", "space", "space"),
    ):
        with pulse.capture(RATE) as cap:
            time.sleep(0.05)
            sent = ready.speak(data, kind)
            lines = ready.events_until(("702 END", "703 STOP"), timeout=10)
        assert [line for _, line in lines] == ["701 BEGIN", "702 END"], (kind, data)
        spoken = events.wait_for(
            lambda e, s=said: e["type"] == "utterance_start" and e["text"] == s
        )
        assert spoken["text"] == said
        heard = heard_from(cap, sent)
        assert heard is not None, (kind, data)
        rounds.append((kind, data, (lines[0][0] - sent) * 1000, heard * 1000))
    for kind, data, begin_ms, heard_ms in rounds:
        print(f"{kind} {data!r}: SPEAK → BEGIN {begin_ms:.0f} ms, → first audio {heard_ms:.0f} ms")
    char_heard = [heard for kind, _, _, heard in rounds if kind == "CHAR"]
    LATENCIES["CHAR → BEGIN (ms, median)"] = sorted(b for k, _, b, _ in rounds if k == "CHAR")[1]
    LATENCIES["CHAR → first audio (ms, median)"] = sorted(char_heard)[1]
    # Key echo must keep up with typing; generous for a loaded 2-core test machine.
    assert max(char_heard) < 600, rounds


def test_typing_at_8_keys_a_second_every_letter_is_heard_before_the_next_key(
    ready: ModuleProcess, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    """The first key echo shows the voice settings; the daemon then makes the key echo set in
    the background, and letters never said before are heard as quickly as repeats."""
    events = Events(daemon)
    ready.speak("a", "CHAR")  # the first key echo: the daemon makes the set for its settings
    ready.events_until(("702 END",))
    assert daemon.process is not None
    assert wait_until_quiet(daemon.process.pid), "the daemon kept working"
    letters = "jkvxbnm"
    sent = []

    def until(reply: str) -> None:  # the events of the letter before may come in between
        while ready.next_line()[1] != reply:
            pass

    with pulse.capture(RATE) as cap:
        for letter in letters:
            ready.send("STOP", "CHAR")  # as speechd does when a key interrupts the last one
            until("202 OK RECEIVING MESSAGE")
            sent.append(ready.send(letter, "."))
            until("200 OK SPEAKING")
            time.sleep(max(0.0, sent[-1] + 0.125 - time.monotonic()))  # 8 keys a second
        ready.events_until(("702 END",), timeout=10)
        time.sleep(0.2)
    started = {e["id"]: e["text"] for e in events.items if e["type"] == "utterance_start"}
    heard = {started.get(e["id"]): e["seen"] for e in events.items if e["type"] == "segment_start"}
    delays = [
        (heard[c] - at) * 1000 if c in heard else None for c, at in zip(letters, sent, strict=True)
    ]
    LATENCIES["new letter at 8 keys/s → heard (ms, median)"] = sorted(
        d for d in delays if d is not None
    )[len(letters) // 2]
    assert all(d is not None and d < 125 for d in delays), delays  # before the next key
    # The daemon reports a letter when the device plays its first sample; each letter but the
    # first starts while the one before still sounds, so only the first onset shows apart.
    first = heard_from(cap, sent[0])
    assert first is not None and first < 0.125, first
    assert sig.sound_duration(cap.samples(), RATE) > 0.1 * len(letters)


def test_capital_letter_modes_spell_and_icon(
    ready: ModuleProcess, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    """speechd's cap_let_recogn: spell says "capital", icon clicks before the letter."""
    events = Events(daemon)
    onsets = {}
    for mode in ("none", "icon", "spell"):
        ready.set(cap_let_recogn=mode)
        with pulse.capture(RATE) as cap:
            time.sleep(0.05)
            ready.speak("A", "CHAR")
            ready.events_until(("702 END",), timeout=10)
        samples = cap.samples()
        first = sig.first_sound_index(samples)
        assert first is not None, mode
        onsets[mode] = sig.dominant_frequency(samples[first : first + int(0.012 * RATE)], RATE)
    ready.set(cap_let_recogn="none")
    said = [e["text"] for e in events.items if e["type"] == "utterance_start"]
    assert said == ["A", "A", "capital A"]
    assert onsets["icon"] == pytest.approx(2000, abs=150), onsets  # the click comes first
    assert abs(onsets["none"] - 2000) > 150, onsets


def test_symbol_keys_are_named_aloud(
    ready: ModuleProcess, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)
    for symbol in "¡¢£§©«±×÷":
        with pulse.capture(RATE) as cap:
            ready.speak(symbol, "KEY")
            ready.events_until(("702 END",), timeout=10)
        said = char_words(symbol)
        spoken = events.wait_for(
            lambda e, s=said: e["type"] == "utterance_start" and e["text"] == s
        )
        assert spoken["text"] == said != symbol
        assert sig.sound_duration(cap.samples(), RATE) > 0.2, (symbol, said)


def test_say_all_adds_no_silence_between_messages(ready: ModuleProcess, pulse: PulseServer) -> None:
    """Orca's Say All sends one sentence per message and the next only after 702 END: END comes
    as the last sound is heard, so the next sentence is made during the closing pause."""
    sentences = [
        "The first sentence of the page is here, and it is long.",
        "Then a second sentence follows it, just as long as that.",
        "And a third sentence ends the page, with a few more words.",
    ]
    with pulse.capture(RATE) as cap:
        ready.speak(" ".join(sentences))
        ready.events_until(("702 END",))
        time.sleep(0.3)
    within = sig.longest_silence(cap.samples(), RATE)
    ends = []
    with pulse.capture(RATE) as cap:
        for sentence in sentences:
            ready.speak(sentence)
            lines = ready.events_until(("702 END",))
            assert [line for _, line in lines] == ["701 BEGIN", "702 END"]
            ends.append(lines[-1][0])
        time.sleep(0.3)
    between = sig.longest_silence(cap.samples(), RATE)
    last_sound = cap.time_at(sig.last_sound_index(cap.samples()))
    end_after_ms = (ends[-1] - last_sound) * 1000
    LATENCIES["Say All: last sound → 702 END (ms)"] = end_after_ms
    # Not after the closing pause and the padding, which take 290 ms more (measured).
    assert end_after_ms < 200, end_after_ms
    LATENCIES["Say All: longest pause between messages − within one (ms)"] = (
        between - within
    ) * 1000
    assert between < within + 0.05, (between, within)
    assert sig.sound_duration(cap.samples(), RATE) > 6.0  # every sentence was heard


def test_spelled_text_is_read_letter_by_letter_without_gaps(
    ready: ModuleProcess, daemon: DaemonProcess, pulse: PulseServer
) -> None:
    """speechd's spelling mode (SET spelling_mode=on): every letter, at an even pace, also
    where the daemon cuts the letters into segments."""
    events = Events(daemon)
    ready.set(spelling_mode="on")
    try:
        with pulse.capture(RATE) as cap:
            ready.speak('<speak>The most<mark name="m"/> important</speak>')
            lines = [line for _, line in ready.events_until(("702 END",), timeout=30)]
    finally:
        ready.set(spelling_mode="off")
    assert lines == ["701 BEGIN", "700-m", "700 INDEX MARK", "702 END"]
    spoken = events.wait_for(lambda e: e["type"] == "utterance_start")
    assert spoken["text"] == "T h e m o s t i m p o r t a n t"
    segments = [e for e in events.items if e["type"] == "segment_start"]
    assert len(segments) >= 2  # a join between segments is in what is measured
    gap = sig.longest_silence(cap.samples(), RATE)
    LATENCIES["spelled text: longest silence between letters (ms)"] = gap * 1000
    assert gap < 0.25, gap
    assert sig.sound_duration(cap.samples(), RATE) > 3.0  # 15 letters


def test_rate_changes_the_tempo(ready: ModuleProcess, pulse: PulseServer) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice over."
    durations = {}
    for rate in (0, 50):
        ready.set(rate=rate)
        with pulse.capture(RATE) as cap:
            ready.speak(text)
            ready.events_until(("702 END",))
        durations[rate] = sig.sound_duration(cap.samples(), RATE)
    assert 0.35 < durations[50] / durations[0] < 0.7, durations  # 2x faster (rate 50)


def test_pitch_moves_the_voice_and_volume_scales_it(
    ready: ModuleProcess, pulse: PulseServer
) -> None:
    """Orca raises the pitch for capital letters (SET pitch) and sets the volume."""
    text = "Capital letters sound higher."
    heard = {}
    for name, settings in (
        ("plain", {"pitch": 0, "volume": 100}),
        ("higher", {"pitch": 50, "volume": 100}),  # half an octave up
        ("quieter", {"pitch": 0, "volume": 0}),  # half the amplitude
    ):
        ready.set(**settings)
        with pulse.capture(RATE) as cap:
            ready.speak(text)
            ready.events_until(("702 END",))
        samples = cap.samples()
        loud = samples[sig.first_sound_index(samples) : sig.last_sound_index(samples)]
        heard[name] = (
            sig.fundamental_hz(loud, RATE),
            sig.sound_duration(samples, RATE),
            float(np.sqrt(np.mean(loud**2))),
        )
    (plain_hz, plain_s, plain_rms), (high_hz, high_s, _), (_, quiet_s, quiet_rms) = (
        heard["plain"],
        heard["higher"],
        heard["quieter"],
    )
    assert 1.25 < high_hz / plain_hz < 1.55, heard  # 2 ** (6 / 12) = 1.41 (measured 1.36)
    assert 0.8 < high_s / plain_s < 1.15, heard  # the tempo stays (measured 0.91)
    assert 0.4 < quiet_rms / plain_rms < 0.6, heard
    assert 0.85 < quiet_s / plain_s < 1.15, heard


def test_odd_messages(ready: ModuleProcess, daemon: DaemonProcess) -> None:
    events = Events(daemon)
    # No words at all: over at once, marks included.
    ready.speak('<speak><mark name="a"/> <mark name="b"/></speak>')
    lines = [line for _, line in ready.events_until(("702 END",), timeout=5)]
    assert lines == ["701 BEGIN", "700-a", "700 INDEX MARK", "700-b", "700 INDEX MARK", "702 END"]
    # speechd doubles a leading dot on a line (a lone "." ends the message).
    ready.speak("<speak>Two lines\n.5 percent.</speak>")
    ready.events_until(("702 END",))
    assert events.wait_for(lambda e: e["type"] == "utterance_start")["text"] == (
        "Two lines\n.5 percent. "
    )
    # No sound files: a sound icon is said by name.
    ready.speak("message-new", "SOUND_ICON")
    ready.events_until(("702 END",))
    events.wait_for(lambda e: e["type"] == "utterance_start" and e["text"] == "message new")
    # CHAR and KEY take exactly one line.
    assert ready.command("CHAR") == ["202 OK RECEIVING MESSAGE"]
    assert ready.command("a", "b", ".") == ["305 DATA MORE THAN ONE LINE"]
    # An unsupported language or unknown voice falls back to the default voice.
    ready.set(language="xx", synthesis_voice="nobody")
    ready.speak("Still spoken.")
    assert [line for _, line in ready.events_until(("702 END", "703 STOP"))][-1] == "702 END"


def test_a_sound_icon_plays_its_file_and_stops_at_once(
    daemon: DaemonProcess, pulse: PulseServer, tmp_path: Path
) -> None:
    icons = tmp_path / "icons"
    icons.mkdir()
    soundfile.write(icons / "bell", sig.tone(880, 0.4, 16000), 16000, format="WAV")
    soundfile.write(icons / "hum.wav", sig.tone(440, 5.0, 16000), 16000)
    config = tmp_path / "readaloud.conf"
    config.write_text(f'SoundIconFolder "{icons}"\n')
    module = ModuleProcess(daemon.env, config)
    try:
        module.init()
        with pulse.capture(RATE) as cap:
            module.speak("bell", "SOUND_ICON")
            lines = module.events_until(("702 END", "703 STOP"), timeout=5)
        assert [line for _, line in lines] == ["701 BEGIN", "702 END"]
        heard = cap.samples()
        assert sig.dominant_frequency(heard, RATE) == pytest.approx(880, abs=15)
        assert sig.sound_duration(heard, RATE) == pytest.approx(0.4, abs=0.08)
        # Found with its extension; STOP silences it at once.
        with pulse.capture(RATE) as cap:
            module.speak("hum", "SOUND_ICON")
            assert module.next_line()[1] == "701 BEGIN"
            wait_for_sound(cap, 0.5)
            asked = module.send("STOP")
            assert module.events_until(("703 STOP", "702 END"), timeout=5)[-1][1] == "703 STOP"
            time.sleep(0.3)
        silent_after_ms = (cap.time_at(sig.last_sound_index(cap.samples())) - asked) * 1000
        assert silent_after_ms < 100, silent_after_ms
        # An icon without a file is said by name; one outside the folder is not looked for.
        module.speak("../icons/bell", "SOUND_ICON")
        assert module.events_until(("702 END",))[-1][1] == "702 END"
    finally:
        module.close()


def test_another_readaloud_request_ends_the_message_with_stop(
    ready: ModuleProcess, daemon: DaemonProcess
) -> None:
    ready.speak(LONG)
    assert ready.next_line()[1] == "701 BEGIN"
    daemon.post("/v1/speak", {"text": "Someone else speaks now."})
    lines = ready.events_until(("703 STOP", "702 END"), timeout=5)
    assert lines[-1][1] == "703 STOP"


# -- without a daemon ------------------------------------------------------------------------


def test_without_a_daemon_it_speaks_in_process(pulse: PulseServer, tmp_path: Path) -> None:
    env = private_env({**os.environ, **pulse.env}, tmp_path)
    env.update(XDG_RUNTIME_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    module = ModuleProcess(env)
    try:
        reply = module.init()
        assert "speaking in this process" in reply[0], reply
        assert module.command("LIST VOICES")[0] == "200-en_US-joe-medium\ten\tnone"
        with pulse.capture(RATE) as cap:
            module.speak('<speak>Spoken here.<mark name="x"/> Without the daemon.</speak>')
            lines = [line for _, line in module.events_until(("702 END", "703 STOP"))]
        assert lines == ["701 BEGIN", "700-x", "700 INDEX MARK", "702 END"]
        assert sig.sound_duration(cap.samples(), RATE) > 1.0
    finally:
        assert module.close() == 0


def test_without_a_daemon_and_fallback_off_init_fails(tmp_path: Path) -> None:
    config = tmp_path / "readaloud.conf"
    config.write_text("# test\nInProcessFallback no\n")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    module = ModuleProcess(env, config)
    reply = module.command("INIT")
    assert reply[-1] == "399 ERR CANT INIT MODULE"
    assert "No readaloud daemon answers" in reply[0] and "readaloud daemon" in reply[0]
    assert module.process.wait(10) != 0


def test_losing_the_daemon_stops_the_message_and_the_next_is_spoken_here(
    pulse: PulseServer,
) -> None:
    own = DaemonProcess(pulse.env)
    module = None
    try:
        own.start()
        module = ModuleProcess(own.env)
        module.init()
        module.speak(LONG)
        assert module.next_line()[1] == "701 BEGIN"
        own.process.send_signal(signal.SIGKILL)
        lines = module.events_until(("703 STOP", "702 END"), timeout=10)
        assert lines[-1][1] == "703 STOP"
        with pulse.capture(RATE) as cap:
            module.speak("Still here.")
            lines = module.events_until(("702 END", "703 STOP"), timeout=60)
        assert lines[-1][1] == "702 END"
        assert sig.sound_duration(cap.samples(), RATE) > 0.4
    finally:
        if module is not None:
            module.close()
        own.close()


# -- registering with speechd ----------------------------------------------------------------


def test_install_links_the_module_and_keeps_speechd_discovering_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data" / "share"))
    paths = speechd_install.SpeechdPaths.for_user()
    executable = Path(sys.executable).parent / "sd_readaloud"
    speechd_install.install(executable=executable)
    speechd_install.install(executable=executable)  # twice changes nothing
    assert paths.module_link == tmp_path / "data" / "libexec" / "speech-dispatcher-modules" / (
        "sd_readaloud"
    )
    assert os.readlink(paths.module_link) == str(executable)
    assert "InProcessFallback yes" in paths.module_conf.read_text()
    # No AddModule line: one would switch off speechd's discovery of espeak-ng and the rest.
    assert not paths.speechd_conf.exists()

    # A user who lists modules explicitly gets an AddModule line for readaloud too.
    mine = 'LogLevel 3\nAddModule "espeak-ng" "sd_espeak-ng" "espeak-ng.conf"\n'
    paths.speechd_conf.write_text(mine)
    for _ in range(2):
        speechd_install.install(executable=executable, default=True)
    text = paths.speechd_conf.read_text()
    assert text.count(f'AddModule "readaloud" "{executable}" "readaloud.conf"') == 1
    assert text.count("DefaultModule readaloud") == 1 and text.startswith(mine)
    speechd_install.uninstall()
    assert paths.speechd_conf.read_text() == mine
    assert not paths.module_conf.exists() and not paths.module_link.is_symlink()
    assert "nothing to remove" in speechd_install.uninstall()


def test_install_default_copies_the_system_config_and_uninstall_removes_the_copy(
    tmp_path: Path,
) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "d")}
    result = run_readaloud("speechd", "install", "--default", env=env)
    assert result.code == 0, result.stderr
    conf = tmp_path / "config" / "speech-dispatcher" / "speechd.conf"
    system = speechd_install.system_config().read_text()
    assert system in conf.read_text() and "DefaultModule readaloud" in conf.read_text()
    assert not re.search(r"^\s*AddModule", conf.read_text(), re.M)  # discovery stays on
    result = run_readaloud("speechd", "uninstall", env=env)
    assert result.code == 0, result.stderr
    assert not conf.exists()


@pytest.fixture
def speechd(daemon: DaemonProcess) -> Iterator[dict[str, str]]:
    """A private speech-dispatcher with readaloud installed by 'readaloud speechd install'."""
    if shutil.which("speech-dispatcher") is None or shutil.which("spd-say") is None:
        pytest.fail("this test needs speechd: apt-get install speech-dispatcher")
    with SpeechDispatcher(daemon.env) as server:
        listed = subprocess.run(
            ["spd-say", "-O"], env=server.env, capture_output=True, text=True, timeout=20
        )
        assert "readaloud" in listed.stdout.split(), listed.stdout + server.logs()
        yield server.env


class SSIPClient:
    """A client of speechd's own protocol (SSIP) on its socket, as Orca's library speaks it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.connect(str(Path(env["XDG_RUNTIME_DIR"]) / "speech-dispatcher/speechd.sock"))
        self.socket.settimeout(20)
        self._reader = self.socket.makefile("rb")
        self.command("SET self CLIENT_NAME readaloud:tests:main")

    def command(self, *lines: str) -> list[str]:
        self.socket.sendall("".join(f"{line}\r\n" for line in lines).encode())
        reply = []
        while True:
            line = self._reader.readline().decode().rstrip("\r\n")
            reply.append(line)
            if len(line) < 4 or line[3] != "-":
                return reply

    def speak(self, text: str) -> list[str]:
        assert self.command("SPEAK")[-1].startswith("230")
        lines = ["." + line if line.startswith(".") else line for line in text.split("\n")]
        return self.command(*lines, ".")

    def close(self) -> None:
        self.command("QUIT")
        self.socket.close()


def test_real_speech_dispatcher_speaks_through_readaloud(
    speechd: dict[str, str], daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)

    def spd_say(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["spd-say", "-o", "readaloud", *args],
            env=speechd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # -w waits for speechd's END, which only our 702 END produces.
    with pulse.capture(RATE) as cap:
        said = spd_say("-w", "Hello from Speech Dispatcher.")
    assert said.returncode == 0, said.stderr
    spoken = events.wait_for(lambda e: e["type"] == "utterance_start")
    assert spoken["text"].strip() == "Hello from Speech Dispatcher."
    done = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == spoken["id"])
    assert done["completed"] is True
    assert sig.sound_duration(cap.samples(), RATE) > 1.0

    with pulse.capture(RATE) as cap:
        said = spd_say("-w", "-c", "b")
    assert said.returncode == 0, said.stderr
    events.wait_for(lambda e: e["type"] == "utterance_start" and e["text"] == "b")
    assert sig.sound_duration(cap.samples(), RATE) > 0.1

    # Cancel while speaking: the sound stops.
    with pulse.capture(RATE) as cap:
        assert spd_say(LONG).returncode == 0
        wait_for_sound(cap, 1.0)
        asked = time.monotonic()
        cancel = subprocess.run(["spd-say", "-C"], env=speechd, timeout=20)
        assert cancel.returncode == 0
        daemon.wait_state("idle", 5)
        time.sleep(0.3)
    silent_after_ms = (cap.time_at(sig.last_sound_index(cap.samples())) - asked) * 1000
    LATENCIES["spd-say -C → silence (ms, incl. starting spd-say)"] = silent_after_ms
    assert silent_after_ms < 300, silent_after_ms


def test_priorities_an_important_message_cuts_in_and_a_notification_waits_for_nobody(
    speechd: dict[str, str], daemon: DaemonProcess, pulse: PulseServer
) -> None:
    """speechd decides by priority; the module must end each message as speechd expects."""
    events = Events(daemon)
    reader, alert = SSIPClient(speechd), SSIPClient(speechd)
    try:
        for client, priority in ((reader, "text"), (alert, "important")):
            assert client.command("SET self OUTPUT_MODULE readaloud")[-1].startswith("2")
            assert client.command(f"SET self PRIORITY {priority}")[-1].startswith("2")
        assert reader.speak(LONG)[-1].startswith("225")
        events.wait_for(lambda e: e["type"] == "segment_start")
        asked = time.monotonic()
        assert alert.speak("The battery is low.")[-1].startswith("225")
        important = events.wait_for(
            lambda e: e["type"] == "segment_start" and e["text"] == "The battery is low.", 10
        )
        LATENCIES["speechd: important message → heard (ms)"] = (important["seen"] - asked) * 1000
        assert important["seen"] - asked < 1.0
        # While it is spoken, a notification is dropped (speechd), never queued after it.
        assert alert.command("SET self PRIORITY notification")[-1].startswith("2")
        assert alert.speak("You have mail.")[-1].startswith("225")
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == important["id"], 10)
        time.sleep(2.0)
    finally:
        reader.close()
        alert.close()
    started = [e for e in events.items if e["type"] == "utterance_start"]
    said = [e["text"].strip() for e in started]
    assert "You have mail." not in said, said
    ends = {e["id"]: e["completed"] for e in events.items if e["type"] == "utterance_end"}
    assert said[0].startswith("Sentence 1") and ends[started[0]["id"]] is False  # cut short
    assert ends[important["id"]] is True


def test_paused_and_resumed_speechd_reads_on_from_the_last_sentence_heard(
    speechd: dict[str, str], daemon: DaemonProcess, pulse: PulseServer
) -> None:
    """speechd resends a paused message with its markup turned into words; none is read."""
    events = Events(daemon)
    client = SSIPClient(speechd)
    try:
        assert client.command("SET self OUTPUT_MODULE readaloud")[-1].startswith("2")
        text = (
            "The first sentence is short. Then a second one follows it. "
            "A third comes after that. The fourth sentence ends it."
        )
        assert client.speak(text)[-1].startswith("225")
        second = events.wait_for(
            lambda e: e["type"] == "segment_start" and e["text"].startswith("Then")
        )
        time.sleep(0.3)
        with pulse.capture(RATE) as cap:
            assert client.command("PAUSE self")[-1].startswith("2")
            daemon.wait_state("idle", 5)
            time.sleep(0.5)
            paused = sig.sound_duration(cap.samples(), RATE)
        assert paused < 0.2, paused  # silent while paused
        assert client.command("RESUME self")[-1].startswith("2")
        resumed = events.wait_for(
            lambda e: e["type"] == "utterance_start" and e["seen"] > second["seen"], 20
        )
        events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == resumed["id"], 30)
    finally:
        client.close()
    # From the sentence after the last mark heard (speechd marks sentence ends), as written.
    assert resumed["text"].strip() in (text, text[text.index("Then") :]), resumed["text"]


# -- the pieces ------------------------------------------------------------------------------


def test_ssml_to_text_and_mark_offsets() -> None:
    speech = parse('<speak><mark name="0"/>Hi <mark name="3"/>you &lt;3<break/>ok</speak>')
    assert speech.text == "Hi you <3 ok "
    assert speech.marks == (Mark("0", 0), Mark("3", 3))
    assert parse("plain & simple").text == "plain & simple"


def test_a_resumed_message_is_found_in_the_ssml_it_came_as() -> None:
    # As speechd 0.11.4 sent them: a text-mode message, then the same on RESUME, its markup
    # and some of its punctuation turned into spaces.
    source = (
        '<speak>This   that   those, don\'t you think?<mark name="__spd_0"/> It goes on.'
        '<mark name="__spd_1"/> The end.</speak>'
    )
    whole = (
        "<speak> speak This   that   those, don't you think  mark name    spd 0    It goes on"
        "  mark name    spd 1    The end   speak </speak>"
    )
    assert resent_from(source, whole) == source
    # From the second mark: only what follows it.
    rest = resent_from(source, "<speak> speak  The end   speak </speak>")
    assert rest is not None and parse(rest).text.strip() == "The end."
    assert resent_from(source, "<speak>Something else entirely.</speak>") is None


def test_key_and_char_names_become_words() -> None:
    assert key_words("space") == "space"
    assert key_words("Return") == "return"
    assert key_words("shift_L") == "left shift"
    assert key_words("shift_a") == "shift a"
    assert key_words("control_alt_delete") == "control alt delete"
    assert key_words("shift_kp-enter") == "shift keypad enter"
    assert key_words("KP_7") == "keypad 7"
    assert key_words("f11") == "F 11"
    assert char_words("A", capitals="spell") == "capital A"
    assert char_words("?") == "question mark"


def test_every_symbol_has_a_name_from_speechd_tables_in_the_language() -> None:
    """Names come from the symbol tables speechd installs (NVDA's), in the message's language;
    a character they do not name gets its Unicode name: nothing is silent."""
    names = ["plus or Minus", "times", "divide by", "pound", "section"]
    assert [char_words(c) for c in "±×÷£§"] == names
    assert [char_words(c, language="de") for c in "×÷"] == ["mal", "geteilt durch"]
    assert char_words(".", language="de-AT") == "Punkt"  # the language's table for a region
    assert char_words("😀") == "grinning face"  # speechd's emoji table
    assert char_words("\u2ff0") == "ideographic description character left to right"
    assert char_words("é") == "é" and char_words("7") == "7"  # letters and digits as they are
    assert key_words("shift_§") == "shift section"


def test_rate_and_language_mapping() -> None:
    assert speechd_rate(0) == 1.0
    assert speechd_rate(50) == 2.0 and speechd_rate(-50) == 0.5
    assert speechd_rate(100) == 4.0 and speechd_rate(-100) == 0.25
    settings = Settings().with_values({"language": "en-US", "synthesis_voice": "v1"})
    assert settings.language_for({"en", "de"}) == "en"
    assert Settings().with_values({"language": "c"}).language_for({"en"}) is None
    assert settings.voice_for({"v1": {"en"}}) == "v1"
    assert settings.voice_for({"v2": {"en"}}) is None


def test_marks_inside_a_segment_are_estimated_and_never_skipped() -> None:
    timeline = MarkTimeline([Mark("a", 0), Mark("b", 12), Mark("c", 30), Mark("d", 40)])
    assert timeline.segment_started(0, 25, now=100.0) == ["a"]
    assert timeline.due(100.5) == []
    assert timeline.due(101.1) == ["b"]  # 12 characters at 12 per second
    assert timeline.segment_started(26, 45, now=102.0) == []
    assert timeline.segment_started(41, 50, now=102.2) == ["c", "d"]
    assert timeline.finish() == []


def test_marks_come_with_the_words_they_stand_before_when_words_are_timed() -> None:
    # Orca's marks: one before each word ("0:4" Type, "5:9" here...).
    timeline = MarkTimeline([Mark("0:4", 0), Mark("5:9", 5), Mark("10:16", 10), Mark("end", 16)])
    assert timeline.segment_started(0, 16, now=100.0) == ["0:4"]
    # The first word event: from now on, no estimate (it would be due at 100.4).
    assert timeline.word_started(0) == []
    assert timeline.due(101.0) == [] and timeline.next_due is None
    assert timeline.word_started(5) == ["5:9"]
    assert timeline.word_started(10) == ["10:16"]
    assert timeline.finish() == ["end"]
