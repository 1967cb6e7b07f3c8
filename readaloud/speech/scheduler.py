"""The daemon's speech queue: one synthesis worker owns the engine; requests interrupt or queue;
stop, pause, resume and skip act at once from any thread; events report progress to listeners.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from readaloud.audio.player import Player
from readaloud.engines.base import AudioChunk, Engine, WordTiming
from readaloud.errors import ExitCode, NoOutputDevice, ReadaloudError
from readaloud.speech.events import (
    MISSING_VOICE,
    Event,
    Paused,
    Resumed,
    SegmentInfo,
    SegmentStarted,
    SoundEnded,
    SpeechFailed,
    SpeechStatus,
    Stopping,
    UtteranceEnded,
    UtteranceQueued,
    UtteranceStarted,
    UtteranceTiming,
    WordStarted,
)
from readaloud.speech.segments import FixedSegments, SegmentSource
from readaloud.speech.stream import TextStream
from readaloud.speech.synthesis import SpokenChunk, prepare, synthesize
from readaloud.speech.utterance import Utterance

log = logging.getLogger(__name__)

#: ``sound_end`` comes this long before an utterance's closing pause is over (never before its
#: last sound): a client that waits for it to send the next message (speechd's Say All) is heard
#: about that much later, so the next sentence follows after the pause it would have had.
SOUND_END_EARLY_S = 0.08

Listener = Callable[[Event], None]


class Mode(StrEnum):
    INTERRUPT = "interrupt"  # stop what is playing, drop the queue, speak this now
    QUEUE = "queue"  # speak this after everything already asked for


class QueueFull(ReadaloudError):
    """Too many requests are waiting; the client should retry later (HTTP 429)."""

    exit_code = ExitCode.QUEUE_FULL


@dataclass
class FirstSoundTimes:
    """Where the time to the first sound went, for ``readaloud bench`` (reported once)."""

    submitted_at: float  # wall clock
    extract_ms: float
    prepare_ms: float
    queued_perf: float  # perf_counter when queued
    started_perf: float | None = None  # perf_counter when synthesis began
    engine_first_chunk_ms: float | None = None
    reported: bool = False


@dataclass
class Job:
    id: str
    utterance: Utterance
    #: The text's segments, or a stream's as they come.
    segments: SegmentSource
    #: Where the time to first sound went, for ``readaloud bench``.
    timings: FirstSoundTimes
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Segment where synthesis (re)starts; moved by skip.
    next_index: int = 0
    #: Last segment the listener has started to hear.
    heard_index: int = -1
    restart: bool = False
    #: Its last sound has been heard (``SoundEnded``): a stop now cuts only the closing pause.
    sound_heard: bool = False
    audio_s: float = 0.0
    synthesis_s: float = 0.0
    #: Seconds a stream waited for its text: not synthesis time, not the engine's.
    waited_s: float = 0.0
    waiting_since: float | None = None


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        player: Player,
        *,
        first_fragment_words: int = 6,
        max_buffer_seconds: float = 20.0,
        max_queue: int = 32,
        on_failure: Callable[[ReadaloudError], None] | None = None,
        on_chunk: Callable[[str, SpokenChunk], None] | None = None,
        on_submit: Callable[[Utterance], None] | None = None,
    ) -> None:
        self.engine = engine
        self.player = player
        self.first_fragment_words = first_fragment_words
        self.max_buffer_seconds = max_buffer_seconds
        self.max_queue = max_queue
        self.on_failure = on_failure
        #: ``on_chunk(utterance_id, chunk)`` for every chunk handed to the player.
        self.on_chunk = on_chunk
        #: ``on_submit(utterance)`` for every request accepted (before it is queued).
        self.on_submit = on_submit
        self._lock = threading.Condition()
        self._pending: deque[Job] = deque()
        self._current: Job | None = None
        self._listeners: list[Listener] = []
        self._closed = False
        self._sequence = itertools.count(1)
        self._worker = threading.Thread(target=self._run, name="readaloud-speech", daemon=True)
        self._worker.start()

    # -- requests ----------------------------------------------------------------------------

    def submit(
        self,
        utterance: Utterance,
        mode: Mode = Mode.INTERRUPT,
        *,
        extract_ms: float = 0.0,
        stream: TextStream | None = None,
    ) -> str:
        """Queue ``utterance``; return its id. Input errors are raised here, before any sound.

        ``stream``: a streamed utterance's text, written while it is spoken; it is closed when
        the utterance is over, or here when it is refused. ``extract_ms``: time the caller
        spent getting the text (page fetch, selection), reported in the timing event.
        """
        try:
            return self._submit(utterance, mode, extract_ms, stream)
        except BaseException:
            if stream is not None:
                stream.close()  # refused: nothing will read it
            raise

    def _submit(
        self, utterance: Utterance, mode: Mode, extract_ms: float, stream: TextStream | None
    ) -> str:
        submitted_at = time.time()
        began = time.perf_counter()
        segments: SegmentSource
        if stream is not None:
            self.engine.validate(utterance.voice, utterance.language)
            segments = stream
        else:
            segments = FixedSegments(
                utterance.text, prepare(self.engine, utterance, self.first_fragment_words)
            )
            if self.on_submit is not None:
                self.on_submit(utterance)
        job = Job(
            id=f"u{next(self._sequence)}-{uuid.uuid4().hex[:8]}",
            utterance=utterance,
            segments=segments,
            timings=FirstSoundTimes(
                submitted_at=submitted_at,
                extract_ms=extract_ms,
                prepare_ms=(time.perf_counter() - began) * 1000,
                queued_perf=time.perf_counter(),
            ),
        )
        dropped: list[Job] = []
        with self._lock:
            if mode is Mode.INTERRUPT:
                dropped = list(self._pending)
                self._pending.clear()
                interrupted = self._current
            else:
                interrupted = None
                if len(self._pending) >= self.max_queue:
                    raise QueueFull(
                        f"{len(self._pending)} requests are already waiting; "
                        "try again when some have been spoken, or stop first."
                    )
            self._pending.append(job)
            self._lock.notify_all()
        if interrupted is not None:
            self._silence(interrupted)
            self.player.resume()  # a new request ends a pause
        self._drop(dropped)
        self._emit(UtteranceQueued(job.id, segments.known()))
        return job.id

    def stop(self) -> None:
        """Silence now and drop everything waiting."""
        with self._lock:
            dropped = list(self._pending)
            self._pending.clear()
            current = self._current
            if current is not None:
                current.restart = False  # a skip or a new speed not yet begun must not undo it
        if current is not None:
            self._silence(current)
        else:
            self.player.stop()
        self._drop(dropped)

    def _drop(self, jobs: list[Job]) -> None:
        for old in jobs:
            old.segments.close()
            self._emit(UtteranceEnded(old.id, completed=False))

    def cancel(self, uid: str) -> bool:
        """Stop one utterance: silence it if it is being spoken, drop it if it waits."""
        with self._lock:
            current = self._current if self._current and self._current.id == uid else None
            if current is not None:
                current.restart = False
            dropped = [job for job in self._pending if job.id == uid]
            for job in dropped:
                self._pending.remove(job)
        if current is not None:
            self._silence(current)
        self._drop(dropped)
        return current is not None or bool(dropped)

    def pause(self) -> bool:
        if self._current is None:
            return False
        self.player.pause()
        self._emit(Paused())
        return True

    def resume(self) -> bool:
        if not self.player.paused:
            return False
        self.player.resume()
        self._emit(Resumed())
        return True

    def toggle(self) -> str:
        """Pause when speaking, resume when paused; returns the new state."""
        if self.player.paused:
            self.resume()
        else:
            self.pause()
        return self.status().state

    def skip(self, count: int = 1) -> bool:
        """Move by whole sentences (segments): +1 next, -1 back to the previous one."""
        with self._lock:
            job = self._current
            if job is None:
                return False
            target = max(0, max(job.heard_index, 0) + count)
            if target >= job.segments.known() and job.segments.finished():
                job.restart = False
            else:
                job.next_index = target
                job.restart = True
        self._silence(job)
        return True

    def set_rate(self, rate: float) -> bool:
        """Read on at ``rate`` from the start of the sentence being heard (what is already
        made at the old rate is dropped); False when nothing is being read."""
        with self._lock:
            job = self._current
            if job is None or (job.cancel.is_set() and not job.restart):
                return False
            job.utterance = replace(job.utterance, rate=rate)  # checks the range
            job.next_index = max(job.heard_index, 0)
            job.restart = True
        self._silence(job)
        return True

    def status(self) -> SpeechStatus:
        with self._lock:
            job = self._current
            queued = len(self._pending)
            if job is not None and job.cancel.is_set() and not job.restart:
                job = None  # stopped: the worker is only winding down its last synthesis call
        segment = None
        seg = job.segments.get(job.heard_index) if job is not None else None
        if job is not None and seg is not None:
            segment = SegmentInfo(job.heard_index, seg.start, seg.end, seg.text)
        state = "idle" if job is None else "paused" if self.player.paused else "speaking"
        return SpeechStatus(
            state=state,
            utterance=job.id if job else None,
            segment=segment,
            queued=queued,
            engine=self.engine.name,
            underruns=self.player.underruns,
            xruns=self.player.xruns,
        )

    def busy(self) -> bool:
        """Whether something is being spoken (or paused) now."""
        return self.status().state != "idle"

    # -- events ------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """``listener(event)`` is called from speech threads; it must return quickly."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a broken client must not stop speech
                log.exception("event listener failed")

    # -- lifecycle ---------------------------------------------------------------------------

    def announce_stopping(self) -> None:
        """Tell listeners the daemon is shutting down (event streams end on it)."""
        self._emit(Stopping())

    def close(self, timeout: float = 2.0) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self.stop()
        self._worker.join(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is speaking or waiting (tests and the CLI use it)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._current is None and not self._pending, timeout)

    # -- worker ------------------------------------------------------------------------------

    def _silence(self, job: Job) -> None:
        # Cancel first: the player drops any chunk fed with a set cancel flag, so old audio
        # cannot slip in after the stop, and stop never waits for the worker (which may be
        # stuck in a sound server that does not answer).
        job.cancel.set()
        self.player.stop()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                job = self._current = self._pending.popleft()
            self._emit(UtteranceStarted(job.id, job.utterance.text))
            completed = self._speak(job)
            job.segments.close()
            with self._lock:
                self._current = None
                self._lock.notify_all()
            self._emit(
                UtteranceEnded(
                    job.id,
                    completed,
                    audio_s=round(job.audio_s, 3),
                    synthesis_s=round(job.synthesis_s, 3),
                    underruns=self.player.underruns,
                )
            )

    def _speak(self, job: Job) -> bool:
        while True:
            try:
                completed = self._play_from(job, job.next_index)
            except ReadaloudError as error:
                lost = isinstance(error, NoOutputDevice) and job.heard_index >= 0
                if lost and self._output_back(job):
                    # The sound server restarted mid-utterance (or the headset came back):
                    # read on from the sentence that was being heard, so no word is lost.
                    job.next_index = max(job.heard_index, job.next_index)
                    continue
                if job.cancel.is_set():
                    return False  # stopped while the output was away: not a failure
                log.warning("speech failed: %s", error)
                self._emit(SpeechFailed(job.id, str(error), error.code))
                self.player.stop()
                if self.on_failure:
                    self.on_failure(error)
                return False
            with self._lock:
                if not job.restart:
                    return completed
                job.restart = False
                job.cancel = threading.Event()

    def _play_from(self, job: Job, first_index: int) -> bool:
        cancel = job.cancel
        self.player.open(self.engine.sample_rate)
        last_index = -1
        pieces = synthesize(
            self.engine,
            job.utterance,
            cancel,
            first_fragment_words=self.first_fragment_words,
            segments=job.segments,
            first_index=first_index,
            utterance_id=job.id,
            on_wait=self._waiting_for_text(job),
            pace=self._pace(job),
        )
        synth_started = time.perf_counter()
        times = job.timings
        if times.started_perf is None:
            times.started_perf = synth_started
        waited = job.waited_s
        for piece in pieces:
            now = time.perf_counter()
            busy = now - synth_started - (job.waited_s - waited)
            waited = job.waited_s
            job.synthesis_s += busy
            job.audio_s += piece.chunk.duration
            if times.engine_first_chunk_ms is None:
                times.engine_first_chunk_ms = busy * 1000
            while self.player.buffered_seconds > self.max_buffer_seconds and not cancel.is_set():
                self._check_output()
                cancel.wait(0.05)
            mark = None
            if piece.index != last_index:
                last_index = piece.index
                mark = self._mark(job, piece)
            if piece.notice:
                log.warning("%s", piece.notice)
                self._emit(SpeechFailed(job.id, piece.notice, MISSING_VOICE))
            if cancel.is_set():
                return False
            self.player.enqueue(
                piece.chunk.samples,
                piece.chunk.sample_rate,
                mark=mark,
                cancel=cancel,
                marks=self._word_marks(job, piece.chunk),
            )
            if self.on_chunk is not None:
                self.on_chunk(job.id, piece)
            if not times.reported:
                self._report_timings(job.id, times)
            synth_started = time.perf_counter()
        if cancel.is_set():
            return False
        self.player.mark_end(self._sound_over(job), early_s=SOUND_END_EARLY_S)
        self.player.end_utterance(cancel)
        while not cancel.is_set():
            if self.player.wait(0.05):
                # A stop empties the queue too: that is not the end of the utterance...
                return not cancel.is_set() or job.sound_heard
            self._check_output()
        # ...unless it came in the closing pause, as the next sentence of a screen reader's Say
        # All does (sent on sound_end): every word was heard.
        return job.sound_heard

    def _waiting_for_text(self, job: Job) -> Callable[[bool], None]:
        """A stream has been spoken up to what has come: the gap until more comes is the
        writer's, not an underrun, and the last sound goes out whole now."""

        def hook(waiting: bool) -> None:
            if waiting:
                job.waiting_since = time.perf_counter()
                self.player.gap(job.cancel)
            elif job.waiting_since is not None:
                job.waited_s += time.perf_counter() - job.waiting_since
                job.waiting_since = None

        return hook

    def _pace(self, job: Job) -> Callable[[], None] | None:
        """For a source that picks what to read late (keep-up line mode): wait to ask for the
        next segment until only that much speech is left to hear."""
        ahead = job.segments.max_ahead_s
        if ahead is None:
            return None

        def wait() -> None:
            while self.player.buffered_seconds > ahead and not job.cancel.is_set():
                self._check_output()
                job.cancel.wait(0.02)

        return wait

    def _check_output(self) -> None:
        if self.player.lost:  # else the queue never drains and the worker waits for ever
            raise NoOutputDevice("The sound server went away while speaking.")

    def _output_back(self, job: Job, timeout: float = 10.0) -> bool:
        """Wait for the sound output to come back; False after ``timeout`` or on cancel."""
        self.player.stop()  # what was queued for the lost stream: re-made on resuming
        deadline = time.monotonic() + timeout
        while not job.cancel.wait(0.2):
            try:
                self.player.open(self.engine.sample_rate)
            except NoOutputDevice:
                if time.monotonic() > deadline:
                    return False
            else:
                log.warning("the sound output came back; reading on")
                return True
        return False

    def _report_timings(self, uid: str, times: FirstSoundTimes) -> None:
        times.reported = True
        started = times.started_perf if times.started_perf is not None else times.queued_perf
        self._emit(
            UtteranceTiming(
                uid,
                submitted_at=times.submitted_at,
                extract_ms=round(times.extract_ms, 2),
                prepare_ms=round(times.prepare_ms, 2),
                queue_wait_ms=round((started - times.queued_perf) * 1000, 2),
                engine_first_chunk_ms=round(times.engine_first_chunk_ms or 0.0, 2),
                enqueued_at=time.time(),
            )
        )

    def _sound_over(self, job: Job) -> Callable[[], None]:
        def heard() -> None:
            if not job.cancel.is_set():
                job.sound_heard = True
                self._emit(SoundEnded(job.id))

        return heard

    def _word_marks(self, job: Job, chunk: AudioChunk) -> list[tuple[int, Callable[[], None]]]:
        """A mark at each word's first sample: ``word`` events come as the word is heard."""
        source = job.segments

        def mark(word: WordTiming) -> Callable[[], None]:
            def heard() -> None:
                if not job.cancel.is_set() and word.end > word.start:
                    spoken = source.slice(word.start, word.end)
                    estimated = True if word.estimated else None
                    self._emit(WordStarted(job.id, word.start, word.end, spoken, estimated))

            return heard

        return [(round(word.at * chunk.sample_rate), mark(word)) for word in chunk.words]

    def _mark(self, job: Job, piece: SpokenChunk) -> Callable[[], None]:
        index, language, voice = piece.index, piece.language, piece.voice

        def heard() -> None:
            if job.cancel.is_set():
                return
            job.heard_index = index
            segment = job.segments.get(index)
            if segment is None:
                return
            job.segments.heard(index)
            self._emit(
                SegmentStarted(
                    job.id, index, segment.start, segment.end, segment.text, language, voice
                )
            )

        return heard
