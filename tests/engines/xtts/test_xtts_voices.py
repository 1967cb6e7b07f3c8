"""Voice enrolment: clips in any common format → a stored voice that reloads exactly; bad clips
are refused with a message naming them; the CLI manages voices end to end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from support.cli import run_readaloud
from support.xtts import tiny_options

from readaloud.engines.base import SynthesisRequest
from readaloud.engines.piper import PiperEngine
from readaloud.engines.xtts import XttsEngine
from readaloud.engines.xtts.clips import BadClip
from readaloud.engines.xtts.engine import VoiceMismatch
from readaloud.engines.xtts.voices import VoiceStore
from readaloud.errors import BadInput, UnknownVoice

SENTENCES = [
    "The quick brown fox jumps over the lazy dog while the farmer watches from the gate.",
    "Reading aloud helps many people follow long documents without straining their eyes.",
    "Every recording should be clean and calm, spoken at an easy pace, and at least a few "
    "seconds long, so that the voice can be learned well.",
]


@pytest.fixture(scope="module")
def speech() -> list[tuple[np.ndarray, int]]:
    """Real speech (Piper's joe voice) to clone from, one recording per sentence."""
    piper = PiperEngine()
    piper.load()
    recordings = []
    for text in SENTENCES:
        chunks = piper.stream(SynthesisRequest(text, None, "en"), threading.Event())
        samples = np.concatenate([c.samples for c in chunks])
        recordings.append((samples, piper.sample_rate))
    return recordings


@pytest.fixture
def clips(tmp_path: Path, speech) -> list[Path]:
    """The recordings as a user might have them: stereo 44.1 kHz WAV, 16 kHz FLAC, 48 kHz OGG."""
    (first, rate), (second, _), (third, _) = speech
    stereo = soxr.resample(first, rate, 44100)
    wav = tmp_path / "studio take.wav"
    soundfile.write(wav, np.stack([stereo, 0.8 * stereo], axis=1), 44100, subtype="PCM_16")
    flac = tmp_path / "phone.flac"
    soundfile.write(flac, soxr.resample(second, rate, 16000), 16000)
    ogg = tmp_path / "podcast.ogg"
    soundfile.write(ogg, soxr.resample(third, rate, 48000), 48000)
    return [wav, flac, ogg]


@pytest.fixture
def engine(tiny_model_dir: Path, tmp_path: Path) -> XttsEngine:
    return XttsEngine(tiny_options(tiny_model_dir, tmp_path / "voices"))


def test_enrolled_voice_reloads_exactly_and_speaks(engine: XttsEngine, clips) -> None:
    made = engine.enrol("Grandma", clips)
    assert made.id == "grandma"
    assert made.gpt_cond_latent.shape == (1, 32, 64)
    assert made.speaker_embedding.shape == (1, 512, 1)
    assert [c["file"] for c in made.meta["clips"]] == [str(c) for c in clips]

    began = time.perf_counter()
    again = VoiceStore(engine.store.directory).load("grandma")
    assert time.perf_counter() - began < 0.1  # stored once, loaded at once
    assert np.array_equal(again.gpt_cond_latent, made.gpt_cond_latent)
    assert np.array_equal(again.speaker_embedding, made.speaker_embedding)
    assert again.fingerprint == engine.loaded.fingerprint

    ids = [v.id for v in engine.voices()]
    assert ids[0] == "grandma" and "ana-florence" in ids  # enrolled first, then studio
    chunks = list(
        engine.stream(
            SynthesisRequest("Hello from a cloned voice.", "grandma", "de"), threading.Event()
        )
    )
    assert sum(len(c.samples) for c in chunks) > 0

    engine.store.remove("grandma")
    with pytest.raises(UnknownVoice):
        engine.validate("grandma", None)


def test_several_clips_combine_into_one_voice(engine: XttsEngine, clips) -> None:
    one = engine.enrol("one", clips[:1])
    three = engine.enrol("three", clips)
    assert not np.allclose(one.gpt_cond_latent, three.gpt_cond_latent)
    # The speaker embedding is the mean over clips, like XTTS does it for several references.
    singles = [engine.enrol(f"single{i}", [clip]).speaker_embedding for i, clip in enumerate(clips)]
    assert np.allclose(three.speaker_embedding, np.mean(singles, axis=0), atol=1e-6)


def test_a_name_is_not_taken_twice_unless_replaced(engine: XttsEngine, clips) -> None:
    engine.enrol("anna", clips[:1])
    with pytest.raises(BadInput, match="exists already"):
        engine.enrol("anna", clips[1:2])
    engine.enrol("anna", clips[1:2], replace=True)
    with pytest.raises(BadInput, match="cannot be a voice name"):
        engine.enrol("../etc/passwd", clips[:1])


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("short", r"has only 1\.\d s of speech; each clip needs at least 3 s"),
        ("silent", "is silent"),
        ("clipped", "is clipped"),
        ("unreadable", "Cannot read clip 'unreadable.wav'"),
        ("missing", "does not exist"),
        ("empty", "holds no audio"),
    ],
)
def test_bad_clips_are_refused_by_name(
    engine: XttsEngine, tmp_path: Path, speech, clips, kind: str, message: str
) -> None:
    samples, rate = speech[0]
    path = tmp_path / f"{kind}.wav"
    if kind == "short":
        start = np.flatnonzero(np.abs(samples) > 0.05)[0]
        soundfile.write(path, samples[start : start + int(1.5 * rate)], rate)
    elif kind == "silent":
        quiet = np.random.default_rng(0).normal(0, 1e-4, 5 * rate)
        soundfile.write(path, quiet, rate)
    elif kind == "clipped":
        soundfile.write(path, np.clip(samples * 20, -1, 1), rate)
    elif kind == "unreadable":
        path.write_text("this is not audio")
    elif kind == "empty":
        soundfile.write(path, np.zeros(0), rate)
    with pytest.raises(BadClip, match=message) as caught:
        engine.enrol("victim", [clips[0], path])
    assert kind in str(caught.value) or kind == "missing"
    assert engine.loaded is None  # clips are checked before the model is even loaded
    assert "victim" not in engine.store


def test_a_voice_from_another_model_must_be_enrolled_again(engine: XttsEngine, clips) -> None:
    voice = engine.enrol("old", clips[:1])
    tampered = type(voice)(**{**voice.__dict__, "fingerprint": "0" * 16})
    engine.store.save(tampered, replace=True)
    with pytest.raises(VoiceMismatch, match="enrol it again"):
        list(engine.stream(SynthesisRequest("Hello there.", "old", "en"), threading.Event()))


def test_voice_commands(tiny_model_dir: Path, tmp_path: Path, clips) -> None:
    env = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "OMP_NUM_THREADS": "1",
    }
    model = ("--model-dir", str(tiny_model_dir))

    added = run_readaloud(*model, "voice", "add", "anna", str(clips[0]), str(clips[1]), env=env)
    assert added.code == 0, added.stderr
    assert "Enrolled voice 'anna' from 2 clip(s)" in added.stdout
    assert "[transformers]" not in added.stderr  # library chatter is kept out of the user's way
    stored = tmp_path / "data" / "readaloud" / "voices" / "xtts" / "anna.npz"
    assert stored.is_file()

    listed = run_readaloud(*model, "voice", "list", env=env)
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    xtts = lines[lines.index("XTTS voices:") + 1 :]
    assert xtts[0].startswith("  anna\tenrolled, cloned from")
    assert any(line.startswith("  claribel-dervla\tstudio speaker") for line in xtts)

    bad = run_readaloud(*model, "voice", "add", "bob", str(tmp_path / "nope.wav"), env=env)
    assert bad.code == 2 and bad.stderr.strip().count("\n") == 0
    assert "nope.wav" in bad.stderr

    removed = run_readaloud(*model, "voice", "remove", "anna", env=env)
    assert removed.code == 0 and not stored.exists()
    again = run_readaloud(*model, "voice", "remove", "anna", env=env)
    assert again.code == 2 and "no enrolled voice 'anna'" in again.stderr
