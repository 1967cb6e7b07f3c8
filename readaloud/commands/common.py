"""Helpers the command modules share: the engine for a request and the daemon client."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from readaloud.config import Config
from readaloud.engines.base import SAMPLING_RANGES


def rate(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number (1 is normal speed)") from None


def number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number") from None


def add_voice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--voice", metavar="ID", help="voice id from 'readaloud voices'")
    parser.add_argument("--lang", metavar="CODE", help="language of the text, e.g. en or de")
    parser.add_argument(
        "--rate",
        type=rate,
        metavar="R",
        help="speaking rate from 0.25 to 4 (1 = normal); the pitch stays the same",
    )
    parser.add_argument(
        "--volume",
        type=number,
        metavar="V",
        help="loudness from 0 to 2 (1 = the voice as made; louder is limited, never clipped)",
    )
    parser.add_argument("--engine", metavar="NAME", help="engine: auto, piper, xtts or remote")
    sampling = parser.add_argument_group("XTTS sampling (Piper ignores these)")
    for name, (low, high, meaning) in SAMPLING_RANGES.items():
        sampling.add_argument(
            f"--{name.replace('_', '-')}",
            type=int if name == "top_k" else number,
            metavar="N",
            help=f"{low:g} to {high:g}: {meaning}",
        )


def engine_for(args: argparse.Namespace, config: Config):
    from readaloud.engines.registry import choose_engine

    return choose_engine(getattr(args, "engine", None) or config.speech.engine, config=config)


def client_for(args: argparse.Namespace, config: Config):
    from readaloud.client import DaemonClient

    return DaemonClient(getattr(args, "socket", None) or config.socket_path)


@contextmanager
def speaking(engine, config: Config) -> Iterator[tuple[Any, Any, threading.Event]]:
    """(player, speaker, interrupted) for speaking in this process, as the config describes:
    Ctrl+C or SIGTERM sets ``interrupted`` and silences at once; all is closed on exit."""
    from readaloud.audio.player import player_for
    from readaloud.speech.speaker import Speaker, run_mark

    player = player_for(config.audio, on_mark=run_mark)
    speaker = Speaker(
        engine,
        player,
        first_fragment_words=config.speech.first_fragment_words,
        max_buffer_seconds=config.audio.max_buffer_seconds,
    )
    interrupted = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        interrupted.set()
        speaker.stop()  # silence first; the process exits right after

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield player, speaker, interrupted
    finally:
        speaker.close()
        player.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
