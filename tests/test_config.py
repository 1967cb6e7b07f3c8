"""The config file: the shipped one documents every key; mistakes name the key and line."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from readaloud import config
from readaloud.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "readaloud.toml"


def test_shipped_config_is_the_defaults_and_documents_every_key() -> None:
    text = SHIPPED.read_text()
    loaded = config.parse(text, SHIPPED)
    assert dataclasses.replace(loaded, source=None) == config.Config()
    lines = text.splitlines()
    sections = [f.name for f in dataclasses.fields(config.Config) if f.name != "source"]
    for section in sections:
        assert re.search(rf"^\[{section}\]$", text, re.M), f"[{section}] is not documented"
        for field in dataclasses.fields(getattr(config.Config(), section)):
            index = next(
                i for i, line in enumerate(lines) if re.match(rf"{field.name}\s*=", line)
            )
            assert lines[index - 1].startswith("#"), f"{section}.{field.name} has no comment"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[speech]\nrate = 9\n", "line 2: 'speech.rate' = 9.0 must be between 0.25 and 4.0"),
        ("[speech]\n\nvoice = 3\n", "line 3: 'speech.voice' must be a str"),
        ("[speech]\nengine = \"fast\"\n", "must be one of auto, piper, xtts"),
        ("[audio]\nbogus = 1\n", "line 2: unknown key 'bogus' in [audio]"),
        ("[sound]\ndevice = \"x\"\n", "line 1: unknown section [sound]"),
        ("rate = 1\n", "'rate' is outside any section"),
        ("[speech\n", "not valid TOML"),
        ("[audio]\nblock_frames = true\n", "'audio.block_frames' must be a int"),
        ("[audio]\nsample_rate = 100\n", "must be 0 (automatic) or between 8000 and 192000"),
        ("[server]\nallowed_origins = [\"*\"]\n", "never *"),
        ("[server]\nallowed_origins = \"x\"\n", "must be a list of strings"),
        ("[daemon]\nfeedback = \"loud\"\n", "must be one of speech, earcon, off"),
        # Two actions on one combination: caught when the file is read (doctor), not at start.
        (
            "[hotkeys]\nstop = \"<alt>+<super>+A\"\n",
            "line 1: 'hotkeys.stop' and 'hotkeys.read_selection' are both",
        ),
        ("[audio]\nidle_close_s = 0\n", "'audio.idle_close_s' = 0.0 must be between 0.1 and 3600"),
    ],
)
def test_bad_config_names_key_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.parse(text, Path("readaloud.toml"))


def test_missing_default_file_means_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.load() == config.Config()


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")


def test_user_file_is_read_from_xdg_config_home(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "readaloud").mkdir()
    (tmp_path / "readaloud" / "readaloud.toml").write_text("[speech]\nrate = 1.5\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.load().speech.rate == 1.5
