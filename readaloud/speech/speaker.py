"""Speak one utterance at a time through a Player: the next segment is synthesized while the
current one plays, so there are no gaps; ``stop`` silences at once from any thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from readaloud.audio.player import Player
from readaloud.engines.base import Engine
from readaloud.speech.synthesis import SpokenChunk, prepare, synthesize
from readaloud.speech.utterance import SegmentStarted, Utterance

log = logging.getLogger(__name__)

EventListener = Callable[[SegmentStarted], None]


@dataclass
class SpeechReport:
    """What happened while speaking: the figures the benchmark and the CLI report."""

    completed: bool = False
    segments: int = 0
    #: Seconds from ``speak`` to the first samples handed to the player.
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
    """``on_mark`` for a Player used by a Speaker: the Speaker's marks are callables."""
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
        self.first_fragment_words = first_fragment_words
        self.max_buffer_seconds = max_buffer_seconds
        self._cancel = threading.Event()

    def stop(self) -> None:
        """Silence now and drop the rest of the utterance. Safe from any thread or signal."""
        self._cancel.set()
        self.player.stop()

    def speak(
        self,
        utterance: Utterance,
        on_event: EventListener | None = None,
        on_chunk: Callable[[SpokenChunk], None] | None = None,
    ) -> SpeechReport:
        """Play ``utterance`` and return when it has been heard to the end or was stopped.

        Raises BadInput, UnknownVoice, UnsupportedLanguage, NoOutputDevice or EngineError before
        any sound when the request cannot be spoken.
        """
        began = time.perf_counter()
        self._cancel = cancel = threading.Event()
        segments = prepare(self.engine, utterance, self.first_fragment_words)
        self.player.open(self.engine.sample_rate)
        underruns_before = self.player.underruns
        report = SpeechReport(segments=len(segments))
        failure: list[BaseException] = []

        def feed() -> None:
            try:
                self._feed(utterance, segments, cancel, report, began, on_event, on_chunk)
            except BaseException as error:  # handed to the caller's thread below
                failure.append(error)
                cancel.set()
                self.player.stop()

        worker = threading.Thread(target=feed, name="readaloud-synthesis", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.05)  # a short join keeps the caller responsive to signals
        if failure:
            raise failure[0]
        while not cancel.is_set() and not self.player.wait(0.05):
            pass
        report.completed = not cancel.is_set()
        report.underruns = self.player.underruns - underruns_before
        return report

    def _feed(
        self,
        utterance: Utterance,
        segments: list,
        cancel: threading.Event,
        report: SpeechReport,
        began: float,
        on_event: EventListener | None,
        on_chunk: Callable[[SpokenChunk], None] | None,
    ) -> None:
        last_index = -1
        synth_started = time.perf_counter()
        spoken = synthesize(
            self.engine,
            utterance,
            cancel,
            first_fragment_words=self.first_fragment_words,
            segments=segments,
        )
        for piece in spoken:
            now = time.perf_counter()
            report.synthesis_s += now - synth_started
            if report.engine_first_chunk_s is None:
                report.engine_first_chunk_s = now - synth_started
            mark = None
            if piece.index != last_index:
                last_index = piece.index
                mark = _event_mark(on_event, piece)
            # Bound the lookahead so a long article does not sit in memory as audio.
            while self.player.buffered_seconds > self.max_buffer_seconds and not cancel.is_set():
                cancel.wait(0.05)
            if cancel.is_set():
                return
            self.player.enqueue(
                piece.chunk.samples, piece.chunk.sample_rate, mark=mark, cancel=cancel
            )
            if report.first_audio_s is None:
                report.first_audio_s = time.perf_counter() - began
            report.audio_s += piece.chunk.duration
            if on_chunk:
                on_chunk(piece)
            synth_started = time.perf_counter()
        if not cancel.is_set():
            self.player.end_utterance(cancel)


def _event_mark(listener: EventListener | None, piece: SpokenChunk) -> Callable[[], None] | None:
    if listener is None:
        return None
    event = SegmentStarted(
        index=piece.index, start=piece.segment.start, end=piece.segment.end, text=piece.segment.text
    )
    return lambda: listener(event)
