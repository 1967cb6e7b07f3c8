"""Follow-along timing for ``readaloud bench``: how far a ``word`` event (what the extension and
the reader page light) is from the sound of that word at the sound server.

Each sentence of the text follows a pause, so the first sample of its first word is easy to
find in the recording: the first loud sample after a stretch of quiet. The event of that word
is compared with it (wall clock both). Positive: the event comes after the sound. A page adds
its own event → paint time on top (the extension's test prints it).
"""

from __future__ import annotations

import time

import numpy as np

from readaloud.bench.harness import DaemonProcess, Events
from readaloud.bench.measure import AUDIBLE, Recorder, settle, summary
from readaloud.speech.events import UtteranceEnded

#: Short sentences (no first fragment is cut from them), each after a pause.
TEXT = (
    "The boat came home. Rain fell on the roof. A dog barked twice. "
    "The lamp was lit. Night came at last. Then all was still."
)
#: Quiet for this long before a sound: a pause between sentences.
PAUSE_S = 0.08
#: An event this far from every onset matched nothing (a word inside a sentence).
MATCH_S = 0.3
FRAME = 0.005


def onsets(samples: np.ndarray, rate: int) -> list[int]:
    """Sample indices where sound starts after at least ``PAUSE_S`` of quiet."""
    frame = max(1, round(FRAME * rate))
    count = len(samples) // frame
    if count == 0:
        return []
    loud = np.abs(samples[: count * frame]).reshape(count, frame).max(axis=1) > AUDIBLE
    found = []
    quiet_frames = round(PAUSE_S / FRAME)
    quiet = quiet_frames  # the recording starts in silence
    for index, is_loud in enumerate(loud):
        if not is_loud:
            quiet += 1
            continue
        if quiet >= quiet_frames:
            start = index * frame
            block = np.flatnonzero(np.abs(samples[start : start + frame]) > AUDIBLE)
            found.append(start + int(block[0]))
        quiet = 0
    return found


def run(daemon: DaemonProcess, recorder: Recorder, runs: int) -> dict:
    lags: list[float] = []
    sentences = 0
    events = Events(daemon)
    for _ in range(runs):
        settle(daemon)
        with recorder.capture() as cap:
            time.sleep(0.1)
            uid = daemon.post("/v1/speak", {"text": TEXT}).json()["id"]
            events.wait_for_event(UtteranceEnded, uid, timeout=60)
            time.sleep(0.2)
        mine = [e for e in events.items if e.get("id") == uid]
        starts = {e["start"] for e in mine if e["type"] == "segment_start"}
        firsts = [e for e in mine if e["type"] == "word" and e["start"] in starts]
        heard = [cap.wall_time_at(i) for i in onsets(cap.samples(), cap.rate)]
        sentences += len(firsts)
        for word in firsts:
            nearest = min(heard, key=lambda t: abs(t - word["time"]), default=None)
            if nearest is not None and abs(nearest - word["time"]) <= MATCH_S:
                lags.append((word["time"] - nearest) * 1000)
    return {
        "text": TEXT,
        "word_event_vs_sound_ms": summary(lags),
        "abs_lag_ms": summary([abs(lag) for lag in lags]),
        "sentences": sentences,
        "matched": len(lags),
    }
