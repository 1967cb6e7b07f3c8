"""``readaloud bench`` as a user runs it on their desktop: against their own sound server, found
only the normal way (through XDG_RUNTIME_DIR, no PULSE_SERVER), with the same-run baselines and
ratios in its JSON. The figures themselves are not asserted: they are measurements."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support.pulse import PulseServer

from readaloud.bench import screenreading

pytestmark = pytest.mark.sound

#: The keys other tools read from ``readaloud bench --json``.
KEYS = (
    "first_sound.total_ms.median",
    "baseline.plain_piper_sentence_ms.median",
    "ratios.first_sound_vs_plain_sentence",
    "ratios.engine_in_daemon_vs_bare",
    "control.stop_to_silence_ms.median",
    "first_sound.audio_path_ms.median",
    "rss_mb_idle",
    "article.rss_mb_after",
    "article.underruns",
    "short.first_sound_ms.median",
    "short.repeat_first_sound_ms.median",
    "short.echo_first_sound_ms.median",
    # Through real Orca and speechd, readaloud and espeak-ng in the same run.
    "screen_reader.readaloud.keystroke_first_sound_ms.median",
    "screen_reader.readaloud.spd_say_first_sound_ms.median",
    "screen_reader.espeak_ng.keystroke_first_sound_ms.median",
    "screen_reader.espeak_ng.spd_say_first_sound_ms.median",
    "screen_reader.ratios.keystroke_first_sound_ms_vs_espeak_ng",
    "screen_reader.ratios.spd_say_first_sound_ms_vs_espeak_ng",
    # A long PDF, opened by the daemon, against its first sentence sent as text.
    "documents.first_sound.document_ms.median",
    "documents.first_sound.first_sentence_as_text_ms.median",
    "documents.ratio_vs_text",
    "documents.extraction.pages_per_s",
    "documents.export.workers_2.real_time_factor",
    "documents.export.speed_up_2_vs_one_process",
    # The word events a page highlights, against the sound of those words at the server.
    "follow_along.word_event_vs_sound_ms.median",
    "follow_along.abs_lag_ms.median",
)


def _at(results: dict, dotted: str) -> object:
    value: object = results
    for part in dotted.split("."):
        assert isinstance(value, dict) and part in value, f"no {dotted} in the JSON"
        value = value[part]
    return value


def test_bench_measures_at_the_desktop_sound_server_with_same_run_baselines(
    pulse: PulseServer,
) -> None:
    desktop = PulseServer()  # a desktop session's server: reached through XDG_RUNTIME_DIR only
    desktop.start()
    env = {**os.environ, "XDG_RUNTIME_DIR": str(desktop.runtime_dir), "DISPLAY": ""}
    env.pop("PULSE_SERVER", None)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "readaloud", "bench", "--sound-server", "user", "--json",
             "--runs", "2", "--play-seconds", "2", "--article-words", "150",
             "--document-pages", "12"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        desktop.close()
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout)
    assert results["sound_server"].startswith("your sound server")
    for key in KEYS:
        value = _at(results, key)
        assert isinstance(value, int | float) and (value >= 0 or "vs_sound" in key), (key, value)
    # The ratios are of figures measured in this run.
    first = _at(results, "first_sound.total_ms.median")
    plain = _at(results, "baseline.plain_piper_sentence_ms.median")
    assert _at(results, "ratios.first_sound_vs_plain_sentence") == pytest.approx(
        first / plain, abs=0.001  # type: ignore[operator]
    )
    assert results["baseline"]["first_chunk_text"].startswith("Although the morning train")
    reader = results["screen_reader"]
    assert reader["ratios"]["keystroke_first_sound_ms_vs_espeak_ng"] == pytest.approx(
        reader["readaloud"]["keystroke_first_sound_ms"]["median"]
        / reader["espeak_ng"]["keystroke_first_sound_ms"]["median"],
        abs=0.01,
    )
    say_all = reader["readaloud"]["say_all"]
    assert say_all["spoken"] == list(screenreading.BOOK) and all(say_all["completed"])
    assert isinstance(say_all["added_silence_ms"], float)  # less than none: shorter pauses
    # Every sentence's first word was reported when heard, and found in the recording.
    follow = results["follow_along"]
    assert follow["sentences"] == 2 * 6 and follow["matched"] >= follow["sentences"] - 1
