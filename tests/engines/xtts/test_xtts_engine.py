"""The XTTS engine through the Engine protocol, on a tiny checkpoint loaded like the real one."""

from __future__ import annotations

import gc
import shutil
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from support.threads import at_once
from support.xtts import positions_run, tiny_options

from readaloud.engines.base import Engine, SynthesisRequest
from readaloud.engines.xtts import XttsEngine
from readaloud.engines.xtts.checkpoint import ModelMissing
from readaloud.engines.xtts.languages import LANGUAGES
from readaloud.engines.xtts.loader import Placement, resolve_placement
from readaloud.engines.xtts.streaming import XttsOutOfMemory
from readaloud.errors import EngineError, UnknownVoice, UnsupportedLanguage

TEXT = "Reading aloud with a cloned voice, one sentence at a time."


def speak(engine: XttsEngine, text: str = TEXT, **kwargs) -> list:
    cancel = kwargs.pop("cancel", threading.Event())
    request = SynthesisRequest(text, **{"language": "en", **kwargs})
    return list(engine.stream(request, cancel))


def test_the_engine_loads_through_the_production_loader(xtts: XttsEngine) -> None:
    assert isinstance(xtts, Engine)
    assert xtts.loaded.placement == Placement("cpu", "fp32")
    assert xtts.sample_rate == 24000
    assert xtts.languages() == list(LANGUAGES) and len(LANGUAGES) == 17
    studio = [v for v in xtts.voices() if "studio speaker" in v.description]
    assert [v.id for v in studio] == ["ana-florence", "claribel-dervla"]
    assert xtts.default_voice() == "ana-florence"


def test_chunks_cover_the_text_in_order(xtts: XttsEngine) -> None:
    chunks = speak(xtts)
    assert len(chunks) >= 2  # a small first chunk, then larger ones
    assert chunks[0].start == 0 and chunks[-1].end == len(TEXT)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.end == after.start and before.start <= before.end
        assert TEXT[after.start - 1] == " " or after.start == before.start  # at word starts
    assert all(c.sample_rate == 24000 and c.samples.dtype == np.float32 for c in chunks)
    assert len(chunks[0].samples) < len(chunks[1].samples)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_is_spoken_with_a_cloned_voice(xtts: XttsEngine, language: str) -> None:
    text = {
        "zh": "今天天气很好。",
        "ja": "今日はいい天気ですね。",
        "ko": "오늘 날씨가 좋네요.",
        "ar": "الطقس جميل اليوم.",
        "hi": "आज मौसम अच्छा है।",
        "ru": "Сегодня хорошая погода.",
    }.get(language, "Today the weather is fine, 12 degrees.")
    chunks = speak(xtts, text, voice="claribel-dervla", language=language, rate=1.0)
    assert sum(len(c.samples) for c in chunks) > 0
    assert chunks[-1].end == len(text)


def test_cancel_stops_between_chunks(xtts: XttsEngine) -> None:
    cancel = threading.Event()
    heard = []
    for chunk in xtts.stream(SynthesisRequest(TEXT, None, "en"), cancel):
        heard.append(chunk)
        cancel.set()
    assert len(heard) == 1


def test_rate_changes_the_length_not_the_start(xtts: XttsEngine) -> None:
    torch.manual_seed(2)
    normal = sum(len(c.samples) for c in speak(xtts))
    torch.manual_seed(2)
    fast = sum(len(c.samples) for c in speak(xtts, rate=2.0))
    assert fast == pytest.approx(normal / 2, rel=0.05)


def test_text_longer_than_the_language_limit_is_split(xtts: XttsEngine) -> None:
    text = "これは長い文章です。" * 12  # 120 characters; XTTS takes 71 of Japanese at once
    chunks = speak(xtts, text, language="ja")
    assert chunks[-1].end == len(text)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_requests_it_cannot_honour_fail_before_any_sound(xtts: XttsEngine) -> None:
    with pytest.raises(UnknownVoice, match="readaloud voices"):
        xtts.validate("nobody", "en")
    with pytest.raises(UnsupportedLanguage, match="XTTS does not speak 'sv'"):
        xtts.validate(None, "sv")
    with pytest.raises(UnsupportedLanguage):
        speak(xtts, language="sv")


def test_no_memory_growth_across_100_utterances(tiny_model_dir: Path, tmp_path: Path) -> None:
    engine = XttsEngine(tiny_options(tiny_model_dir, tmp_path, max_new_tokens=3))
    engine.load()
    for _ in range(5):
        speak(engine, "Hello there, friend.")
    gc.collect()
    before = _live_tensors()
    for n in range(100):
        speak(engine, f"Utterance number {n}, short and sweet.")
    gc.collect()
    assert _live_tensors() <= before  # on a GPU, tensors are its memory


def _live_tensors() -> int:
    with warnings.catch_warnings():  # touching every object wakes deprecated torch aliases
        warnings.simplefilter("ignore")
        return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


def test_reduced_precision_runs_through_the_same_code(tiny_model_dir: Path, tmp_path) -> None:
    """bf16 also runs on a CPU: the GPU precision path (cast GPT, fp32 vocoder) is exercised."""
    engine = XttsEngine(tiny_options(tiny_model_dir, tmp_path, precision="bf16"))
    engine.load()
    assert engine.loaded.placement == Placement("cpu", "bf16")
    assert next(engine.loaded.model.gpt.gpt.parameters()).dtype == torch.bfloat16
    assert next(engine.loaded.model.hifigan_decoder.parameters()).dtype == torch.float32
    chunks = speak(engine)
    audio = np.concatenate([c.samples for c in chunks])
    assert audio.dtype == np.float32 and np.isfinite(audio).all() and np.abs(audio).max() > 0


@pytest.mark.parametrize(
    ("device", "precision", "cuda", "bf16", "expected"),
    [
        ("auto", "fp32", False, False, Placement("cpu", "fp32")),
        ("auto", "fp16", True, False, Placement("cuda", "fp16")),
        ("auto", "bf16", True, True, Placement("cuda", "bf16")),
        ("cuda:1", "fp32", True, False, Placement("cuda:1", "fp32")),
        ("cpu", "bf16", True, True, Placement("cpu", "bf16")),
    ],
)
def test_device_and_precision_choice(device, precision, cuda, bf16, expected) -> None:
    got = resolve_placement(device, precision, cuda_available=cuda, bf16_supported=bf16)
    assert (got.device, got.precision) == (expected.device, expected.precision)


def test_auto_without_a_gpu_runs_fp16_configs_in_fp32() -> None:
    got = resolve_placement("auto", "fp16", cuda_available=False, bf16_supported=False)
    assert (got.device, got.precision) == ("cpu", "fp32") and "no CUDA GPU" in got.note


@pytest.mark.parametrize(
    ("device", "precision", "cuda", "bf16", "message"),
    [
        ("cuda", "fp32", False, False, "PyTorch sees no CUDA GPU"),
        ("cpu", "fp16", False, False, 'fp16" needs a CUDA GPU'),
        ("cuda", "bf16", True, False, "cannot compute in bfloat16"),
        ("gpu", "fp32", True, False, "not one of auto, cuda"),
        ("auto", "int8", True, False, "not one of fp32, fp16 or bf16"),
    ],
)
def test_impossible_device_choices_say_what_to_set(device, precision, cuda, bf16, message):
    with pytest.raises(EngineError, match=message):
        resolve_placement(device, precision, cuda_available=cuda, bf16_supported=bf16)


def test_a_missing_or_damaged_model_says_how_to_get_one(tiny_model_dir: Path, tmp_path) -> None:
    with pytest.raises(ModelMissing, match="readaloud model fetch --accept-license"):
        XttsEngine(tiny_options(tmp_path / "nowhere", tmp_path)).load()
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model_dir, damaged)
    (damaged / "model.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="Could not load the XTTS model") as caught:
        XttsEngine(tiny_options(damaged, tmp_path)).load()
    assert "readaloud model fetch" in str(caught.value)
    (damaged / "vocab.json").unlink()
    with pytest.raises(ModelMissing, match="lacks vocab.json"):
        XttsEngine(tiny_options(damaged, tmp_path)).load()


def test_out_of_memory_is_a_clear_engine_error_and_the_next_request_works(
    xtts: XttsEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CUDA OOM in the vocoder (injected: this machine has no GPU to exhaust) becomes
    XttsOutOfMemory, which the routing engine fails over on; the engine itself recovers."""
    synthesizer = xtts._synthesizer

    def exhausted(voice):
        def vocode(frames):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        return vocode

    monkeypatch.setattr(synthesizer, "vocoder", exhausted)
    with pytest.raises(XttsOutOfMemory, match="ran out of memory") as caught:
        speak(xtts)
    assert isinstance(caught.value, EngineError)
    monkeypatch.undo()
    assert speak(xtts)[-1].end == len(TEXT)


def test_words_are_estimated_in_each_chunk_and_marked_so(xtts: XttsEngine) -> None:
    chunks = speak(xtts)
    words = [(c, w) for c in chunks for w in c.words]
    # Every word of the text once, in order, each in the chunk whose span holds its start.
    assert [TEXT[w.start : w.end] for _, w in words] == TEXT.split(" ")
    for chunk, word in words:
        assert word.estimated
        assert chunk.start <= word.start < chunk.end
        assert 0.0 <= word.at <= chunk.duration
    for chunk in chunks:
        starts = [w.at for w in chunk.words]
        assert starts == sorted(starts)


def test_estimated_words_reach_the_events_as_they_are_heard(xtts: XttsEngine, pulse) -> None:
    from readaloud.audio.player import Player
    from readaloud.speech.events import WordStarted, parse_event
    from readaloud.speech.scheduler import Scheduler
    from readaloud.speech.speaker import run_mark
    from readaloud.speech.utterance import Utterance

    player = Player(on_mark=run_mark)
    scheduler = Scheduler(xtts, player)
    events: list = []
    scheduler.add_listener(events.append)
    try:
        scheduler.submit(Utterance(TEXT, language="en"))
        assert scheduler.wait_idle(120)
    finally:
        scheduler.close()
        player.close()
    words = [e for e in events if isinstance(e, WordStarted)]
    assert [w.text for w in words] == TEXT.split(" ")
    assert all(w.estimated for w in words)
    # On the wire, as /v1/events and /v1/stream send it, and back.
    assert words[0].to_dict()["estimated"] is True
    assert parse_event(words[0].to_dict()) == words[0]


def test_an_idle_model_is_unloaded_and_comes_back_for_the_next_request(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    engine = XttsEngine(tiny_options(tiny_model_dir, tmp_path, unload_after_s=0.3))
    engine.load()
    # Not while it speaks: a listener slower than the limit keeps the stream, and the model.
    stream = engine.stream(SynthesisRequest(text="A slow listener hears this."), threading.Event())
    first = next(stream)
    time.sleep(0.8)
    assert engine.loaded is not None and engine.unloads == 0
    chunks = [first, *stream]
    assert first.samples.size and chunks[-1].end == len("A slow listener hears this.")
    deadline = time.monotonic() + 10
    while engine.unloads == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.loaded is None and engine.unloads == 1  # idle: its memory is given back
    chunks = speak(engine, "Back again.")
    assert engine.loaded is not None and chunks[-1].end == len("Back again.")
    assert np.abs(np.concatenate([c.samples for c in chunks])).max() > 0
    engine.unload()  # now, not on its timer while the test process exits


def test_out_of_memory_in_a_decoding_step_fails_every_stream_in_it_and_then_recovers(
    xtts: XttsEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CUDA OOM in the batched GPT step (injected) reaches each stream in that step as
    XttsOutOfMemory (the routing engine's cue to fail over); the next request is spoken."""
    decoder = xtts._synthesizer.decoder.decoder

    def exhausted():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    monkeypatch.setattr(decoder, "step", exhausted)
    failed: list[BaseException | None] = [None, None]

    def read(index: int) -> None:
        try:
            speak(xtts, f"Stream number {index} is read with the other one.")
        except BaseException as error:  # noqa: BLE001 - the test reads it
            failed[index] = error

    at_once(read, 2)
    assert all(isinstance(error, XttsOutOfMemory) for error in failed), failed
    monkeypatch.undo()
    assert decoder.slots == []  # nothing left behind in the cache
    assert speak(xtts)[-1].end == len(TEXT)


def test_the_warm_up_speaks_with_the_default_voice_so_its_prompt_part_is_kept(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request is not a cold one for the default voice either: the warm-up used it,
    so its first sentence runs only its text through the GPT."""
    xtts = XttsEngine(tiny_options(tiny_model_dir, tmp_path))
    xtts.load()  # with its warm-up, and nothing spoken yet
    decoder = xtts._synthesizer.decoder.decoder
    voice = xtts._conditioning_for(xtts.default_voice())
    text = xtts._synthesizer.text_tokens("A first request.", "en")
    prompt = decoder.prompt(voice.gpt_cond_latent, text)
    assert prompt.voice_key() in decoder._voices
    positions = positions_run(decoder, monkeypatch)
    speak(xtts, "A first request.")
    assert positions[0] == prompt.rest.shape[1]
