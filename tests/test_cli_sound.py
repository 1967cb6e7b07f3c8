"""``readaloud say`` on a real sound server: it is heard, Ctrl+C silences it at once, and with no
sound server it says what to do instead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from support import signal as sig
from support.cli import run_readaloud
from support.pulse import PulseServer

pytestmark = pytest.mark.sound

RATE = 22050
LONG_TEXT = " ".join(
    f"This is sentence number {n}, and it keeps the voice busy for a while." for n in range(1, 30)
)


def test_say_is_heard(pulse: PulseServer) -> None:
    with pulse.capture(RATE) as cap:
        result = run_readaloud("say", "Hello, this is readaloud speaking.", env=pulse.env)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    heard = sig.sound_duration(cap.samples(), RATE)
    assert 1.0 < heard < 4.0, heard


def test_say_reads_stdin(pulse: PulseServer) -> None:
    with pulse.capture(RATE) as cap:
        result = run_readaloud("say", "-", stdin=b"Words from a pipe.", env=pulse.env)
    assert result.code == 0, result.stderr
    assert sig.sound_duration(cap.samples(), RATE) > 0.5


def test_ctrl_c_stops_the_sound_at_once(pulse: PulseServer) -> None:
    with pulse.capture(RATE) as cap:
        process = subprocess.Popen(
            [sys.executable, "-m", "readaloud", "say", LONG_TEXT],
            env={**os.environ, **pulse.env},
            stderr=subprocess.PIPE,
        )
        # Wait until speech is really playing, then press Ctrl+C.
        deadline = time.monotonic() + 30
        while sig.sound_duration(cap.samples(), RATE) < 1.5 and time.monotonic() < deadline:
            time.sleep(0.02)
        interrupted_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(10)
        exited_after = time.monotonic() - interrupted_at
        time.sleep(0.3)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert code == 130, stderr
    assert "Traceback" not in stderr
    assert exited_after < 2.0
    last = sig.last_sound_index(cap.samples())
    assert last is not None
    assert (cap.time_at(last) - interrupted_at) * 1000 < 50


def test_no_sound_server_says_what_to_do(tmp_path) -> None:
    env = {"PULSE_SERVER": f"unix:{tmp_path}/no-such-socket", "XDG_RUNTIME_DIR": str(tmp_path)}
    result = run_readaloud("say", "Hello.", env=env)
    assert result.code == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No sound output device" in lines[0] and "--out" in lines[0]
