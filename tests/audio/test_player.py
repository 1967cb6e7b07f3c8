"""The Player on a real PulseAudio, heard through the null sink's monitor.

Every test records what was played and checks what a listener would notice: pitch, length, gaps,
clicks, how fast stop silences, where resume continues, whether the end is cut off. Tests that use
the ``pulse`` fixture are marked ``sound`` by conftest.
"""

from __future__ import annotations

import functools
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
from support import signal as sig
from support.pulse import PulseServer

from readaloud.audio.player import (
    NO_DEVICE_MESSAGE,
    Player,
    default_output_available,
    output_devices,
)
from readaloud.audio.resample import ChunkResampler
from readaloud.errors import NoOutputDevice

RATE = 22050
BLOCK = 256
#: Output latency (s) for tests of what is played rather than how fast: a deeper device buffer
#: rides out the stalls of a busy 2-core machine. Tests of stop latency, of the end of an
#: utterance and of a late feed use the default ("low", ~35 ms of buffer).
ROOMY = 0.1
#: Stream rates under test: the source's own rate, and 48 kHz to force the resampling path.
STREAM_RATES = [pytest.param(None, id="native"), pytest.param(48000, id="resampled-48k")]


class Players:
    """Makes players for a test and closes them after it; counts what starved them."""

    def __init__(self) -> None:
        self.made: list[Player] = []

    def __call__(self, **options: Any) -> Player:
        player = Player(**options)
        self.made.append(player)
        return player

    def close(self) -> int:
        """Close every player made so far; returns how often their audio was starved."""
        starved = sum(player.xruns + player.underruns for player in self.made)
        for player in self.made:
            player.close()
        self.made.clear()
        return starved


@pytest.fixture
def make_player(pulse: PulseServer) -> Iterator[Players]:
    players = Players()
    yield players
    players.close()


class StallMeter:
    """The longest time this process went unscheduled, seen by a thread that naps 10 ms."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._measure, daemon=True)

    def __enter__(self) -> StallMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _measure(self) -> None:
        while True:
            before = time.monotonic()
            if self._done.wait(0.01):
                return
            self.longest = max(self.longest, time.monotonic() - before - 0.01)


def heard_live(test: Callable[..., None]) -> Callable[..., None]:
    """Run a real-time test again (twice at most) if it failed while the machine starved it.

    Starved: the device ran dry (xrun), the queue ran dry (underrun) because the feeding test
    was not run in time, or the process went unscheduled for 20 ms or more (PulseAudio's client
    thread then misses its deadline without anyone noticing). The glitch is real, but not the
    player's doing: a player bug fails every attempt, and a failure without starvation stands.
    Only for tests that feed on time.
    """

    @functools.wraps(test)
    def run(*args: Any, make_player: Players, **kwargs: Any) -> None:
        for attempt in range(3):
            try:
                with StallMeter() as stalls:
                    test(*args, make_player=make_player, **kwargs)
                return
            except AssertionError:
                starved = make_player.close()
                if (starved == 0 and stalls.longest < 0.020) or attempt == 2:
                    raise
                print(
                    f"machine overloaded (audio starved {starved} times, process stalled "
                    f"{stalls.longest * 1000:.0f} ms): measuring again"
                )

    return run


def chunks(samples: np.ndarray, count: int) -> list[np.ndarray]:
    return np.array_split(samples, count)


@pytest.mark.parametrize("stream_rate", STREAM_RATES)
@heard_live
def test_tone_is_heard_at_its_pitch_and_length(
    pulse: PulseServer, make_player: Players, stream_rate: int | None
) -> None:
    source = sig.tone(440, 1.0, RATE)
    player = make_player(stream_rate=stream_rate, latency=ROOMY)
    started = time.perf_counter()
    player.open(RATE)
    opened_ms = (time.perf_counter() - started) * 1000
    assert player.stream_rate == (stream_rate or RATE)

    with pulse.capture(RATE) as cap:
        player.enqueue(source, RATE)
        player.end_utterance()
        assert player.wait(timeout=5)
    heard = cap.samples()

    first, last = sig.first_sound_index(heard), sig.last_sound_index(heard)
    assert first is not None and last is not None, "nothing was heard"
    assert sig.dominant_frequency(heard[first : last + 1], RATE) == pytest.approx(440, abs=5)
    assert sig.sound_duration(heard, RATE) == pytest.approx(1.0, rel=0.05)
    _, correlation = sig.align(source, heard)
    assert correlation > 0.9
    assert player.underruns == 0
    print(f"open at {player.stream_rate} Hz: {opened_ms:.1f} ms")


@pytest.mark.parametrize("stream_rate", STREAM_RATES)
@heard_live
def test_chunks_join_without_gap_or_click(
    pulse: PulseServer, make_player: Players, stream_rate: int | None
) -> None:
    source = sig.tone(440, 1.0, RATE)
    player = make_player(stream_rate=stream_rate, latency=ROOMY)
    player.open(RATE)

    with pulse.capture(RATE) as cap:
        for index, chunk in enumerate(chunks(source, 20)):
            player.enqueue(chunk, RATE)
            if index == 5:
                player.open(RATE)  # already open: must not reopen or cut the sound
        player.end_utterance()
        assert player.wait(timeout=5)
    heard = cap.samples()

    first, last = sig.first_sound_index(heard), sig.last_sound_index(heard)
    assert first is not None and last is not None, "nothing was heard"
    assert sig.longest_silence(heard, RATE) < 0.010
    # A smooth 440 Hz sine at 0.5 moves at most 0.063 per sample; a click at a join jumps more.
    smooth_step = 0.5 * 2 * np.pi * 440 / RATE
    assert sig.max_step(heard[first : last + 1]) < 1.6 * smooth_step
    assert sig.sound_duration(heard, RATE) == pytest.approx(1.0, rel=0.05)
    _, correlation = sig.align(source, heard)
    assert correlation > 0.99
    assert player.underruns == 0


@heard_live
def test_stop_silences_within_50_ms_and_the_next_utterance_plays(
    pulse: PulseServer, make_player: Players
) -> None:
    player = make_player()
    player.open(RATE)

    with pulse.capture(RATE) as cap:
        enqueued_at = time.monotonic()
        player.enqueue(sig.tone(440, 2.0, RATE), RATE)
        time.sleep(0.5)
        stopped_at = time.monotonic()
        player.stop()
        stop_returned_ms = (time.monotonic() - stopped_at) * 1000
        assert player.wait(timeout=1)
        time.sleep(0.3)
        player.enqueue(sig.tone(660, 0.3, RATE), RATE)
        player.end_utterance()
        assert player.wait(timeout=5)
    heard = cap.samples()

    first = sig.first_sound_index(heard)
    assert first is not None, "nothing was heard"
    # Sound before the second utterance belongs to the stopped one.
    second_from = cap.index_at(stopped_at + 0.2)
    first_end = sig.last_sound_index(heard[:second_from])
    assert first_end is not None
    # The capture's clock is estimated from parec's reads (see Capture) and may be off by a few
    # ms. The first sound of the same capture is the reference: it cannot come before enqueue,
    # so a start delay below zero is the clock's error, and it is taken off the stop delay.
    start_delay = cap.time_at(first) - enqueued_at
    stop_delay = cap.time_at(first_end) - stopped_at
    clock_error = min(start_delay, 0.0)
    print(f"start delay {start_delay * 1000:.1f} ms, stop delay {stop_delay * 1000:.1f} ms")
    assert start_delay > -0.010, "the capture clock is off; the measurement is not trustworthy"
    assert stop_delay - clock_error < 0.050
    assert stop_returned_ms < 20

    second = heard[second_from:]
    assert sig.sound_duration(second, RATE) == pytest.approx(0.3, rel=0.05)
    begin = sig.first_sound_index(second)
    assert begin is not None
    assert sig.dominant_frequency(second[begin : begin + RATE // 5], RATE) == pytest.approx(
        660, abs=5
    )


def test_stop_drops_what_the_sound_server_holds(pulse: PulseServer, make_player: Players) -> None:
    """With a 300 ms device buffer, stop is still heard at once: the buffer is not played out."""
    player = make_player(latency=0.3)
    player.open(RATE)
    with pulse.capture(RATE) as cap:
        player.enqueue(sig.tone(440, 3.0, RATE), RATE)
        time.sleep(1.0)
        stopped_at = time.monotonic()
        player.stop()
        time.sleep(0.6)
        player.enqueue(sig.tone(660, 0.3, RATE), RATE)
        player.end_utterance()
        assert player.wait(timeout=5)
    heard = cap.samples()
    second_from = cap.index_at(stopped_at + 0.5)
    first_end = sig.last_sound_index(heard[:second_from])
    assert first_end is not None, "nothing was heard"
    stop_delay_ms = (cap.time_at(first_end) - stopped_at) * 1000
    print(f"stop → silence {stop_delay_ms:.1f} ms with a 300 ms device buffer")
    assert stop_delay_ms < 100, "stop let the device's buffer play out"
    # The next sound plays whole, on a fresh stream.
    second = heard[second_from:]
    assert sig.sound_duration(second, RATE) == pytest.approx(0.3, rel=0.05)


@heard_live
def test_resume_continues_at_the_sample_where_pause_cut(
    pulse: PulseServer, make_player: Players
) -> None:
    # A sweep: every stretch of it is different, so alignment tells the position in the source.
    source = sig.chirp(300, 1500, 1.5, RATE)
    player = make_player(latency=ROOMY)
    player.open(RATE)

    with pulse.capture(RATE) as cap:
        player.enqueue(source, RATE)
        player.end_utterance()
        time.sleep(0.5)
        player.pause()
        assert player.paused
        assert not player.wait(timeout=0.3), "a paused player must not drain"
        player.resume()
        assert not player.paused
        assert player.wait(timeout=5)
    heard = cap.samples()

    # The pause is the longest silence between the first and the last sound.
    first, last = sig.first_sound_index(heard), sig.last_sound_index(heard)
    assert first is not None and last is not None
    quiet = np.abs(heard[first : last + 1]) <= sig.SILENCE
    gap_start, gap_end = _longest_true_run(quiet)
    gap_start += first
    gap_end += first  # first sound after the pause
    assert (gap_end - gap_start) / RATE == pytest.approx(0.3, abs=0.1)

    # Map capture positions to source positions on each side of the pause (away from fades).
    window = RATE // 5
    before = heard[gap_start - window - 200 : gap_start - 200]
    after = heard[gap_end + 200 : gap_end + 200 + window]
    source_before, correlation_before = sig.align(before, source)
    source_after, correlation_after = sig.align(after, source)
    assert correlation_before > 0.9 and correlation_after > 0.9
    last_before = source_before + window + 200 - 1  # source index of the last sample before
    first_after = source_after - 200  # source index of the first sample after
    lost = first_after - last_before - 1  # negative: repeated
    # The 5 ms fades put the silence threshold a few samples inside each side of the gap.
    print(f"pause/resume: {lost} samples lost (negative: repeated)")
    assert abs(lost) < BLOCK // 2
    padding = round(0.120 * RATE)
    assert player.frames_played == len(source) + padding, "the player skipped or repeated"
    assert sig.sound_duration(heard, RATE) - (gap_end - gap_start) / RATE == pytest.approx(
        1.5, abs=0.02
    )


def _longest_true_run(values: np.ndarray) -> tuple[int, int]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], values.view(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


@heard_live
def test_the_end_of_a_short_burst_is_not_cut_off(pulse: PulseServer, make_player: Players) -> None:
    burst = sig.chirp(800, 2400, 0.15, RATE)  # a sweep, so the tail's position is unique
    player = make_player()
    player.open(RATE)

    with pulse.capture(RATE) as cap:
        player.enqueue(burst, RATE)
        player.end_utterance()
        assert player.wait(timeout=5)
        player.close()  # closing right after the end must not swallow the last syllable
    heard = cap.samples()

    first = sig.first_sound_index(heard)
    assert first is not None, "nothing was heard"
    assert sig.sound_duration(heard, RATE) == pytest.approx(0.15, abs=0.002)
    # The last 20 ms are there, at full level, where they belong.
    tail = burst[-RATE // 50 :]
    tail_at = first + len(burst) - len(tail)
    assert np.sqrt(np.mean(heard[tail_at : tail_at + len(tail)] ** 2)) > 0.3
    _, correlation = sig.align(tail, heard[tail_at - 50 : tail_at + len(tail) + 50])
    assert correlation > 0.9


def test_sound_after_silence_starts_with_its_first_sample(
    pulse: PulseServer, make_player: Players
) -> None:
    """A running stream that only plays silence is replaced by a fresh one for the next sound
    (so no buffer of silence is heard first); the sound must lose nothing by it."""
    burst = sig.chirp(600, 3000, 0.2, RATE)
    player = make_player()
    player.open(RATE)
    with pulse.capture(RATE) as cap:
        player.enqueue(sig.tone(440, 0.1, RATE), RATE)
        player.end_utterance()
        assert player.wait(timeout=5)
        time.sleep(0.3)  # the stream runs on, playing silence
        assert player.active
        player.enqueue(burst, RATE)
        player.end_utterance()
        assert player.wait(timeout=5)
    heard = cap.samples()
    tone_at = sig.first_sound_index(heard)
    assert tone_at is not None
    heard = heard[tone_at + RATE // 4 :]  # after the tone, in the silence before the burst
    first = sig.first_sound_index(heard)
    assert first is not None
    assert sig.sound_duration(heard, RATE) == pytest.approx(0.2, abs=0.003)
    head = burst[: RATE // 50]  # the first 20 ms, where they belong
    _, correlation = sig.align(head, heard[max(0, first - 50) : first + len(head) + 50])
    assert correlation > 0.95


def test_a_late_feed_is_counted_and_heard_as_a_gap(
    pulse: PulseServer, make_player: Players
) -> None:
    player = make_player()
    player.open(RATE)

    with pulse.capture(RATE) as cap:
        player.enqueue(sig.tone(440, 0.1, RATE), RATE)
        time.sleep(0.3)  # the synthesis of the next chunk is too slow
        player.enqueue(sig.tone(440, 0.1, RATE), RATE)
        player.end_utterance()
        assert player.wait(timeout=5)

    assert player.underruns >= 10  # ~0.2 s of 11.6 ms blocks found nothing to play
    assert sig.longest_silence(cap.samples(), RATE) > 0.15


@heard_live
def test_a_timely_feed_has_no_underruns(pulse: PulseServer, make_player: Players) -> None:
    pieces = chunks(sig.tone(440, 1.0, RATE), 20)
    player = make_player(latency=ROOMY)
    player.open(RATE)

    with pulse.capture(RATE) as cap:
        # Like a synthesizer a bit faster than real time, starting 0.3 s ahead.
        for piece in pieces[:6]:
            player.enqueue(piece, RATE)
        for piece in pieces[6:]:
            time.sleep(0.04)
            player.enqueue(piece, RATE)
            assert player.buffered_seconds > 0.1
        player.end_utterance()
        assert player.wait(timeout=5)

    assert player.underruns == 0
    assert sig.longest_silence(cap.samples(), RATE) < 0.010


@pytest.mark.parametrize("stream_rate", STREAM_RATES)
@heard_live
def test_marks_are_reported_in_order_when_their_chunks_play(
    pulse: PulseServer, make_player: Players, stream_rate: int | None
) -> None:
    reported: list[tuple[object, float]] = []
    player = make_player(
        stream_rate=stream_rate,
        on_mark=lambda mark: reported.append((mark, time.monotonic())),
        latency=ROOMY,
    )
    player.open(RATE)
    pieces = chunks(sig.tone(440, 0.6, RATE), 6)

    for index, piece in enumerate(pieces):
        player.enqueue(piece, RATE, mark=index)
    player.end_utterance()
    assert player.wait(timeout=5)
    time.sleep(0.05)  # the notifier thread may still be delivering the last mark

    assert [mark for mark, _ in reported] == list(range(6))
    # After the stream's first blocks, marks follow the sound: 0.1 s apart like the chunks. The
    # notifier is a Python thread on a busy machine, so a mark can come late, never early: the
    # earliest one sets the schedule, and none may lag it by more than a listener would notice.
    times = np.array([at for _, at in reported][1:])
    schedule = times - 0.1 * np.arange(len(times))
    assert np.median(np.diff(times)) == pytest.approx(0.1, abs=0.005), np.diff(times)
    assert np.max(schedule - schedule.min()) < 0.08, np.diff(times)


@pytest.mark.parametrize("stream_rate", STREAM_RATES)
@heard_live
def test_marks_inside_a_chunk_come_when_their_sample_plays(
    pulse: PulseServer, make_player: Players, stream_rate: int | None
) -> None:
    """Word marks: one chunk, marks at sample offsets in it (two at its first sample)."""
    reported: list[tuple[object, float]] = []
    player = make_player(
        stream_rate=stream_rate,
        on_mark=lambda mark: reported.append((mark, time.monotonic())),
        latency=ROOMY,
    )
    player.open(RATE)
    offsets = [0.0, 0.15, 0.3, 0.45]
    player.enqueue(
        sig.tone(440, 0.6, RATE),
        RATE,
        mark="chunk",
        marks=[(round(at * RATE), f"word {n}") for n, at in enumerate(offsets)],
    )
    player.end_utterance()
    assert player.wait(timeout=5)
    time.sleep(0.05)
    assert [mark for mark, _ in reported] == ["chunk", "word 0", "word 1", "word 2", "word 3"]
    # As above, the marks at the stream's first sample come as it starts, the others as played.
    times = np.array([at for _, at in reported][2:])
    assert np.diff(times) == pytest.approx(np.diff(offsets[1:]), abs=0.02), np.diff(times)


@heard_live
def test_stop_drops_marks_that_were_not_heard(pulse: PulseServer, make_player: Players) -> None:
    reported: list[object] = []
    player = make_player(on_mark=reported.append, latency=ROOMY)
    player.open(RATE)
    player.enqueue(sig.tone(440, 0.5, RATE), RATE, mark="first")
    player.enqueue(sig.tone(440, 0.5, RATE), RATE, mark="second")
    time.sleep(0.2)
    player.stop()
    player.wait(timeout=1)
    time.sleep(0.1)
    assert reported == ["first"]
    assert player.buffered_seconds == 0


@heard_live
def test_an_idle_stream_is_closed_and_the_next_sound_opens_it_again(
    pulse: PulseServer, make_player: Players
) -> None:
    player = make_player(idle_close_s=0.2, latency=ROOMY)
    player.open(RATE)
    source = sig.chirp(300, 1500, 0.6, RATE)

    player.enqueue(sig.tone(440, 0.1, RATE), RATE)
    player.end_utterance()
    assert player.wait(timeout=5)
    time.sleep(0.5)
    assert not player.active, "the stream should close after idle_close_s of silence"

    with pulse.capture(RATE) as cap:
        enqueued_at = time.monotonic()
        player.enqueue(source, RATE)
        player.end_utterance()
        time.sleep(0.3)
        player.pause()
        time.sleep(0.5)  # long enough for the paused stream to be closed too
        assert not player.active
        player.resume()
        assert player.wait(timeout=5)
    heard = cap.samples()

    first = sig.first_sound_index(heard)
    assert first is not None, "nothing was heard after the idle close"
    print(f"first sound after an idle close: {(cap.time_at(first) - enqueued_at) * 1000:.1f} ms")
    assert cap.time_at(first) - enqueued_at < 0.1
    quiet = sig.longest_silence(heard, RATE)
    assert sig.sound_duration(heard, RATE) - quiet == pytest.approx(0.6, abs=0.02)
    _, correlation = sig.align(source[: RATE // 4], heard)
    assert correlation > 0.95


@heard_live
def test_a_rate_change_mid_utterance_plays_on_without_a_gap(
    pulse: PulseServer, make_player: Players
) -> None:
    # The fallback engine (22050 Hz) takes over from XTTS (24000 Hz) in the middle of a sentence.
    player = make_player(latency=ROOMY)
    player.open(RATE)

    with pulse.capture(RATE) as cap:
        for piece in chunks(sig.tone(440, 0.4, 24000), 4):
            player.enqueue(piece, 24000)
        for piece in chunks(sig.tone(440, 0.4, RATE), 4):
            player.enqueue(piece, RATE)
        player.end_utterance()
        assert player.wait(timeout=5)
    heard = cap.samples()

    assert sig.sound_duration(heard, RATE) == pytest.approx(0.8, rel=0.05)
    assert sig.longest_silence(heard, RATE) < 0.010
    first = sig.first_sound_index(heard)
    assert first is not None
    for start in (first, first + RATE // 2):
        assert sig.dominant_frequency(heard[start : start + RATE // 4], RATE) == pytest.approx(
            440, abs=5
        )


def test_resampled_chunks_equal_one_pass_and_marks_land_where_chunks_begin() -> None:
    source = sig.chirp(200, 4000, 0.5, RATE)
    parts = chunks(source, 7)
    resampler = ChunkResampler(RATE, 48000)
    pieces = []
    for index, part in enumerate(parts):
        pieces += resampler.feed(part, mark=index)
    pieces += resampler.flush()

    joined = np.concatenate([piece.samples for piece in pieces])
    one_pass = soxr.resample(source, RATE, 48000)
    assert len(joined) == len(one_pass)
    assert np.max(np.abs(joined - one_pass)) < 1e-4
    marked, position = [], 0
    for piece in pieces:
        if piece.mark is not None:
            marked.append((piece.mark, position))
        position += len(piece.samples)
    chunk_starts = np.cumsum([0] + [len(part) for part in parts[:-1]])
    expected = [(index, round(start * 48000 / RATE)) for index, start in enumerate(chunk_starts)]
    assert marked == expected


def test_doctor_sees_the_sound_server(pulse: PulseServer) -> None:
    available, reason = default_output_available()
    assert available, reason
    assert output_devices()


# -- without a sound server (child processes: PortAudio state is per process) -----------------

NO_SERVER_CHILD = """
from readaloud.audio.player import Player, default_output_available, output_devices
from readaloud.errors import NoOutputDevice
print(default_output_available()[0], output_devices())
try:
    Player().open(22050)
except NoOutputDevice as error:
    print(error)
"""


def test_without_a_sound_server_open_says_what_to_do(tmp_path: Path) -> None:
    runtime_dir = tmp_path / "runtime"
    runtime_dir.mkdir(mode=0o700)
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime_dir),
        "PULSE_SERVER": f"unix:{runtime_dir}/no-such-socket",
    }
    done = subprocess.run(
        [sys.executable, "-c", NO_SERVER_CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False []", NO_DEVICE_MESSAGE]
    assert "\n" not in NO_DEVICE_MESSAGE
    assert done.stderr == "", "no noise from PortAudio/ALSA, no traceback"


def test_an_unknown_device_name_says_what_to_do(pulse: PulseServer) -> None:
    with pytest.raises(NoOutputDevice) as raised:
        Player(device="no such device").open(RATE)
    message = str(raised.value)
    assert "\n" not in message
    assert "'no such device'" in message and "--out FILE.wav" in message


RECOVERY_CHILD = """
import sys
import time
import numpy as np
from readaloud.audio.player import Player
from readaloud.errors import NoOutputDevice

def say(*words):
    print(*words, flush=True)

tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(6615) / 22050)).astype(np.float32)
player = Player(idle_close_s=0.3)
try:
    player.open(22050)
    say("opened")
except NoOutputDevice:
    say("no-device")
sys.stdin.readline()  # the server is up now
player.enqueue(tone, 22050)
player.end_utterance()
say("played", player.wait(timeout=10))
player.enqueue(np.tile(tone, 4), 22050)
say("playing")
sys.stdin.readline()  # the server was restarted meanwhile
say("waited", player.wait(timeout=10))
player.enqueue(tone, 22050)
player.end_utterance()
say("played", player.wait(timeout=10))
time.sleep(0.8)
say("active", player.active)
sys.stdin.readline()  # the server was restarted while the stream was closed for idleness
player.enqueue(tone, 22050)
player.end_utterance()
say("played", player.wait(timeout=10))
player.close()
"""


def test_player_finds_a_server_that_starts_later_and_survives_its_restart(
    pulse: PulseServer,
) -> None:
    late = PulseServer()
    child, lines = _child(late, RECOVERY_CHILD)
    try:
        assert lines.get(timeout=30) == "no-device"
        late.start()
        _tell(child)
        assert lines.get(timeout=30) == "played True"
        assert lines.get(timeout=30) == "playing"
        time.sleep(0.2)
        late.restart()  # the stream dies under the player while it plays
        with late.capture(RATE) as cap:
            _tell(child)
            # wait() must not hang on a dead stream; the next enqueue reopens it.
            assert lines.get(timeout=30) == "waited False"
            assert lines.get(timeout=30) == "played True"
        heard = cap.samples()
        assert sig.sound_duration(heard, RATE) > 0.3
        first = sig.first_sound_index(heard)
        assert sig.dominant_frequency(heard[first : first + RATE // 4], RATE) == pytest.approx(
            440, abs=5
        )

        assert lines.get(timeout=30) == "active False"
        late.restart()  # while the stream is closed for idleness
        _tell(child)
        assert lines.get(timeout=30) == "played True"
        assert child.wait(timeout=30) == 0
        assert "Traceback" not in child.stderr.read()  # type: ignore[union-attr]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        late.close()


def _child(
    server: PulseServer, script: str, *args: str
) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """A Python child that plays on ``server``, driven line by line on stdin/stdout."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env={**os.environ, **server.env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, _lines_of(child)


def _lines_of(child: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def _tell(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()


STUCK_CHILD = """
import sys
import threading
import time
import numpy as np
import readaloud.audio.player as player_module
from readaloud.audio.player import Player
from readaloud.errors import NoOutputDevice

def say(*words):
    print(*words, flush=True)

if sys.argv[1] == "unguarded":
    # Start the old stream as it is, however long ago it was opened: the call that never returns.
    player_module.STALE_STREAM_S = 1e9
tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(11025) / 22050)).astype(np.float32)
player = Player()
player.open(22050)
say("opened")
sys.stdin.readline()  # the server was killed
outcome = []

def feed():
    began = time.monotonic()
    try:
        player.enqueue(tone, 22050)
        outcome.append("played")
    except NoOutputDevice as error:
        outcome.append(f"no-output {time.monotonic() - began:.2f} {error}")

feeder = threading.Thread(target=feed)
feeder.start()
time.sleep(0.3)  # the feeder is inside PortAudio now
began = time.monotonic()
player.stop()
player.pause()
player.resume()
say(f"control {time.monotonic() - began:.3f}")
feeder.join()
say(outcome[0])
sys.stdin.readline()  # the server is back
player.enqueue(tone, 22050)
player.end_utterance()
say("played", player.wait(timeout=10))
began = time.monotonic()
player.close()
say(f"closed {time.monotonic() - began:.3f}")
"""


@pytest.mark.parametrize("guard", ["guarded", "unguarded"])
def test_a_sound_server_killed_under_an_open_stream_never_wedges_the_player(
    pulse: PulseServer, guard: str
) -> None:
    """Killed while the stream is open but not started: starting it would block for ever in
    PortAudio. Guarded, the stale stream is replaced (the error comes at once); unguarded, the
    call's deadline ends the wait. Either way control stays instant and the sound comes back."""
    own = PulseServer()
    own.start()
    child, lines = _child(own, STUCK_CHILD, guard)
    try:
        assert lines.get(timeout=30) == "opened"
        time.sleep(1.5)  # older than the stale-stream limit
        own.kill()
        _tell(child)
        control = lines.get(timeout=30)
        assert control.startswith("control ") and float(control.split()[1]) < 0.5, control
        failed = lines.get(timeout=30).split(" ", 2)
        assert failed[0] == "no-output", failed
        assert "No sound output device found" in failed[2]
        # Guarded: no wait at all; unguarded: the deadline (1 s), not for ever.
        assert float(failed[1]) < (0.5 if guard == "guarded" else 3.0), failed
        own.start()
        with own.capture(RATE) as cap:
            _tell(child)
            assert lines.get(timeout=30) == "played True"
        heard = cap.samples()
        assert sig.sound_duration(heard, RATE) > 0.4
        closed = lines.get(timeout=30)
        assert closed.startswith("closed ") and float(closed.split()[1]) < 2.0, closed
        # A stuck stream must not make PortAudio's own clean-up abort the process at exit.
        assert child.wait(timeout=30) == 0, child.stderr.read()  # type: ignore[union-attr]
        stderr = child.stderr.read()  # type: ignore[union-attr]
        assert "Traceback" not in stderr and "Assertion" not in stderr, stderr
        assert ("did not return within" in stderr) == (guard == "unguarded"), stderr
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        own.close()


@pytest.mark.parametrize("early_s, after_tone_s", [(0.1, 0.3), (1.0, 0.0)])
def test_the_end_mark_comes_before_the_closing_pause_but_never_before_the_last_sound(
    pulse: PulseServer, make_player: Players, early_s: float, after_tone_s: float
) -> None:
    """``mark_end``: what a Say All client waits for. A tone, then 0.4 s of its closing pause:
    the mark is due ``early_s`` before the pause is over, or as the tone ends if that is later."""
    reached: list[float] = []
    player = make_player(on_mark=lambda mark: reached.append(time.monotonic()))
    player.open(RATE)
    tone = sig.tone(440, 0.3, RATE)
    with pulse.capture(RATE) as cap:
        player.enqueue(tone, RATE)
        player.enqueue(np.zeros(int(0.4 * RATE), dtype=np.float32), RATE)
        player.mark_end("end", early_s=early_s)
        player.end_utterance()
        assert player.wait(timeout=5)
        time.sleep(0.05)
    assert len(reached) == 1
    tone_end = cap.time_at(sig.last_sound_index(cap.samples()))
    assert reached[0] - tone_end == pytest.approx(after_tone_s, abs=0.04)
