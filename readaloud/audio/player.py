"""Playback of speech through one long-lived output stream (sounddevice over PortAudio).

Threads: the synthesis worker feeds (``enqueue``, ``end_utterance``); any thread may ``stop``,
``pause`` or ``resume``; PortAudio's thread runs the callback that copies queued samples to the
device; a small notifier thread reports marks and closes the stream after a while of silence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from operator import itemgetter
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from readaloud.audio.portaudio import DEADLINE_S, SoundOutputStuck, portaudio
from readaloud.audio.resample import ChunkResampler, Piece
from readaloud.errors import NoOutputDevice

try:
    import sounddevice as sd
except OSError:  # libportaudio2 is missing: playback is impossible, writing files still works
    sd = None

if TYPE_CHECKING:
    from readaloud.config import AudioConfig

log = logging.getLogger(__name__)

_FILE_HINT = "Use --out FILE.wav to write the speech to a file instead."
NO_DEVICE_MESSAGE = f"No sound output device found (is PulseAudio/PipeWire running?). {_FILE_HINT}"
NO_PORTAUDIO_MESSAGE = f"PortAudio is not installed (apt install libportaudio2). {_FILE_HINT}"

# PortAudio's paInvalidSampleRate: the device does not play at the rate asked for.
_PA_INVALID_SAMPLE_RATE = -9997
# Cutting a waveform off mid-swing is an audible click; a 5 ms fade is not heard as one.
FADE_SECONDS = 0.005
# A stream opened longer ago than this and never started is replaced before it starts.
STALE_STREAM_S = 1.0
# How long stop/pause/resume may wait for a thread that is busy with the stream.
_CONTROL_WAIT_S = 0.02
# Timing noise allowed before a late callback counts as an xrun.
_CALLBACK_SLACK = 0.002


def rescan_devices() -> bool:
    """Make PortAudio see the current sound servers; False if streams are open (nothing done)."""
    return portaudio.rescan()


def output_devices() -> list[str]:
    """Names of the devices that can play sound, as they are now."""
    if sd is None:
        return []
    portaudio.rescan()
    try:
        devices = portaudio.query_devices()
    except SoundOutputStuck:
        return []
    return [device["name"] for device in devices if device["max_output_channels"] > 0]


def default_output_available() -> tuple[bool, str]:
    """Whether playback on the default output would work now, with a short reason."""
    if sd is None:
        return False, "PortAudio is not installed (apt install libportaudio2)"
    portaudio.rescan()
    try:
        info = portaudio.query_devices(kind="output")
    except (sd.PortAudioError, ValueError, SoundOutputStuck):
        return False, "no sound output device found (is PulseAudio/PipeWire running?)"
    rate = int(info["default_samplerate"])
    try:
        # Listing is not enough: the ALSA "pulse" device is listed even when its server is gone.
        portaudio.close(portaudio.open_output(samplerate=rate, channels=1, dtype="float32"))
    except (sd.PortAudioError, SoundOutputStuck) as error:
        return False, f"the default output {info['name']!r} cannot be opened ({error})"
    return True, f"plays on {info['name']!r} at {rate} Hz"


class Player:
    """One long-lived output stream; a callback pulls from a buffer of queued samples.

    Opening a device costs time, so the stream stays open between utterances. After
    ``idle_close_s`` of silence it is closed (a running stream keeps waking the CPU and keeps the
    sound card from suspending) and the next sound opens it again. Closing rather than stopping:
    PortAudio's ALSA backend hangs when a stopped stream is started after the sound server
    restarted, while opening a fresh stream works.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        block_frames: int = 256,
        latency: str | float = "low",
        tail_padding_ms: int = 120,
        stream_rate: int | None = None,
        on_mark: Callable[[object], None] | None = None,
        idle_close_s: float | None = 10.0,
    ) -> None:
        if block_frames <= 0 or tail_padding_ms < 0:
            raise ValueError("block_frames must be positive and tail_padding_ms not negative")
        self._device = device
        self._block_frames = block_frames
        self._latency = latency
        self._tail_padding_s = tail_padding_ms / 1000
        self._forced_rate = stream_rate
        self._on_mark = on_mark
        self._idle_close_s = idle_close_s

        # Serialises what drives the stream: open/start/close, feeding, the idle close. The
        # callback never takes it, so it may be held across slow PortAudio calls.
        self._control = threading.RLock()
        # Guards the state shared with the callback; held only for short copies, never across
        # a PortAudio call.
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._wake = threading.Event()

        # Owned by the control side.
        self._stream: sd.OutputStream | None = None
        self._rate: int | None = None
        self._requested_rate: int | None = None
        self._latency_s = 0.0
        self._opened_at = 0.0
        self._fade_down = np.ones(0, dtype=np.float32)
        self._fade_up = self._fade_down
        self._resampler: ChunkResampler | None = None
        self._resampler_epoch = -1
        self._notifier: threading.Thread | None = None

        # Shared with the callback and the notifier, under _lock.
        self._queue: deque[Piece] = deque()
        self._offset = 0  # read position in self._queue[0]
        self._queued_frames = 0
        self._frames_played = 0
        self._underruns = 0
        self._xruns = 0
        self._callback_due: float | None = None  # later than this, the device has run dry
        self._feeding = False  # enqueue called, end_utterance not yet
        self._paused = False
        self._pause_tail = 0  # faded-out samples still to play before the pause is silent
        self._running = False  # the stream is started
        self._dead = False  # the stream ended without us closing it (sound server gone)
        self._stopping = False  # we are closing the stream ourselves
        self._closing = False
        self._reached: list[tuple[object, float]] = []  # (mark, monotonic time it is heard)
        self._heard_at = 0.0  # when the last sample handed to the device is heard
        self._epoch = 0  # bumped by stop(): a chunk being converted then is dropped
        self._activity = 0  # bumped by whatever makes sound, to restart the idle timer

    # -- stream ------------------------------------------------------------------------------

    def open(self, sample_rate: int) -> None:
        """Open the stream (or keep the open one); raise NoOutputDevice when there is none."""
        with self._control:
            wanted = self._forced_rate or sample_rate
            if self._stream is not None and not self._dead:
                if wanted in (self._rate, self._requested_rate) or self._forced_rate:
                    return
                if not self._is_idle():
                    return  # switching rates now would cut the sound; resample instead
            elif self._rate is not None and not self._is_idle():
                # Closed for idleness while paused, or the server went away: what is queued
                # was made for the old rate.
                self._reopen()
                return
            self._close_stream()
            self._open_stream(wanted)

    @property
    def stream_rate(self) -> int | None:
        return self._rate

    def close(self, timeout: float = 2.5 * DEADLINE_S) -> None:
        """Silence and close the stream, within ``timeout`` even when the sound server hangs
        (a stream that does not answer is then left to the end of the process)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
        self._wake.set()
        self.stop()
        if self._notifier is not None:
            # Before taking _control: the notifier may be waiting for it.
            self._notifier.join(max(0.0, deadline - time.monotonic()))
            self._notifier = None
        if self._control.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                if self._stream is not None:
                    self._close_stream()
            finally:
                self._control.release()
        else:
            log.warning("the sound output did not answer; leaving its stream to the exit")
        with self._lock:
            self._closing = False

    def __enter__(self) -> Player:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- feeding -----------------------------------------------------------------------------

    def enqueue(
        self,
        samples: np.ndarray,
        sample_rate: int,
        mark: object | None = None,
        cancel: threading.Event | None = None,
        marks: Sequence[tuple[int, object]] = (),
    ) -> None:
        """Queue float32 mono samples; ``on_mark(mark)`` is called when their first one is heard,
        and ``on_mark(m)`` for each ``(index, m)`` of ``marks`` when sample ``index`` is.

        Nothing is queued once ``cancel`` is set: a caller that sets it and then calls ``stop``
        never hears this chunk, however the two threads interleave.
        """
        samples = _mono_float32(samples)
        with self._control:
            self._ensure_open(sample_rate)
            with self._lock:
                silent = self._plays_only_silence()
            if silent:
                # The device holds a buffer of silence (~23 ms) in front of this sound; a fresh
                # stream starts with the sound itself (2-5 ms to open and start). It is opened
                # before the sound is queued: the old stream's callback would take the sound's
                # first blocks into the silence that closing it throws away.
                self._reopen()
            with self._lock:
                epoch = self._epoch
            pieces = []
            for part, part_mark in _marked_parts(samples, mark, marks):
                pieces += self._convert(part, sample_rate, part_mark, epoch)
            with self._lock:
                if epoch != self._epoch or (cancel is not None and cancel.is_set()):
                    return  # stop() came while this chunk was being converted
                self._append(pieces)
                self._feeding = True
                self._activity += 1
            self._ensure_started()

    def end_utterance(self, cancel: threading.Event | None = None) -> None:
        """Flush the resampler and pad with silence so the last syllable is not cut off."""
        self._flush(cancel, padding_s=self._tail_padding_s)

    def gap(self, cancel: threading.Event | None = None) -> None:
        """Nothing more to play for a while, mid-utterance (a stream waits for its text): what
        the resampler holds goes out now, and the silence until more comes is no underrun."""
        self._flush(cancel, padding_s=0.0)

    def _flush(self, cancel: threading.Event | None, padding_s: float) -> None:
        with self._control:
            with self._lock:
                epoch, feeding = self._epoch, self._feeding
            if not feeding or self._rate is None:
                self._resampler = None
                return
            pieces = []
            if self._resampler is not None and self._resampler_epoch == epoch:
                pieces = self._resampler.flush()
            self._resampler = None
            # PortAudio's ALSA backend drops the last 15-50 ms queued when a stream stops.
            padding = round(padding_s * self._rate)
            if padding:
                pieces.append(Piece(np.zeros(padding, dtype=np.float32)))
            with self._lock:
                if epoch != self._epoch or (cancel is not None and cancel.is_set()):
                    return
                self._append(pieces)
                self._feeding = False
                self._activity += 1
            self._ensure_open(self._rate)
            self._ensure_started()

    def mark_end(self, mark: object, early_s: float = 0.0, threshold: float = 0.01) -> None:
        """``on_mark(mark)`` when what is queued has been heard, but for its last ``early_s``
        seconds of silence: never before its last sample above ``threshold`` is heard."""
        with self._lock:
            total = self._queued_frames
            quiet = 0  # samples below the threshold at the end of the queue
            for piece in reversed(self._queue):
                loud = np.flatnonzero(np.abs(piece.samples) > threshold)
                if loud.size:
                    quiet += len(piece.samples) - int(loud[-1]) - 1
                    break
                quiet += len(piece.samples)
            at = total - min(quiet, round(early_s * (self._rate or 1)))
            if at <= 0 or not self._queue:
                self._reached.append((mark, max(time.monotonic(), self._heard_at)))
                self._wake.set()
                return
            self._insert_mark(at, mark)

    def _insert_mark(self, at: int, mark: object) -> None:
        """Put an empty piece carrying ``mark`` ``at`` samples into the queue (with _lock)."""
        position = -self._offset
        for index, piece in enumerate(self._queue):
            end = position + len(piece.samples)
            if at < end or index == len(self._queue) - 1:
                # at > 0, so the cut lies after what the callback has read of the first piece.
                cut = max(0, min(len(piece.samples), at - position))
                parts = [Piece(piece.samples[:cut], piece.mark), Piece(piece.samples[:0], mark)]
                parts.append(Piece(piece.samples[cut:]))
                del self._queue[index]
                for offset, part in enumerate(parts):
                    self._queue.insert(index + offset, part)
                return
            position = end

    def wait(self, timeout: float | None = None) -> bool:
        """Block until everything queued has been heard (True), or the timeout passed (False).

        Also returns False at once when the stream died (sound server gone) with sound queued.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._drained.wait_for(lambda: not self._queue or self._dead, timeout)
            if self._queue:
                return False
            heard_at = self._heard_at
        # The device still holds the last samples handed to it for its latency.
        until = heard_at if deadline is None else min(heard_at, deadline)
        time.sleep(max(0.0, until - time.monotonic()))
        return deadline is None or heard_at <= deadline

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Drop everything queued and what the sound server still holds: silence at once.

        Letting a fade play out behind the device's buffer took 25-35 ms; closing the running
        stream makes PortAudio abort it, ALSA drop its buffer and PulseAudio (or PipeWire) flush
        what it holds for the stream, as speechd's own output does on stop. The sound is cut
        where the server is, without a fade. When another thread is in a slow call on the
        stream, the queue is dropped with a 5 ms fade and what the device holds plays out.
        """
        with self._lock:
            # The 5 ms fade-out is only for a stream that is playing it.
            sounding = self._running and self._has_sound()
            # Sound may still be in the device and the server after the queue ran dry.
            audible = sounding or (self._running and time.monotonic() < self._heard_at)
            tail = self._take(len(self._fade_down)) if sounding else None
            self._clear_queue()
            if tail is not None and len(tail):
                tail *= self._fade_down[: len(tail)]
                self._append([Piece(tail)])
            self._feeding = False
            self._paused = False
            self._pause_tail = 0
            self._reached.clear()
            self._epoch += 1
            self._activity += 1
            activity = self._activity
            if not self._queue:
                self._drained.notify_all()
        self._wake.set()
        if audible:
            # On a thread of its own: closing waits for the sound server, and stop must return
            # at once even when that server hangs (a stuck close is abandoned after a second).
            threading.Thread(
                target=self._cut, args=(activity,), name="readaloud-player-cut", daemon=True
            ).start()

    def _cut(self, activity: int) -> None:
        """Close the stream, unless anything was queued (or paused) since ``activity``."""
        if not self._control.acquire(timeout=_CONTROL_WAIT_S):
            return  # busy in a call on the stream: the fade and the device's buffer play out
        try:
            with self._lock:
                if self._activity != activity:
                    return  # a new sound is on its way into this stream: it must not be cut
                self._clear_queue()
                self._heard_at = time.monotonic()
                self._drained.notify_all()
            self._close_stream()
        finally:
            self._control.release()

    def pause(self) -> None:
        """Fade out and output silence, keeping the position."""
        with self._lock:
            if self._paused:
                return
            self._paused = True
            self._pause_tail = self._shape(self._fade_down)
            self._activity += 1
        self._wake.set()  # the idle timer starts

    def resume(self) -> None:
        """Continue with the sample after the last one heard before the pause.

        Returns at once: when the stream must be opened or started again and another thread is
        busy with it (a sound server that does not answer), that is finished in the background.
        """
        with self._lock:
            if not self._paused:
                return
            if self._pause_tail == 0:
                self._shape(self._fade_up)
            self._paused = False
            self._pause_tail = 0
            self._activity += 1
        if self._control.acquire(timeout=_CONTROL_WAIT_S):
            try:
                self._restart()
            finally:
                self._control.release()
        else:
            threading.Thread(
                target=self._restart_later, name="readaloud-player-resume", daemon=True
            ).start()

    def _restart(self) -> None:
        with self._lock:
            if not self._has_sound():
                return  # nothing to play: the next enqueue opens and starts the stream
        if self._rate is not None:
            self._ensure_open(self._rate)
        self._ensure_started()

    def _restart_later(self) -> None:
        with self._control:
            try:
                self._restart()
            except NoOutputDevice as error:
                log.warning("could not resume: %s", error)
                with self._lock:
                    self._dead = True  # `lost`: the speech worker waits for the output to return
                    self._drained.notify_all()

    @property
    def active(self) -> bool:
        """Whether the stream is running (it is closed after ``idle_close_s`` of silence)."""
        return self._running

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def lost(self) -> bool:
        """The stream ended without being closed (the sound server went away) with sound
        still queued: what is queued will not play until the stream is opened again."""
        return self._dead and bool(self._queue)

    @property
    def buffered_seconds(self) -> float:
        """Queued and not yet handed to the device."""
        return self._queued_frames / self._rate if self._rate else 0.0

    @property
    def underruns(self) -> int:
        """Audio blocks that found the queue empty while an utterance was still being fed."""
        return self._underruns

    @property
    def xruns(self) -> int:
        """Times the device ran dry waiting for the callback: the machine (CPU, GIL) was busy."""
        return self._xruns

    @property
    def frames_played(self) -> int:
        """Queued samples (at the stream rate) handed to the device so far."""
        return self._frames_played

    # -- internals: control side -------------------------------------------------------------

    def _open_stream(self, rate: int) -> None:
        if sd is None:
            raise NoOutputDevice(NO_PORTAUDIO_MESSAGE)
        try:
            stream, actual = self._try_open(rate)
        except SoundOutputStuck as error:
            raise self._no_device() from error
        except (sd.PortAudioError, ValueError) as first_error:
            # A sound server that started after us is invisible until PortAudio is re-initialised.
            if not portaudio.rescan():
                raise self._no_device() from first_error
            try:
                stream, actual = self._try_open(rate)
            except (sd.PortAudioError, ValueError, SoundOutputStuck) as error:
                raise self._no_device() from error
        self._stream = stream
        self._opened_at = time.monotonic()
        self._rate = actual
        self._requested_rate = rate
        self._latency_s = float(stream.latency)
        fade = max(1, round(actual * FADE_SECONDS))
        self._fade_down = (0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade + 1) / (fade + 1))).astype(
            np.float32
        )
        self._fade_up = self._fade_down[::-1].copy()
        with self._lock:
            self._dead = False
            self._running = False
        if self._notifier is None or not self._notifier.is_alive():
            self._notifier = threading.Thread(
                target=self._notify_loop, name="readaloud-player-notifier", daemon=True
            )
            self._notifier.start()
        log.debug("Opened output stream at %d Hz, latency %.1f ms", actual, self._latency_s * 1e3)

    def _try_open(self, rate: int) -> tuple[sd.OutputStream, int]:
        try:
            return self._new_stream(rate), rate
        except sd.PortAudioError as error:
            if len(error.args) < 2 or error.args[1] != _PA_INVALID_SAMPLE_RATE:
                raise
            if self._forced_rate:
                raise NoOutputDevice(
                    f"The sound output device does not play at {rate} Hz; "
                    "choose another output rate. " + _FILE_HINT
                ) from error
        default = int(portaudio.query_devices(self._device, "output")["default_samplerate"])
        return self._new_stream(default), default

    def _new_stream(self, rate: int) -> sd.OutputStream:
        return portaudio.open_output(
            samplerate=rate,
            device=self._device,
            channels=1,
            dtype="float32",
            blocksize=self._block_frames,
            latency=self._latency,
            callback=self._callback,
            finished_callback=self._on_finished,
        )

    def _no_device(self) -> NoOutputDevice:
        if self._device is None:
            return NoOutputDevice(NO_DEVICE_MESSAGE)
        return NoOutputDevice(
            f"Sound output device {self._device!r} is not available (is PulseAudio/PipeWire "
            f"running, and is the name right?). {_FILE_HINT}"
        )

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with self._lock:
            self._stopping = True
        try:
            portaudio.close(stream)
        except SoundOutputStuck:
            pass  # abandoned: a fresh stream is opened for the next sound
        finally:
            with self._lock:
                self._stopping = False
                self._running = False

    def _ensure_open(self, sample_rate: int) -> None:
        if self._stream is None or self._dead:
            self.open(sample_rate)

    def _reopen(self) -> None:
        """Open a fresh stream at the rate of what is queued (the device accepted it before)."""
        previous, requested = self._rate, self._requested_rate
        self._close_stream()
        self._open_stream(previous or 0)
        self._requested_rate = requested
        if self._rate != previous:  # the device changed under us: the queue is at a wrong rate
            with self._lock:
                self._clear_queue()
            self._resampler = None

    def _ensure_started(self) -> None:
        stream = self._stream
        if stream is None:
            return
        with self._lock:
            if self._running or self._dead or not self._has_sound():
                return
        if time.monotonic() - self._opened_at > STALE_STREAM_S:
            # Starting a stream opened before the sound server went away never returns (see
            # audio/portaudio.py); a fresh one costs 2-4 ms and fails cleanly instead.
            self._reopen()
            stream = self._stream
            if stream is None:
                return
        with self._lock:
            if self._running or self._dead or not self._has_sound():
                return
            self._running = True
            self._callback_due = None
        try:
            portaudio.start(stream)
        except (sd.PortAudioError, SoundOutputStuck) as error:
            with self._lock:
                self._running = False
            self._close_stream()
            raise self._no_device() from error

    def _convert(
        self, samples: np.ndarray, sample_rate: int, mark: object | None, epoch: int
    ) -> list[Piece]:
        pieces: list[Piece] = []
        resampler = self._resampler
        if resampler is not None and (
            resampler.in_rate != sample_rate
            or resampler.out_rate != self._rate
            or self._resampler_epoch != epoch
        ):
            if self._resampler_epoch == epoch and resampler.out_rate == self._rate:
                # The voice changed rate mid-utterance (engine failover): finish the old signal.
                pieces += resampler.flush()
            self._resampler = None
        if sample_rate == self._rate:
            pieces.append(Piece(samples.copy(), mark))  # the callback reads it later
            return pieces
        if self._resampler is None:
            self._resampler = ChunkResampler(sample_rate, self._rate or sample_rate)
            self._resampler_epoch = epoch
        pieces += self._resampler.feed(samples, mark)
        return pieces

    def _notify_loop(self) -> None:
        idle_since: float | None = None
        idle_activity = -1
        while True:
            self._wake.clear()
            now = time.monotonic()
            with self._lock:
                if self._closing:
                    return
                due = [mark for mark, at in self._reached if at <= now]
                self._reached = [(mark, at) for mark, at in self._reached if at > now]
                next_due = min((at for _, at in self._reached), default=None)
                idle = self._running and not self._has_sound()
                activity = self._activity
            for mark in due:
                self._deliver(mark)
            timeout = None if next_due is None else next_due - now
            if idle and self._idle_close_s is not None:
                if idle_since is None or activity != idle_activity:
                    idle_since, idle_activity = now, activity
                left = idle_since + self._idle_close_s - now
                if left <= 0:
                    self._close_if_idle(activity)
                    idle_since = None
                    continue
                timeout = left if timeout is None else min(timeout, left)
            else:
                idle_since = None
            self._wake.wait(timeout)

    def _close_if_idle(self, activity: int) -> None:
        with self._control:
            with self._lock:
                idle = self._running and not self._has_sound() and self._activity == activity
            if idle:
                self._close_stream()
                log.debug("Closed the idle output stream")

    def _deliver(self, mark: object) -> None:
        if self._on_mark is None:
            return
        try:
            self._on_mark(mark)
        except Exception:
            log.exception("on_mark callback failed for %r", mark)

    def _is_idle(self) -> bool:
        with self._lock:
            return not self._queue and not self._feeding

    # -- internals: shared with the callback (call with _lock held) --------------------------

    def _plays_only_silence(self) -> bool:
        """The stream runs, and all it holds and will play is silence."""
        return (
            self._running
            and not self._queue
            and not self._paused
            and time.monotonic() >= self._heard_at
        )

    def _has_sound(self) -> bool:
        return bool(self._queue) and not (self._paused and self._pause_tail == 0)

    def _clear_queue(self) -> None:
        self._queue.clear()
        self._offset = 0
        self._queued_frames = 0

    def _append(self, pieces: list[Piece]) -> None:
        self._queue.extend(pieces)
        self._queued_frames += sum(len(piece.samples) for piece in pieces)

    def _take(self, count: int) -> np.ndarray:
        """A copy of the next ``count`` queued samples (fewer if fewer are queued)."""
        out = np.empty(count, dtype=np.float32)
        filled, offset = 0, self._offset
        for piece in self._queue:
            n = min(count - filled, len(piece.samples) - offset)
            out[filled : filled + n] = piece.samples[offset : offset + n]
            filled, offset = filled + n, 0
            if filled == count:
                break
        return out[:filled]

    def _shape(self, gains: np.ndarray) -> int:
        """Multiply the next queued samples by ``gains`` in place; returns how many were shaped."""
        done, offset = 0, self._offset
        for piece in self._queue:
            n = min(len(gains) - done, len(piece.samples) - offset)
            piece.samples[offset : offset + n] *= gains[done : done + n]
            done, offset = done + n, 0
            if done == len(gains):
                break
        return done

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Runs on PortAudio's thread every block: no allocation-heavy work, no logging, no waits.
        out = outdata[:, 0]
        now = time.monotonic()
        # How much sound the device holds ahead of this block: PortAudio's DAC time if sane.
        delay = time_info.outputBufferDacTime - time_info.currentTime
        if not 0.0 <= delay < 1.0:
            delay = self._latency_s
        with self._lock:
            rate = self._rate or 1
            # Called later than the sound the device held lasted: it ran dry (the ALSA plugin of
            # PulseAudio does not always report that as an underflow).
            late = self._callback_due is not None and now > self._callback_due
            if status.output_underflow or late:
                self._xruns += 1
            self._callback_due = now + delay + frames / rate + _CALLBACK_SLACK
            queue = self._queue
            had_sound = self._has_sound()
            limit = min(frames, self._pause_tail) if self._paused else frames
            filled = 0
            marks: list[tuple[object, int]] | None = None
            while queue and filled < limit:
                piece = queue[0]
                samples = piece.samples
                if self._offset == 0 and piece.mark is not None:
                    if marks is None:
                        marks = []
                    marks.append((piece.mark, filled))
                n = min(limit - filled, len(samples) - self._offset)
                out[filled : filled + n] = samples[self._offset : self._offset + n]
                filled += n
                self._offset += n
                if self._offset >= len(samples):
                    queue.popleft()
                    self._offset = 0
            if filled < frames:
                out[filled:] = 0.0
                if self._feeding and not self._paused:
                    self._underruns += 1
            if self._paused:
                self._pause_tail = self._pause_tail - filled if queue else 0
            self._frames_played += filled
            self._queued_frames -= filled
            if filled or marks:
                start = now + delay  # when this block's first sample is heard
                self._heard_at = start + filled / rate
                if marks:
                    self._reached.extend((mark, start + at / rate) for mark, at in marks)
                    self._wake.set()
            if had_sound and not self._has_sound():
                self._drained.notify_all()
                self._wake.set()  # the idle timer starts

    def _on_finished(self) -> None:
        with self._lock:
            if not self._stopping:
                self._dead = True  # the sound server went away; the next sound reopens
            self._running = False
            self._drained.notify_all()
        self._wake.set()


def player_for(audio: AudioConfig, on_mark: Callable[[object], None] | None = None) -> Player:
    """The Player the ``[audio]`` settings describe (the one way to build one)."""
    return Player(
        audio.output_device,
        block_frames=audio.block_frames,
        tail_padding_ms=audio.tail_padding_ms,
        stream_rate=audio.sample_rate or None,
        on_mark=on_mark,
        idle_close_s=audio.idle_close_s,
    )


def _marked_parts(
    samples: np.ndarray, mark: object | None, marks: Sequence[tuple[int, object]]
) -> list[tuple[np.ndarray, object | None]]:
    """``samples`` cut where each mark stands, each part with the mark at its start (several
    marks at one place: empty parts in front)."""
    if not marks:
        return [(samples, mark)]
    inside = ((min(max(0, i), len(samples)), m) for i, m in marks)
    at = [(0, mark), *sorted(inside, key=itemgetter(0))]
    ends = [index for index, _ in at[1:]] + [len(samples)]
    return [
        (samples[begin:end], m)
        for (begin, m), end in zip(at, ends, strict=True)
        if end > begin or m is not None
    ]


def _mono_float32(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2 and samples.shape[1] == 1:
        samples = samples[:, 0]
    if samples.ndim != 1:
        raise ValueError(f"expected mono samples, got an array of shape {samples.shape}")
    return np.ascontiguousarray(samples)
