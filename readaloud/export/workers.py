"""Making the sentences' audio: in worker processes (several Piper voices at once, one
onnxruntime thread each), or for an engine that batches its streams (XTTS) in threads of this
process sharing one model, each decoding step serving all of them. Every finished sentence is
saved at once in the work folder (temp file + rename), so a stopped export goes on where it
was. Each sentence's length is checked against its text: silence or runaway speech is made
again once, and listed if it stays wrong."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from readaloud.config import Config
from readaloud.engines.base import SynthesisRequest
from readaloud.export.plan import Sentence, Voicing

#: Characters a voice says in a second at rate 1 (English runs 13-17); the check allows a
#: sentence from a quarter of that time to three times it, with a second either way.
CHARS_PER_S = 15.0
_SHORTEST, _LONGEST = 0.25, 3.0
#: A sentence's audio below this RMS is silence, whatever its length.
_SILENT_RMS = 0.003


@dataclass(frozen=True)
class Made:
    key: str
    seconds: float
    #: Why its length does not fit its text, after one more try ("" when it fits).
    problem: str = ""


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1) - 1)


def audio_path(work: Path, key: str) -> Path:
    return work / f"{key}.npy"


def missing(work: Path, sentences: list[Sentence]) -> list[Sentence]:
    """The sentences with no audio in ``work`` yet, each once."""
    seen: set[str] = set()
    wanted = []
    for sentence in sentences:
        if sentence.key not in seen and not audio_path(work, sentence.key).exists():
            seen.add(sentence.key)
            wanted.append(sentence)
    return wanted


def make_all(
    sentences: list[Sentence],
    work: Path,
    voicing: Voicing,
    engine: str,
    config: Config,
    workers: int,
    on_made: Callable[[Made], None],
    processes: bool = False,
    threads: bool = False,
) -> None:
    """Make and save the audio of ``sentences``; ``on_made`` is called (on this thread) as each
    one is saved. One worker is this process unless ``processes``; with ``threads`` the
    workers are threads of this process sharing one engine."""
    jobs = [(s.key, s.text, s.voice, s.language) for s in sentences]
    if not jobs:
        return
    if workers <= 1 and not processes:
        maker = _Maker(engine, config, voicing, work)
        for job in jobs:
            on_made(maker.make(*job))
        return
    if threads:
        maker = _Maker(engine, config, voicing, work)
        with ThreadPoolExecutor(workers, thread_name_prefix="readaloud-export") as pool:
            for done in as_completed([pool.submit(maker.make, *job) for job in jobs]):
                on_made(done.result())
        return
    context = multiprocessing.get_context("spawn")  # no copies of this process's threads
    with context.Pool(workers, _start_worker, (engine, config, voicing, work)) as pool:
        for made in pool.imap_unordered(_work, jobs, chunksize=1):
            on_made(made)


class _Maker:
    def __init__(self, engine: str, config: Config, voicing: Voicing, work: Path) -> None:
        from readaloud.engines.registry import choose_engine

        self.engine = choose_engine(engine, config=config).engine
        self.engine.load()
        self.voicing = voicing
        self.work = work

    def make(self, key: str, text: str, voice: str | None, language: str | None) -> Made:
        samples = self._say(text, voice, language)
        problem = _problem(samples, self.engine.sample_rate, text, self.voicing.rate)
        if problem:
            # A sampled voice says it differently the second time.
            samples = self._say(text, voice, language)
            problem = _problem(samples, self.engine.sample_rate, text, self.voicing.rate)
        path = audio_path(self.work, key)
        temporary = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.part")
        with temporary.open("wb") as out:
            np.save(out, samples)
        temporary.replace(path)
        return Made(key, len(samples) / self.engine.sample_rate, problem)

    def _say(self, text: str, voice: str | None, language: str | None) -> np.ndarray:
        request = SynthesisRequest(
            text=text, voice=voice, language=language, rate=self.voicing.rate
        )
        chunks = [c.samples for c in self.engine.stream(request, threading.Event())]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _problem(samples: np.ndarray, rate: int, text: str, speed: float) -> str:
    seconds = len(samples) / rate
    expected = len(text) / CHARS_PER_S / speed
    if not len(samples) or float(np.sqrt(np.mean(samples**2))) < _SILENT_RMS:
        return "silent"
    if seconds < expected * _SHORTEST - 1:
        return f"{seconds:.1f} s, too short for {len(text)} characters"
    if seconds > expected * _LONGEST + 1:
        return f"{seconds:.1f} s, too long for {len(text)} characters"
    return ""


_worker: _Maker | None = None


def _start_worker(engine: str, config: Config, voicing: Voicing, work: Path) -> None:
    global _worker  # one engine per worker process, made once
    # One onnxruntime thread per worker: the workers are the parallelism.
    one_thread = dataclasses.replace(config.piper, threads=1)
    _worker = _Maker(engine, dataclasses.replace(config, piper=one_thread), voicing, work)


def _work(job: tuple[str, str, str | None, str | None]) -> Made:
    assert _worker is not None
    return _worker.make(*job)


def load(work: Path, key: str) -> np.ndarray:
    return np.load(audio_path(work, key))
