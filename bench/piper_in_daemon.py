"""The same windowed Piper engine, bare in this process and inside a real daemon, in one run.

``readaloud bench`` compares the daemon's first chunk with bare ``PiperVoice`` on the same text;
since Piper streams within a sentence, that first chunk is a window, not the whole text. This
compares like with like: readaloud's own ``PiperEngine`` here against the engine inside a daemon
(at a private PulseAudio null sink), alternating rounds so drift hits both alike.

  .venv/bin/python bench/piper_in_daemon.py [--rounds 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from readaloud.bench import measure
from readaloud.bench.baseline import first_fragment
from readaloud.bench.harness import DaemonProcess
from readaloud.bench.soundserver import SINK, PulseServer
from readaloud.bench.texts import FIRST_SENTENCE
from readaloud.config import SpeechConfig
from readaloud.engines.base import SynthesisRequest
from readaloud.engines.piper import PiperEngine


def bare_first_chunk_ms(engine: PiperEngine, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        time.sleep(0.9)  # the daemon's runs are as far apart
        began = time.perf_counter()
        chunks = engine.stream(SynthesisRequest(text), threading.Event())
        next(chunks)
        times.append((time.perf_counter() - began) * 1000)
        for _ in chunks:
            pass
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    fragment = first_fragment(FIRST_SENTENCE, SpeechConfig().first_fragment_words)
    bare: list[float] = []
    daemon_ms: list[float] = []
    with PulseServer() as server:
        daemon = DaemonProcess(server.env, extra_args=("--engine", "piper"))
        daemon.start()
        try:
            recorder = measure.Recorder(server, f"{SINK}.monitor")
            engine = PiperEngine()
            engine.load()
            bare_first_chunk_ms(engine, fragment, 1)
            for _ in range(args.rounds):
                bare.append(bare_first_chunk_ms(engine, fragment, args.runs))
                found = measure.first_sound(daemon, recorder, FIRST_SENTENCE, args.runs)
                daemon_ms.append(found["engine_first_chunk_ms"]["median"])
        finally:
            daemon.close()
    here, there = statistics.median(bare), statistics.median(daemon_ms)
    print(f"first chunk of {fragment!r}")
    rows = (("bare PiperEngine", here, bare), ("inside the daemon", there, daemon_ms))
    for label, value, rounds in rows:
        print(f"  {label:<18} {value:7.1f} ms  (rounds: {', '.join(f'{v:.1f}' for v in rounds)})")
    print(f"  daemon / bare      {there / here:7.2f}")


if __name__ == "__main__":
    main()
