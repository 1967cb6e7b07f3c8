"""Speech end to end: Piper → Speaker → Player → PulseAudio, heard at the null sink's monitor.

The capture is compared with the audio the engine produced for the same run (Piper samples its
noise afresh each time, so only same-run audio can be compared sample by sample).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from support import signal as sig
from support.pulse import PulseServer

from readaloud.audio.player import Player
from readaloud.engines.piper import PiperEngine
from readaloud.errors import UnknownVoice
from readaloud.speech.events import SegmentStarted
from readaloud.speech.speaker import Speaker, run_mark
from readaloud.speech.synthesis import SpokenChunk
from readaloud.speech.utterance import Utterance
from readaloud.speech.warmup import warm_up

pytestmark = pytest.mark.sound

RATE = 22050
TEXT = (
    "Reading aloud should sound like one calm voice, without gaps between the sentences. "
    "Every word must be heard, in order. The last syllable is never cut off."
)


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    piper = PiperEngine()
    piper.load()
    warm_up(piper)  # as the daemon does: the first test is not the one that meets a cold engine
    return piper


@pytest.fixture
def speaker(pulse: PulseServer, engine: PiperEngine):
    player = Player(on_mark=run_mark)
    with Speaker(engine, player) as speaker:
        yield speaker
    player.close()


def test_what_is_heard_is_what_the_engine_made(pulse: PulseServer, speaker: Speaker) -> None:
    produced: list[SpokenChunk] = []
    events: list[SegmentStarted] = []
    with pulse.capture(RATE) as cap:
        report = speaker.speak(Utterance(TEXT), on_event=events.append, on_chunk=produced.append)
    captured = cap.samples()
    assert report.completed and report.underruns == 0

    reference = np.concatenate([p.chunk.samples for p in produced])
    heard, made = sig.sound_duration(captured, RATE), sig.sound_duration(reference, RATE)
    assert abs(heard - made) / made < 0.05, (heard, made)

    # Each chunk with sound is found in the capture, in order, right after the previous one
    # (within a sentence: at most a device hiccup of a loaded machine; between sentences: the
    # pause the engine made, give or take 50 ms).
    end_of_previous = None
    for previous, spoken in zip([None, *produced], produced, strict=False):
        samples = spoken.chunk.samples
        if sig.first_sound_index(samples) is None:
            if end_of_previous is not None:
                end_of_previous += len(samples)  # silence: nothing to find, but it takes time
            continue
        offset, correlation = sig.align(samples, captured)
        assert correlation > 0.9, (spoken.index, correlation)
        if end_of_previous is not None:
            gap_ms = (offset - end_of_previous) * 1000 / RATE
            same = previous is not None and previous.index == spoken.index
            assert (-5 < gap_ms < 30) if same else (-5 < gap_ms < 50), (spoken.index, gap_ms)
        end_of_previous = offset + len(samples)

    # Highlighting events: every segment, in order, with offsets into the original text.
    assert [e.index for e in events] == list(range(report.segments))
    for event in events:
        assert TEXT[event.start : event.end].split() == event.text.split()
    assert " ".join(e.text for e in events).split() == TEXT.split()


def test_stop_silences_within_50_ms(pulse: PulseServer, speaker: Speaker) -> None:
    with pulse.capture(RATE) as cap:
        result: list = []
        worker = threading.Thread(target=lambda: result.append(speaker.speak(Utterance(TEXT))))
        worker.start()
        while speaker.player.frames_played < RATE * 1.5:  # well into the speech
            time.sleep(0.01)
        stopped_at = time.monotonic()
        speaker.stop()
        worker.join(5)
        time.sleep(0.3)
    captured = cap.samples()
    assert result and not result[0].completed
    last = sig.last_sound_index(captured)
    assert last is not None
    # Speech has pauses; only the time after the stop counts. Capture times are upper bounds.
    after_stop_ms = (cap.time_at(last) - stopped_at) * 1000
    assert after_stop_ms < 50, after_stop_ms


def test_stopped_speaker_speaks_again(pulse: PulseServer, speaker: Speaker) -> None:
    threading.Timer(0.3, speaker.stop).start()
    speaker.speak(Utterance(TEXT))
    with pulse.capture(RATE) as cap:
        report = speaker.speak(Utterance("Hello again."))
    assert report.completed
    assert sig.sound_duration(cap.samples(), RATE) > 0.4


def test_bad_voice_fails_before_any_sound(pulse: PulseServer, speaker: Speaker) -> None:
    with pulse.capture(RATE) as cap, pytest.raises(UnknownVoice):
        speaker.speak(Utterance("Hello.", voice="nobody"))
    assert sig.first_sound_index(cap.samples()) is None


def test_first_fragment_is_short_and_the_sentence_flows_on(engine: PiperEngine) -> None:
    from readaloud.speech.synthesis import synthesize

    text = (
        "The committee met on a grey Thursday morning and talked for hours about the budget, "
        "the staff and the coming year."
    )
    pieces = list(synthesize(engine, Utterance(text), threading.Event(), first_fragment_words=6))
    first = pieces[0]
    assert len(first.segment.text.split()) <= 6
    # The cut is not a full stop: at most a comma-length pause at the end of the fragment.
    fragment = np.concatenate([p.chunk.samples for p in pieces if p.index == 0])
    tail = len(fragment) - sig.last_sound_index(fragment)
    assert tail / RATE < 0.1
    # ... and the sentence goes on: every word of it is heard, in order.
    words = [w for p in pieces for w in p.chunk.words]
    assert [text[w.start : w.end] for w in words] == text.split()


def test_the_first_sound_is_handed_on_before_the_engine_makes_more(engine: PiperEngine) -> None:
    """Shortening the fragment's pause must not hold its first window back."""
    from readaloud.speech.synthesis import synthesize

    made: list[int] = []

    class Watched:
        name = engine.name

        def stream(self, request, cancel):
            for chunk in engine.stream(request, cancel):
                made.append(len(chunk.samples))
                yield chunk

    text = "The committee met on a grey Thursday morning, and talked for hours about the budget."
    pieces = synthesize(Watched(), Utterance(text), threading.Event(), first_fragment_words=6)  # type: ignore[arg-type]
    first = next(pieces)
    assert len(made) == 1
    assert sig.first_sound_index(first.chunk.samples) is not None


def test_the_first_word_is_not_preceded_by_the_voices_lead_in(engine: PiperEngine) -> None:
    """Piper starts each sentence with ~40 ms of near-silence: at the start of an utterance that
    is only waiting, so it is cut to a few ms; between sentences it is the pause, and stays."""
    from readaloud.speech.synthesis import LEAD_IN_S, synthesize

    text = "Hello there. This is the second sentence."
    pieces = list(synthesize(engine, Utterance(text), threading.Event(), first_fragment_words=0))
    first = pieces[0].chunk.samples
    onset = int(np.flatnonzero(np.abs(first) > 0.001)[0])
    assert onset <= (LEAD_IN_S + 0.001) * RATE
    second = np.concatenate([p.chunk.samples for p in pieces if p.index == 1])
    assert np.flatnonzero(np.abs(second) > 0.001)[0] > 0.02 * RATE
    # Nothing of the speech itself went: every word is there, in order, and timed in its chunk.
    words = [(p.chunk, w) for p in pieces for w in p.chunk.words]
    assert [text[w.start : w.end] for _, w in words] == text.split()
    assert all(0 <= w.at < chunk.duration for chunk, w in words)
