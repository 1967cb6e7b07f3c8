"""The measurements of ``readaloud bench``, each against a real daemon and a recording of the
sound server: when a request's first sample arrived there, and where the time went."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from readaloud.bench.harness import DaemonProcess, Events
from readaloud.bench.soundserver import Capture
from readaloud.speech.events import UtteranceEnded, UtteranceTiming

#: A sample above this is sound: idle output is exact zeros, speech starts far above it.
FIRST_SAMPLE = 1.5 / 32768
#: Above this a stretch of speech is audible (about -46 dBFS).
AUDIBLE = 0.005


@dataclass
class Recorder:
    """Makes recordings of the sink the daemon plays on."""

    server: object | None  # a PulseServer, or None for the user's own sound server
    device: str
    rate: int = 22050

    def capture(self) -> Capture:
        return Capture(self.server, self.rate, self.device)  # type: ignore[arg-type]


def first_above(samples: np.ndarray, threshold: float, start: int = 0) -> int | None:
    """Index of the first sample from ``start`` louder than ``threshold`` (None: none is)."""
    loud = np.flatnonzero(np.abs(samples[start:]) > threshold)
    return int(loud[0]) + start if len(loud) else None


def last_above(samples: np.ndarray, threshold: float) -> int | None:
    """Index of the last sample louder than ``threshold`` (None: none is)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return int(loud[-1]) if len(loud) else None


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(values), 1),
        "min": round(ordered[0], 1),
        "p90": round(p90, 1),
        "max": round(ordered[-1], 1),
        "runs": len(values),
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(pid: int, quiet_s: float = 1.0, timeout: float = 120.0) -> bool:
    """Wait until the process has used almost no CPU for ``quiet_s`` (its background work, such
    as the key echo set, is done); False if it is still busy after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(quiet_s)
        if cpu_seconds(pid) - before < 0.05 * quiet_s:
            return True
    return False


def settle(daemon: DaemonProcess) -> None:
    """Silence, and a moment for the sound server to go idle, before a measured request."""
    daemon.post("/v1/stop")
    daemon.wait_state("idle", 10)
    time.sleep(0.3)


def first_sound(
    daemon: DaemonProcess, recorder: Recorder, text: str | list[str], runs: int
) -> dict:
    """Request → first sample at the sound server, broken down; medians over ``runs``.

    With a list of texts, run ``i`` says ``text[i % len(text)]`` (words never said before, so
    the daemon's cache of short utterances does not answer).
    """
    texts = [text] if isinstance(text, str) else text
    parts: dict[str, list[float]] = {
        k: []
        for k in (
            "total_ms",
            "request_ms",
            "extract_ms",
            "prepare_ms",
            "queue_wait_ms",
            "engine_first_chunk_ms",
            "audio_path_ms",
            "overhead_over_engine_ms",
        )
    }
    events = Events(daemon)
    for run in range(runs):
        settle(daemon)
        with recorder.capture() as cap:
            time.sleep(0.1)
            asked = time.time()
            uid = daemon.post("/v1/speak", {"text": texts[run % len(texts)]}).json()["id"]
            timing = events.wait_for_event(UtteranceTiming, uid)
            time.sleep(0.6)
            daemon.post("/v1/stop")
        samples = cap.samples()
        start = max(0, round((asked - cap.wall_time_at(0)) * cap.rate))
        index = first_above(samples, FIRST_SAMPLE, start)
        if index is None:
            continue
        heard = cap.wall_time_at(index)
        total = (heard - asked) * 1000
        parts["total_ms"].append(total)
        parts["request_ms"].append((timing.submitted_at - asked) * 1000)
        parts["extract_ms"].append(timing.extract_ms)
        parts["prepare_ms"].append(timing.prepare_ms)
        parts["queue_wait_ms"].append(timing.queue_wait_ms)
        parts["engine_first_chunk_ms"].append(timing.engine_first_chunk_ms)
        # Below zero is the capture clock's error (see Capture): the sound is not heard before
        # it is queued.
        parts["audio_path_ms"].append(max(0.0, (heard - timing.enqueued_at) * 1000))
        parts["overhead_over_engine_ms"].append(total - timing.engine_first_chunk_ms)
    return {key: summary(values) for key, values in parts.items()}


def control(daemon: DaemonProcess, recorder: Recorder, text: str, runs: int) -> dict:
    """Stop → silence, pause → silence, resume → sound, at the sound server."""
    stop: list[float] = []
    pause: list[float] = []
    resume: list[float] = []
    for _ in range(runs):
        for action in ("stop", "pause"):
            daemon.post("/v1/stop")
            daemon.wait_state("idle", 10)
            with recorder.capture() as cap:
                daemon.post("/v1/speak", {"text": text})
                _wait_for_sound(cap, seconds=1.0)
                asked = time.time()
                daemon.post(f"/v1/{action}")
                time.sleep(0.4)
                resumed = None
                if action == "pause":
                    resumed = time.time()
                    daemon.post("/v1/resume")
                    time.sleep(0.8)
                daemon.post("/v1/stop")
            samples = cap.samples()
            cut = samples[: _index(cap, resumed)] if resumed else samples
            last = last_above(cut, AUDIBLE)
            silent_after = max(0.0, (cap.wall_time_at(last) - asked) * 1000) if last else 0.0
            (stop if action == "stop" else pause).append(silent_after)
            if resumed is not None:
                back = first_above(samples, AUDIBLE, _index(cap, resumed))
                if back is not None:
                    resume.append((cap.wall_time_at(back) - resumed) * 1000)
    return {
        "stop_to_silence_ms": summary(stop),
        "pause_to_silence_ms": summary(pause),
        "resume_to_sound_ms": summary(resume),
    }


def long_article(daemon: DaemonProcess, text: str, play_seconds: float) -> dict:
    """Real-time factor and gaps over a long article, played for ``play_seconds``."""
    events = Events(daemon)
    daemon.post("/v1/stop")
    before = daemon.get("/v1/status").json()
    rss_before = rss_mb(daemon.process.pid)  # type: ignore[union-attr]
    uid = daemon.post("/v1/speak", {"text": text}).json()["id"]
    timing = events.wait_for_event(UtteranceTiming, uid)
    time.sleep(play_seconds)
    daemon.post("/v1/stop")
    end = events.wait_for_event(UtteranceEnded, uid)
    after = daemon.get("/v1/status").json()
    return {
        "words": len(text.split()),
        "played_s": play_seconds,
        "synthesized_audio_s": end.audio_s,
        "synthesis_s": end.synthesis_s,
        "real_time_factor": round((end.synthesis_s or 0) / end.audio_s, 4) if end.audio_s else None,
        "first_chunk_ms": timing.engine_first_chunk_ms,
        "underruns": after["underruns"] - before["underruns"],
        "xruns": after["xruns"] - before["xruns"],
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_mb(daemon.process.pid), 1),  # type: ignore[union-attr]
    }


def _wait_for_sound(cap: Capture, seconds: float, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = cap.samples()
        first = first_above(samples, AUDIBLE)
        if first is not None and (len(samples) - first) / cap.rate >= seconds:
            return
        time.sleep(0.02)
    raise TimeoutError("no sound arrived at the sound server")


def _index(cap: Capture, wall: float) -> int:
    return max(0, round((wall - cap.wall_time_at(0)) * cap.rate))
