"""A Piper voice as two onnxruntime sessions: its graph's phoneme-rate and frame-rate halves.

The halves are cut once per voice (``graph.py``, in a child process) and kept in the cache
folder, keyed by the voice file's path, size and modification time; later starts load them from
there and never parse the graph.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from readaloud.engines.piper.graph import CUT, DECODER, ENCODER, GraphNotSplittable

#: The tensors for a sentence: the decoder's inputs by name.
Feeds = dict[str, np.ndarray]
#: Bumped when the cut or the files change, so old halves are not reused.
_FORMAT = "1"
_CUT_TIMEOUT_S = 300


class SplitVoice:
    """The two halves of a voice's graph as onnxruntime sessions.

    ``encode`` runs the phoneme-rate part on a sentence's phoneme ids; ``decode`` runs the
    frame-rate part on any window of its frames (``frames`` tells which tensors have a frame axis).
    """

    def __init__(
        self, model_path: Path, cache_dir: Path, use_cuda: bool = False, threads: int = 0
    ) -> None:
        folder = halves_for(model_path, cache_dir)
        found = json.loads((folder / CUT).read_text(encoding="utf-8"))
        if "unsplittable" in found:
            raise GraphNotSplittable(found["unsplittable"])
        #: What the frame-rate half reads (the latent, the frame mask, ...).
        self.inputs: tuple[str, ...] = tuple(found["inputs"])
        self.graph_inputs: tuple[str, ...] = tuple(found["graph_inputs"])
        try:
            self._encoder = _session(folder / ENCODER, use_cuda, threads)
            self._decoder = _session(folder / DECODER, use_cuda, threads)
        except Exception as error:  # onnxruntime raises bare Exceptions for a bad graph
            raise GraphNotSplittable(f"the halves do not load ({error})") from error
        #: Cut tensors with a frame axis (the last one); found on the first sentence.
        self._framed: frozenset[str] | None = None

    @property
    def framed(self) -> frozenset[str]:
        """The decoder inputs sliced by a window (the latent and the mask); others go whole."""
        if self._framed is None:
            raise RuntimeError("encode a sentence first")
        return self._framed

    def encode(self, feeds: Feeds) -> tuple[Feeds, np.ndarray]:
        """Run the phoneme-rate part: the decoder's inputs and the frames per phoneme id."""
        results = self._encoder.run(None, feeds)
        tensors = dict(zip(self.inputs, results[:-1], strict=True))
        durations = np.asarray(results[-1]).reshape(-1).astype(np.int64)
        if self._framed is None:
            frames = max(1, int(durations.sum()))
            self._framed = frozenset(
                name
                for name, value in tensors.items()
                if value.ndim == 3 and value.shape[-1] == frames
            )
            if not self._framed:
                raise GraphNotSplittable("no tensor at the cut has a frame axis")
        return tensors, durations

    def decode(self, tensors: Feeds, start: int, stop: int) -> np.ndarray:
        """Samples for frames ``start:stop`` decoded alone (no context beyond them)."""
        feeds = {
            name: value[..., start:stop] if name in self.framed else value
            for name, value in tensors.items()
        }
        return np.asarray(self._decoder.run(None, feeds)[0], dtype=np.float32).reshape(-1)




def halves_for(model_path: Path, cache_dir: Path) -> Path:
    """The folder with ``model_path``'s halves, cut now (in a child process) if need be."""
    stat = model_path.stat()
    key = f"{_FORMAT}:{model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    name = f"{model_path.name.removesuffix('.onnx')}-{digest}"
    folder = cache_dir / name
    if (folder / CUT).exists():
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "readaloud.engines.piper.graph", str(model_path), str(work)],
            capture_output=True,
            text=True,
            timeout=_CUT_TIMEOUT_S,
        )
        if done.returncode != 0 or not (work / CUT).exists():
            tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise GraphNotSplittable(f"cutting the graph failed ({tail})")
        try:
            os.rename(work, folder)  # atomic: a half-written folder is never seen
        except OSError:
            if not (folder / CUT).exists():  # another process did not win the race either
                raise
    except subprocess.TimeoutExpired:
        raise GraphNotSplittable("cutting the graph took too long") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _session(model: Path, use_cuda: bool, threads: int = 0):  # -> onnxruntime.InferenceSession
    import onnxruntime

    providers = (
        [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})]
        if use_cuda
        else ["CPUExecutionProvider"]
    )
    options = onnxruntime.SessionOptions()
    # The halves run one after the other: a pool left spinning after the encoder's run takes the
    # cores from the decoder's (measured: first window 76 ms spinning, 48 ms not, on 2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Every sentence and window has a new length: an arena or a memory pattern kept per shape
    # only grows (measured over 600 words: RSS 247 MB with them, 186 MB without, same speed).
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.intra_op_num_threads = threads  # 0: one per core
    return onnxruntime.InferenceSession(str(model), sess_options=options, providers=providers)
