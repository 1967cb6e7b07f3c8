"""Run the whole benchmark: a real daemon per configuration, measured at the sound server."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from readaloud.bench import (
    baseline,
    documents,
    follow,
    measure,
    screenreader,
    screenreading,
    streaming,
)
from readaloud.bench.harness import DaemonProcess
from readaloud.bench.soundserver import SINK, PulseServer
from readaloud.bench.texts import FIRST_SENTENCE, article
from readaloud.config import SpeechConfig
from readaloud.errors import ExitCode, ReadaloudError

#: The daemon's default first fragment ([speech] first_fragment_words).
FIRST_FRAGMENT_WORDS = SpeechConfig().first_fragment_words
#: A one-word utterance: what a screen reader sends on every key.
SHORT_TEXT = "Enter"
#: One-word utterances the daemon has not said before (its short-utterance cache cannot help).
NEW_WORDS = [
    "Escape",
    "Tab",
    "Delete",
    "Home",
    "Insert",
    "Space",
    "Backspace",
    "Shift",
    "Control",
    "Period",
    "Comma",
    "Slash",
    "Minus",
    "Equals",
    "Bracket",
    "Quote",
    "Semicolon",
    "Grave",
]

#: Letters a screen reader echoes; the key echo set (speech/echo.py) has them made ahead.
LETTERS = list("qwertyuiopasdfgh")
#: The daemon makes its key echo set in the background after a first key echo: measured on its
#: own (``short.echo_first_sound_ms``), that work is kept out of the other figures.
NO_ECHO = "[speech]\necho_ahead = false\n"

#: What the project aims for on a 2-core CPU with Piper, as same-run ratios where the machine
#: matters (issue "First sound in a blink").
TARGETS = {
    "first_sound_vs_plain_sentence": 0.20,
    "engine_in_daemon_vs_bare": 1.1,
    "one_word_first_sound_ms": 60.0,
    "one_word_repeat_first_sound_ms": 15.0,
    "key_echo_first_sound_ms": 15.0,
    "orca_keystroke_first_sound_ms": 50.0,
    "spd_say_first_sound_ms": 60.0,
    "say_all_added_silence_ms": 50.0,
    "streamed_first_sound_vs_whole": 1.1,
    "streamed_words_lost": 0,
    # The issue gives an absolute figure: a 300-page PDF heard within 1 s of the request.
    "document_first_sound_ms": 1000.0,
    # Export with two worker processes against one (one onnxruntime thread each) on 2 cores:
    # at least 1.7 times as fast, given as time over time (1/1.7). The report also gives two
    # against this process with both cores to onnxruntime, the default for one worker.
    "export_time_2_vs_1_workers": round(1 / 1.7, 3),
    "stop_to_silence_ms": 15.0,
    # A word event (what the page lights) against that word's first sample at the server.
    "highlight_lag_ms": 50.0,
    "audio_path_ms": 10.0,
    "rss_mb_idle": 250.0,
    "rss_mb_reading": 300.0,
    "underruns": 0,
}


@dataclass
class Options:
    runs: int = 5
    article_words: int = 2000
    play_seconds: float = 60.0
    sound_server: str = "auto"  # auto | private | user
    engine: str = "piper"
    screen_reader: str = "auto"  # auto (when Orca is installed) | yes | no
    document_pages: int = 300


class BenchError(ReadaloudError):
    exit_code = ExitCode.BENCH_FAILED


def machine() -> dict[str, object]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def user_server_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """How the benchmark's daemon, which gets a private XDG_RUNTIME_DIR, finds the user's own
    sound server: PULSE_SERVER as set, else the socket PulseAudio and PipeWire's pulse server
    both keep in the user's runtime folder."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get("PULSE_SERVER"):
        return {"PULSE_SERVER": environ["PULSE_SERVER"]}
    runtime = environ.get("XDG_RUNTIME_DIR")
    socket = Path(runtime) / "pulse" / "native" if runtime else None
    if socket is None or not socket.exists():
        return {}
    return {"PULSE_SERVER": f"unix:{socket}"}


def _user_server_answers() -> bool:
    if shutil.which("pactl") is None:
        return False
    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def sound_server(choice: str) -> Iterator[tuple[dict[str, str], measure.Recorder, str]]:
    """The sound server to measure at: the user's own (heard on the speakers) or a private one."""
    if choice == "user" or (choice == "auto" and _user_server_answers()):
        if not _user_server_answers():
            raise BenchError("No sound server answers 'pactl info'; use --sound-server private.")
        yield (
            user_server_env(),
            measure.Recorder(None, "@DEFAULT_MONITOR@"),
            "your sound server (default sink)",
        )
        return
    if shutil.which("pulseaudio") is None or shutil.which("parec") is None:
        raise BenchError(
            "The private sound server needs PulseAudio: "
            "sudo apt-get install pulseaudio pulseaudio-utils"
        )
    with PulseServer() as server:
        yield (
            server.env,
            measure.Recorder(server, f"{SINK}.monitor"),
            "a private PulseAudio null sink",
        )


def run(options: Options) -> dict:
    text = article(options.article_words)
    with sound_server(options.sound_server) as (env, recorder, where):
        results: dict = {"machine": machine(), "sound_server": where, "engine": options.engine}
        engine_args = ("--engine", options.engine)
        fragment = baseline.first_fragment(FIRST_SENTENCE, FIRST_FRAGMENT_WORDS)
        with _daemon(env, NO_ECHO, engine_args) as daemon:
            results["rss_mb_idle"] = round(measure.rss_mb(daemon.process.pid), 1)  # type: ignore[union-attr]
            results["first_sound"] = measure.first_sound(
                daemon, recorder, FIRST_SENTENCE, options.runs
            )
            # The screen-reader case: one word, each new (synthesized), then one said again and
            # again (from the short-utterance cache).
            new = measure.first_sound(daemon, recorder, NEW_WORDS, min(options.runs, 18))
            measure.first_sound(daemon, recorder, SHORT_TEXT, 1)
            again = measure.first_sound(daemon, recorder, SHORT_TEXT, options.runs)
            results["short"] = {
                "text": SHORT_TEXT,
                "first_sound_ms": new["total_ms"],
                "engine_first_chunk_ms": new["engine_first_chunk_ms"],
                "repeat_first_sound_ms": again["total_ms"],
                "repeat_audio_path_ms": again["audio_path_ms"],
            }
            # Text written word by word into /v1/stream, against its first sentence sent whole.
            results["streaming"] = streaming.run(daemon, recorder, max(3, options.runs // 2))
            results["follow_along"] = follow.run(daemon, recorder, max(2, options.runs // 2))
            if options.document_pages:
                results["documents"] = documents.run(
                    daemon, recorder, options.document_pages, max(2, options.runs // 2)
                )
            results["control"] = measure.control(daemon, recorder, text, max(2, options.runs // 2))
            results["article"] = measure.long_article(daemon, text, options.play_seconds)
        # Key echo: letters never said before, once the daemon has made its echo set for the
        # voice settings of a first key echo.
        with _daemon(env, "", engine_args) as echo:
            measure.first_sound(echo, recorder, "z", 1)  # the first key echo
            assert echo.process is not None
            if not measure.wait_until_quiet(echo.process.pid):
                raise BenchError("The daemon did not finish its key echo set within 2 minutes.")
            letters = measure.first_sound(echo, recorder, LETTERS, min(options.runs, len(LETTERS)))
            results["short"]["echo_first_sound_ms"] = letters["total_ms"]
        results["screen_reader"] = _screen_reader(env, recorder, engine_args, options)
        # The naive daemon: no short first fragment, the whole first sentence is synthesized first.
        naive_config = NO_ECHO + "first_fragment_words = 0\n"
        with _daemon(env, naive_config, engine_args) as naive:
            results["naive_first_sound"] = measure.first_sound(
                naive, recorder, FIRST_SENTENCE, options.runs
            )
        # Bare Piper in this process, in the same run, after the daemons have gone.
        if options.engine == "piper":
            bare = baseline.plain_piper(
                {"sentence": FIRST_SENTENCE, "first_chunk": fragment}, options.runs
            )
            results["baseline"] = {
                "first_chunk_text": fragment,
                "plain_piper_sentence_ms": bare["sentence"],
                "plain_piper_first_chunk_ms": bare["first_chunk"],
            }
    fast = results["first_sound"]["total_ms"].get("median")
    slow = results["naive_first_sound"]["total_ms"].get("median")
    results["ratio_vs_naive"] = _ratio(fast, slow)
    plain = results.get("baseline", {})
    results["ratios"] = {
        "first_sound_vs_plain_sentence": _ratio(
            fast, plain.get("plain_piper_sentence_ms", {}).get("median")
        ),
        "engine_in_daemon_vs_bare": _ratio(
            results["first_sound"]["engine_first_chunk_ms"].get("median"),
            plain.get("plain_piper_first_chunk_ms", {}).get("median"),
        ),
    }
    results["targets"] = verdicts(results)
    return results


@contextlib.contextmanager
def _daemon(env: dict[str, str], config: str, args: tuple[str, ...]) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(env, config_text=config, extra_args=args)
    try:
        daemon.start()
        yield daemon
    except (RuntimeError, TimeoutError) as error:
        raise BenchError(f"The benchmark daemon failed: {error}") from None
    finally:
        daemon.close()


def _screen_reader(
    env: dict[str, str], recorder: measure.Recorder, engine_args: tuple[str, ...], options: Options
) -> dict:
    """Orca and spd-say through speechd, readaloud against espeak-ng (screenreading.py)."""
    if options.screen_reader == "no":
        return {"skipped": "--screen-reader no"}
    missing = screenreader.missing_packages(baseline=True)
    if missing:
        if options.screen_reader == "yes":
            raise BenchError(
                f"The screen-reader figures need: sudo apt-get install {' '.join(missing)}"
            )
        return {"skipped": f"to measure Orca: sudo apt-get install {' '.join(missing)}"}
    with tempfile.TemporaryDirectory(prefix="readaloud-bench-") as folder:
        book = Path(folder) / "book.txt"
        book.write_text(" ".join(screenreading.BOOK) + "\n", encoding="utf-8")
        with _daemon(env, "", engine_args) as daemon:
            try:
                return screenreading.run(daemon, recorder, options.runs, str(book))
            except (RuntimeError, TimeoutError, subprocess.SubprocessError) as error:
                raise BenchError(f"Measuring through Orca failed: {error}") from None


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 3) if part and whole else None


def verdicts(results: dict) -> dict[str, dict]:
    short = results.get("short", {})
    reader = results.get("screen_reader", {}).get("readaloud", {})
    measured = {
        "first_sound_vs_plain_sentence": results["ratios"]["first_sound_vs_plain_sentence"],
        "engine_in_daemon_vs_bare": results["ratios"]["engine_in_daemon_vs_bare"],
        "one_word_first_sound_ms": short.get("first_sound_ms", {}).get("median"),
        "one_word_repeat_first_sound_ms": short.get("repeat_first_sound_ms", {}).get("median"),
        "key_echo_first_sound_ms": short.get("echo_first_sound_ms", {}).get("median"),
        "orca_keystroke_first_sound_ms": reader.get("keystroke_first_sound_ms", {}).get("median"),
        "spd_say_first_sound_ms": reader.get("spd_say_first_sound_ms", {}).get("median"),
        "say_all_added_silence_ms": reader.get("say_all", {}).get("added_silence_ms"),
        "streamed_first_sound_vs_whole": results.get("streaming", {}).get("ratio_vs_whole"),
        "streamed_words_lost": results.get("streaming", {}).get("words_lost"),
        "export_time_2_vs_1_workers": _inverse(
            results.get("documents", {}).get("export", {}).get("speed_up_2_vs_one_process")
        ),
        "document_first_sound_ms": results.get("documents", {})
        .get("first_sound", {})
        .get("document_ms", {})
        .get("median"),
        "stop_to_silence_ms": results["control"]["stop_to_silence_ms"].get("median"),
        "highlight_lag_ms": results.get("follow_along", {}).get("abs_lag_ms", {}).get("median"),
        "audio_path_ms": results["first_sound"]["audio_path_ms"].get("median"),
        "rss_mb_idle": results["rss_mb_idle"],
        "rss_mb_reading": results["article"]["rss_mb_after"],
        "underruns": results["article"]["underruns"],
    }
    return {
        name: {"target": target, "measured": measured[name], "met": _met(measured[name], target)}
        for name, target in TARGETS.items()
    }


def _inverse(value: float | None) -> float | None:
    return round(1 / value, 3) if value else None


def _met(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target
