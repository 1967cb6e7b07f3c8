"""Piper heard within a sentence: the voice's graph cut in two, the frame-rate half decoded in
windows, checked against Piper's own whole-graph synthesis of the same sentence.

With the noise scales at zero both paths are deterministic, so they can be compared sample by
sample: the windowed stream must match Piper's own output to SNR >= 50 dB (a difference far below
hearing), with no click at any join and no sample lost or repeated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import signal as sig

from readaloud.config import parse
from readaloud.doctor import WARN, check_piper
from readaloud.engines.base import SynthesisRequest
from readaloud.engines.piper import PiperEngine, bundled_model
from readaloud.engines.piper.split import SplitVoice
from readaloud.engines.piper.windows import WindowPlan, decode_in_windows, window_spans
from readaloud.engines.piper.words import phoneme_frames

MIN_SNR_DB = 50.0
LONG = (
    "When the council threatened to cut the budget, the readers wrote letters, signed petitions "
    "and filled the public gallery at every meeting until the plan was dropped."
)


@pytest.fixture(scope="module")
def model():
    found = bundled_model()
    assert found is not None, "the bundled joe voice is a dependency"
    return found


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("piper-cache")


@pytest.fixture(scope="module")
def split(model, cache) -> SplitVoice:
    return SplitVoice(model.model_path, cache)


@pytest.fixture(scope="module")
def piper(model):
    from piper import PiperVoice

    return PiperVoice.load(model.model_path, config_path=model.config_path, include_alignments=True)


def silent_feeds(piper, text: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """The first sentence's phonemes and the graph inputs with no noise (deterministic)."""
    phonemes = piper.phonemize(text)[0]
    ids = np.array([piper.phonemes_to_ids(phonemes)], dtype=np.int64)
    scales = np.array([0.0, piper.config.length_scale, 0.0], dtype=np.float32)
    return phonemes, {"input": ids, "input_lengths": np.array([ids.shape[1]]), "scales": scales}


def piper_own(piper, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Piper's own whole-graph audio and samples per phoneme id, with no noise."""
    from piper import SynthesisConfig

    phonemes, _ = silent_feeds(piper, text)
    audio, samples_per_id = piper.phoneme_ids_to_audio(
        piper.phonemes_to_ids(phonemes),
        SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0),
        include_alignments=True,
    )
    return np.asarray(audio, dtype=np.float32).reshape(-1), np.asarray(samples_per_id)


def windowed(split: SplitVoice, feeds, plan: WindowPlan) -> list[tuple[int, int, np.ndarray]]:
    tensors, durations = split.encode(feeds)
    frames = int(durations.sum())
    return list(
        decode_in_windows(
            lambda lo, hi: split.decode(tensors, lo, hi), frames, 256, plan, threading.Event()
        )
    )


@pytest.mark.parametrize("plan", [WindowPlan(), WindowPlan(first=32, largest=48, crossfade=1)])
def test_the_windowed_sentence_is_piper_own_sentence(split, piper, plan) -> None:
    reference, _ = piper_own(piper, LONG)
    _, feeds = silent_feeds(piper, LONG)
    windows = windowed(split, feeds, plan)
    joined = np.concatenate([samples for _, _, samples in windows])

    assert len(windows) >= 4, "a long sentence is heard in several windows"
    assert len(joined) == len(reference), "no sample lost or repeated"
    assert sig.snr_db(reference, joined) >= MIN_SNR_DB
    # No click: around every join the signal moves no faster than Piper's own does there.
    peak = float(np.max(np.abs(reference)))
    for _, stop, _ in windows[:-1]:
        around = slice(stop * 256 - 64, stop * 256 + 64)
        assert sig.max_step(joined[around]) <= sig.max_step(reference[around]) + 0.01 * peak


def test_the_first_window_is_short(split, piper) -> None:
    _, feeds = silent_feeds(piper, LONG)
    first_start, first_stop, samples = windowed(split, feeds, WindowPlan())[0]
    assert (first_start, first_stop) == (0, WindowPlan().first)
    assert len(samples) / piper.config.sample_rate < 0.25


@given(
    frames=st.integers(1, 2000),
    first=st.integers(1, 64),
    second=st.integers(0, 64),
    largest=st.integers(1, 300),
)
def test_windows_cover_every_frame_once(frames: int, first: int, second: int, largest: int) -> None:
    plan = WindowPlan(first=first, second=second, largest=largest)
    spans = list(window_spans(frames, plan))
    assert spans[0][0] == 0 and spans[-1][1] == frames
    assert all(a < b for a, b in spans)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))


def test_word_frames_are_piper_own_alignments(split, piper) -> None:
    """The frame each phoneme starts at equals the sum of Piper's own samples per phoneme id."""
    _, samples_per_id = piper_own(piper, LONG)
    phonemes, feeds = silent_feeds(piper, LONG)
    _, durations = split.encode(feeds)
    hop = piper.config.hop_length
    assert np.array_equal(durations * hop, samples_per_id)
    frames = phoneme_frames(phonemes, piper.config.phoneme_id_map, durations)
    assert frames is not None and len(frames) == len(phonemes)
    assert frames == sorted(frames)
    assert frames[0] > 0, "the sentence-start marker takes a few frames before the first sound"


def renamed_copy(source: Path, folder: Path) -> Path:
    """The voice with every tensor and node renamed, as another exporter might name them (the
    weights keep their names: they are the model's parameters)."""
    model = onnx.load(str(source))
    graph = model.graph
    keep = {i.name for i in graph.initializer} | {i.name for i in graph.input}
    keep |= {o.name for o in graph.output}
    names: dict[str, str] = {}
    for index, node in enumerate(graph.node):
        node.name = f"node{index}"
        for field in (node.input, node.output):
            for k, name in enumerate(field):
                if name and name not in keep:
                    field[k] = names.setdefault(name, f"t{len(names)}")
    del graph.value_info[:]
    path = folder / "renamed-voice.onnx"
    onnx.save(model, str(path))
    return path


def test_the_cut_is_found_from_the_graph_not_from_names(split, piper, model, tmp_path) -> None:
    renamed = SplitVoice(renamed_copy(model.model_path, tmp_path), tmp_path / "cache")
    assert set(renamed.inputs).isdisjoint(split.inputs), "no tensor name in common"
    reference, _ = piper_own(piper, LONG)
    _, feeds = silent_feeds(piper, LONG)
    joined = np.concatenate([samples for _, _, samples in windowed(renamed, feeds, WindowPlan())])
    assert sig.snr_db(reference, joined) >= MIN_SNR_DB


# -- the engine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(cache) -> PiperEngine:
    piper = PiperEngine(cache_dir=cache)
    piper.load()
    return piper


def test_a_voice_is_cut_once_and_later_starts_do_not_parse_the_graph(split, cache) -> None:
    """The halves are kept: a new daemon loads them and never imports onnx (which would cost it
    the parsed graph's memory)."""
    program = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from readaloud.engines.piper import PiperEngine\n"
        "from readaloud.engines.base import SynthesisRequest\n"
        f"engine = PiperEngine(cache_dir=Path({str(cache)!r}))\n"
        "chunks = list(engine.stream(SynthesisRequest('Hello there.'), threading.Event()))\n"
        "print(engine.streaming()[0], len(chunks) > 0, 'onnx' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "True", "False"]


def test_the_engine_streams_a_sentence_with_its_words(engine) -> None:
    text = "In 1990 the fare was $5. " + LONG
    chunks = list(engine.stream(SynthesisRequest(text), threading.Event()))

    assert len(chunks) >= 4
    assert chunks[0].duration < 0.25, "the first sound does not wait for the sentence"
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    # Every word is timed once, in order, inside the chunk it begins in.
    heard, clock = [], 0.0
    for chunk in chunks:
        for word in chunk.words:
            assert 0 <= word.at < chunk.duration
            assert chunk.start <= word.start < word.end <= max(chunk.end, word.end)
            heard.append((text[word.start : word.end], clock + word.at))
        clock += chunk.duration
    assert [w for w, _ in heard] == text.split()
    times = [t for _, t in heard]
    assert times == sorted(times) and len(set(times)) == len(times)
    # "1990" is four syllables: the next word comes well after it starts.
    assert times[2] - times[1] > 0.5


def test_a_faster_rate_moves_the_words_earlier(engine) -> None:
    def last_word_time(rate: float) -> float:
        clock, last = 0.0, 0.0
        for chunk in engine.stream(SynthesisRequest(LONG, rate=rate), threading.Event()):
            last = max([clock + w.at for w in chunk.words], default=last)
            clock += chunk.duration
        return last

    # Not half: a phoneme never gets less than one frame.
    assert last_word_time(2.0) < 0.8 * last_word_time(1.0)


def test_cancel_stops_between_windows(engine) -> None:
    cancel = threading.Event()
    stream = engine.stream(SynthesisRequest(LONG), cancel)
    next(stream)
    cancel.set()
    assert list(stream) == []


# -- a voice whose graph does not split ---------------------------------------------------------


def toy_voice(folder: Path, model) -> Path:
    """A valid Piper voice that is not VITS: its "audio" is its phoneme ids, scaled."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["ids", "scale"], ["scaled"]),
            helper.make_node("Unsqueeze", ["scaled", "axis"], ["output"]),
        ],
        "toy",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "phonemes"])],
        initializer=[
            helper.make_tensor("scale", TensorProto.FLOAT, [], [0.001]),
            helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
        ],
    )
    path = folder / "en_US-toy-low.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    shutil.copy(model.config_path, folder / "en_US-toy-low.onnx.json")
    config = json.loads((folder / "en_US-toy-low.onnx.json").read_text())
    assert config["audio"]["sample_rate"] == model.sample_rate
    return path


def test_a_voice_that_does_not_split_speaks_whole_and_doctor_says_so(
    model, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    toy_voice(tmp_path, model)
    engine = PiperEngine(tmp_path, default_voice="en_US-toy-low")
    chunks = list(engine.stream(SynthesisRequest("Hello there, world."), threading.Event()))
    assert len(chunks) == 1 and chunks[0].words == ()
    assert (chunks[0].start, chunks[0].end) == (0, len("Hello there, world."))
    assert engine.streaming() == (False, "the graph has no flow (not a VITS voice)")

    config = parse(
        f'[piper]\nvoices_dir = "{tmp_path}"\n[speech]\nvoice = "en_US-toy-low"\n',
        tmp_path / "readaloud.toml",
    )
    result = check_piper(config)
    assert result.status == WARN
    assert "cannot be split: the graph has no flow" in result.detail


def test_without_a_usable_cache_folder_the_voice_still_speaks(tmp_path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    engine = PiperEngine(cache_dir=blocked / "cache")
    chunks = list(engine.stream(SynthesisRequest("Still here."), threading.Event()))
    assert len(chunks) == 1 and sig.sound_duration(chunks[0].samples, chunks[0].sample_rate) > 0.3
    streams, why = engine.streaming()
    assert not streams and why.startswith(f"its halves cannot be kept in {blocked / 'cache'}")
