"""The ``readaloud`` command without sound: help, text, voices, doctor and every bad input.

Each bad input must give one clear line on stderr, a non-zero exit code and no traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run_readaloud

ARTICLE = (
    "Dr. Smith arrived at 3.30 p.m. on Tuesday, carrying a parcel for the lab. "
    "Nobody expected him.\n\nResults\n- first item\n- second item\n"
)


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    assert result.code == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("readaloud: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("command", [[], ["say"], ["text"], ["voices"], ["doctor"]])
def test_help_is_complete(command: list[str]) -> None:
    result = run_readaloud(*command, "--help")
    assert result.code == 0
    assert "usage: readaloud" in result.stdout
    if not command:
        for sub in ("say", "text", "voices", "doctor"):
            assert sub in result.stdout
    if command == ["say"]:
        for option in ("--voice", "--lang", "--rate", "--out", "Ctrl+C"):
            assert option in result.stdout


def test_text_prints_the_segments_as_spoken(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE)
    result = run_readaloud("text", str(article))
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    # The first sentence is cut at its comma (fast first fragment); the rest is whole.
    assert lines[0] == "Dr. Smith arrived at 3.30 p.m. on Tuesday,"
    assert lines[1] == "carrying a parcel for the lab."
    assert lines[2:] == ["Nobody expected him.", "Results", "first item", "second item"]


def test_text_reads_stdin_with_offsets() -> None:
    result = run_readaloud("text", "--offsets", "-", stdin=b"One. Two.")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == ["0:4\tOne.", "5:9\tTwo."]


def test_voices_lists_the_bundled_voice() -> None:
    result = run_readaloud("voices")
    assert result.code == 0, result.stderr
    assert "Active engine: piper" in result.stdout
    assert "en_US-joe-medium\tpiper\ten" in result.stdout


def test_say_writes_a_wav_file(tmp_path: Path) -> None:
    import soundfile

    out = tmp_path / "hello.wav"
    result = run_readaloud("say", "--out", str(out), "Hello there. How are you today?")
    assert result.code == 0, result.stderr
    audio, rate = soundfile.read(out)
    assert rate == 22050
    # Two short sentences at a natural pace: roughly one to four seconds, and not silent.
    assert 1.0 < len(audio) / rate < 4.0
    assert abs(audio).max() > 0.1
    assert not list(tmp_path.glob(".*partial"))


def test_rate_changes_duration_not_pitch(tmp_path: Path) -> None:
    import numpy as np
    import soundfile

    text = "The rate changes how fast I speak, but my voice stays the same."
    durations, pitches = {}, {}
    for rate in ("0.7", "1.6"):
        out = tmp_path / f"r{rate}.wav"
        assert run_readaloud("say", "--rate", rate, "--out", str(out), text).code == 0
        audio, sr = soundfile.read(out)
        durations[rate] = len(audio) / sr
        spectrum = np.abs(np.fft.rfft(audio))
        freqs = np.fft.rfftfreq(len(audio), 1 / sr)
        band = (freqs > 60) & (freqs < 400)  # where a male voice's pitch lives
        pitches[rate] = float(np.sum(freqs[band] * spectrum[band]) / np.sum(spectrum[band]))
    # 2.29x if every pause scaled too; Piper's random phoneme durations move it (1.69-1.85
    # seen in one day's runs), while the same rate twice stays near 1.
    assert durations["0.7"] > 1.5 * durations["1.6"]
    assert abs(pitches["0.7"] - pitches["1.6"]) / pitches["1.6"] < 0.15


BAD_INPUTS = {
    "no text": (["say"], None, 2, "Nothing to say"),
    "empty text": (["say", ""], None, 2, "no text to read"),
    "whitespace only": (["say", "   \t "], None, 2, "no text to read"),
    "empty stdin": (["say", "-"], b"", 2, "empty"),
    "whitespace stdin": (["say", "-"], b" \n\t\n", 2, "empty or only whitespace"),
    "invalid utf-8 stdin": (["say", "-"], b"caf\xe9 au lait", 2, "not UTF-8"),
    "binary stdin": (["text", "-"], b"\x00\x01\x02abc", 2, "binary"),
    "only punctuation": (["say", "-"], b"... --- !!!", 2, "no words"),
    "lines without stdin": (["say", "--lines", "Hi"], None, 2, "read standard input"),
    "unknown voice": (["say", "--voice", "nobody", "Hi"], None, 2, "Unknown voice 'nobody'"),
    "unknown language": (["say", "--lang", "xx", "Hi"], None, 2, "No installed voice speaks"),
    "malformed language": (["say", "--lang", "e n!", "Hi"], None, 2, "not a language code"),
    "voice/language mismatch": (
        ["say", "--voice", "en_US-joe-medium", "--lang", "de", "Hallo"], None, 2, "speaks en",
    ),
    "rate too high": (["say", "--rate", "9", "Hi"], None, 2, "out of range"),
    "rate too low": (["say", "--rate", "0.1", "Hi"], None, 2, "out of range"),
    "unknown engine": (["say", "--engine", "fast", "Hi"], None, 2, "Unknown engine"),
    "bad out extension": (["say", "--out", "x.mp4", "Hi"], None, 2, "ending in .wav"),
    "out folder missing": (["say", "--out", "/nonexistent/x.wav", "Hi"], None, 2, "does not exist"),
    "missing file": (["text", "/nonexistent/file.txt"], None, 2, "does not exist"),
    "file is a folder": (["text", "/"], None, 2, "is a folder"),
    "missing config": (["--config", "/nonexistent.toml", "voices"], None, 3, "does not exist"),
}


@pytest.mark.parametrize(
    ("args", "stdin", "code", "fragment"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys()
)
def test_bad_input_gives_one_clear_line(args, stdin, code, fragment) -> None:
    assert_one_line_error(run_readaloud(*args, stdin=stdin), code, fragment)


def test_bad_rate_argument_is_explained() -> None:
    result = run_readaloud("say", "--rate", "fast", "Hi")
    assert result.code == 2
    assert "'fast' is not a number" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    import os

    secret = tmp_path / "secret.txt"
    secret.write_text("hidden")
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # root reads anything: make it unreadable another way
        secret.chmod(0o644)
        secret = tmp_path / "dangling"
        secret.symlink_to(tmp_path / "gone")
        assert_one_line_error(run_readaloud("text", str(secret)), 2, "does not exist")
    else:
        assert_one_line_error(run_readaloud("text", str(secret)), 2, "permission denied")


def test_five_megabytes_of_text_is_refused_clearly() -> None:
    big = ("All work and no play makes a dull day. " * 130_000).encode()
    assert len(big) > 5_000_000
    for command in (["say", "-"], ["text", "-"]):
        assert_one_line_error(run_readaloud(*command, stdin=big), 2, "at most 1 MB")


def test_bad_config_file_names_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "readaloud.toml"
    cfg.write_text("[speech]\nrate = 1.0\nspeed = 2\n")
    assert_one_line_error(
        run_readaloud("--config", str(cfg), "voices"), 3, "line 3", "unknown key 'speed'"
    )


def test_the_readme_lists_every_exit_code_once() -> None:
    """One table of exit codes (errors.ExitCode), and the README's table says the same."""
    import re
    from pathlib import Path

    from readaloud.errors import ExitCode

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    listed = [int(code) for code in re.findall(r"^\| (\d+) \| ", readme, re.MULTILINE)]
    assert sorted(listed) == sorted(int(code) for code in ExitCode)
    assert len(set(ExitCode)) == len(ExitCode.__members__), "two names for one exit code"
