"""Choosing XTTS (auto/explicit), speaking with it from the CLI, and ``model fetch`` offline."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import soundfile
from support.cli import run_readaloud

from readaloud.cli import main
from readaloud.config import Config, XttsSettings
from readaloud.engines.piper import PiperEngine
from readaloud.engines.registry import choose_engine
from readaloud.engines.routing import RoutingEngine
from readaloud.engines.xtts import XttsEngine
from readaloud.engines.xtts.checkpoint import ModelMissing


def config_with(model_dir: Path, **xtts) -> Config:
    return Config(xtts=XttsSettings(model_dir=str(model_dir), **xtts))


def test_auto_uses_xtts_only_with_a_gpu_and_a_model(tiny_model_dir: Path, tmp_path) -> None:
    no_model = choose_engine("auto", config=config_with(tmp_path / "none"))
    assert isinstance(no_model.engine.primary, PiperEngine)
    assert "no XTTS model" in no_model.reason and "model fetch --accept-license" in no_model.reason

    config = config_with(tiny_model_dir)
    no_gpu = choose_engine("auto", config=config, cuda_available=lambda: False)
    assert isinstance(no_gpu.engine.primary, PiperEngine) and "no CUDA GPU" in no_gpu.reason

    gpu = choose_engine("auto", config=config, cuda_available=lambda: True)
    assert isinstance(gpu.engine, RoutingEngine)
    assert isinstance(gpu.engine.primary, XttsEngine) and isinstance(gpu.engine.fast, PiperEngine)
    assert gpu.reason.startswith("xtts (auto: CUDA GPU") and "piper" in gpu.reason
    assert gpu.engine.primary.loaded is None  # chosen, not loaded: that is load()'s job


def test_explicit_xtts_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="readaloud model fetch --accept-license"):
        choose_engine("xtts", config=config_with(tmp_path / "none"))


def test_say_with_xtts_writes_its_speech(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The real CLI, in this process (the subprocess start-up is tested with the voice commands)."""
    config = tmp_path / "readaloud.toml"
    config.write_text('[xtts]\ndevice = "cpu"\nmax_new_tokens = 16\n')
    out = tmp_path / "speech.wav"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    args = ["--config", str(config), "--model-dir", str(tiny_model_dir)]
    text = "Hello, this is the neural voice. It speaks two sentences."
    assert main([*args, "say", "--engine", "xtts", "--out", str(out), text]) == 0
    info = soundfile.info(out)
    assert info.samplerate == 24000 and info.duration > 0.5

    capsys.readouterr()
    assert main([*args, "voices", "--engine", "xtts"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("Active engine: xtts (chosen")
    assert "claribel-dervla\txtts\ten,es,fr,de" in listed
    assert "\tpiper\t" in listed  # short text and failover voice


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_model_fetch_offline_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "models" / "xtts_v2"
    env = {
        "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",  # nothing listens: a dead network
        "HF_HOME": str(tmp_path / "hf"),
    }
    result = run_readaloud("--model-dir", str(target), "model", "fetch", "--accept-license", env=env)
    assert result.code == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Could not download XTTS v2" in lines[0]
    assert "run 'readaloud model fetch --accept-license' again" in lines[0]
    assert "non-commercial" in result.stdout.lower()  # the licence was shown first
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # no staging folder left behind


def test_model_fetch_needs_the_licence_accepted(tmp_path: Path) -> None:
    target = tmp_path / "models" / "xtts_v2"
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HOME": str(tmp_path / "hf")}
    result = run_readaloud("--model-dir", str(target), "model", "fetch", stdin=b"yes\n", env=env)
    assert result.code == 2  # no terminal to ask on: never a silent yes, even with "yes" piped
    assert "https://coqui.ai/cpml" in result.stdout
    assert "--accept-license" in result.stderr and "non-commercial" in result.stderr
    assert not target.exists() and not (tmp_path / "hf").exists()
