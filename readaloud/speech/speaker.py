"""Speak one utterance at a time in this process (the CLI without a daemon, ``doctor --speak``):
a thin use of the daemon's Scheduler, so there is one playback loop, with the same gapless
synthesis ahead of playback, stop, failover and events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from readaloud.audio.player import Player
from readaloud.engines.base import Engine
from readaloud.errors import ReadaloudError
from readaloud.speech.events import (
    Event,
    SegmentStarted,
    UtteranceEnded,
    UtteranceQueued,
    UtteranceTiming,
)
from readaloud.speech.scheduler import Mode, Scheduler
from readaloud.speech.stream import TextStream
from readaloud.speech.synthesis import SpokenChunk
from readaloud.speech.utterance import Utterance

EventListener = Callable[[SegmentStarted], None]


@dataclass
class SpeechReport:
    """What happened while speaking: the figures the benchmark and the CLI report."""

    completed: bool = False
    segments: int = 0
    #: Seconds from the request to the first samples handed to the player.
    first_audio_s: float | None = None
    #: Seconds the engine took for its first chunk (inside first_audio_s).
    engine_first_chunk_s: float | None = None
    audio_s: float = 0.0
    synthesis_s: float = 0.0
    underruns: int = 0

    @property
    def real_time_factor(self) -> float | None:
        return self.synthesis_s / self.audio_s if self.audio_s else None


def run_mark(mark: object) -> None:
    """``on_mark`` for a Player fed by a Scheduler: its marks are callables."""
    if callable(mark):
        mark()


class Speaker:
    def __init__(
        self,
        engine: Engine,
        player: Player,
        *,
        first_fragment_words: int = 6,
        max_buffer_seconds: float = 20.0,
    ) -> None:
        self.engine = engine
        self.player = player
        self._failures: list[ReadaloudError] = []
        self._on_chunk: Callable[[SpokenChunk], None] | None = None
        self._scheduler = Scheduler(
            engine,
            player,
            first_fragment_words=first_fragment_words,
            max_buffer_seconds=max_buffer_seconds,
            on_failure=self._failures.append,
            on_chunk=self._chunk,
        )

    def stop(self) -> None:
        """Silence now and drop the rest of the utterance. Safe from any thread or signal."""
        self._scheduler.stop()

    def speak(
        self,
        utterance: Utterance,
        on_event: EventListener | None = None,
        on_chunk: Callable[[SpokenChunk], None] | None = None,
        *,
        stream: TextStream | None = None,
    ) -> SpeechReport:
        """Play ``utterance`` and return when it has been heard to the end or was stopped.

        ``stream``: the text of a streamed utterance, written (on another thread) while it is
        spoken; this returns once its end was given and all of it heard, or it was stopped.

        Raises BadInput, UnknownVoice, UnsupportedLanguage, NoOutputDevice or EngineError; the
        input errors come before any sound.
        """
        report = SpeechReport()
        underruns_before = self.player.underruns
        ended = threading.Event()
        lock = threading.RLock()  # stop() may run in a signal handler on this thread
        early: list[Event] = []  # events that came before submit() returned the id
        uid: list[str] = []

        def handle(event: Event) -> None:
            if getattr(event, "id", None) != uid[0]:
                return
            if isinstance(event, UtteranceQueued):
                report.segments = event.segments
            elif isinstance(event, SegmentStarted) and on_event is not None:
                on_event(event)
            elif isinstance(event, UtteranceTiming):
                report.engine_first_chunk_s = event.engine_first_chunk_ms / 1000
                report.first_audio_s = event.enqueued_at - event.submitted_at
            elif isinstance(event, UtteranceEnded):
                report.completed = event.completed
                report.audio_s = event.audio_s or 0.0
                report.synthesis_s = event.synthesis_s or 0.0
                ended.set()

        def listen(event: Event) -> None:
            with lock:
                if not uid:
                    early.append(event)
                    return
            handle(event)

        self._failures.clear()
        self._on_chunk = on_chunk
        self._scheduler.add_listener(listen)
        try:
            submitted = self._scheduler.submit(utterance, Mode.INTERRUPT, stream=stream)
            with lock:
                uid.append(submitted)
                waiting, early[:] = list(early), []
            for event in waiting:
                handle(event)
            while not ended.wait(0.05):  # a short wait keeps the caller responsive to signals
                pass
        finally:
            self._scheduler.remove_listener(listen)
            self._on_chunk = None
        if self._failures:
            raise self._failures[0]
        report.underruns = self.player.underruns - underruns_before
        return report

    def close(self) -> None:
        self._scheduler.close()

    def __enter__(self) -> Speaker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _chunk(self, utterance_id: str, chunk: SpokenChunk) -> None:
        if self._on_chunk is not None:
            self._on_chunk(chunk)
