"""Helpers the command modules share: the engine for a request and the daemon client."""

from __future__ import annotations

import argparse

from readaloud.config import Config


def rate(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number (1 is normal speed)") from None


def add_voice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--voice", metavar="ID", help="voice id from 'readaloud voices'")
    parser.add_argument("--lang", metavar="CODE", help="language of the text, e.g. en or de")
    parser.add_argument(
        "--rate",
        type=rate,
        metavar="R",
        help="speaking rate from 0.25 to 4 (1 = normal); the pitch stays the same",
    )
    parser.add_argument("--engine", metavar="NAME", help="engine: auto, piper, xtts or remote")


def engine_for(args: argparse.Namespace, config: Config):
    from readaloud.engines.registry import choose_engine

    return choose_engine(getattr(args, "engine", None) or config.speech.engine, config=config)


def client_for(args: argparse.Namespace, config: Config):
    from readaloud.client import DaemonClient

    return DaemonClient(getattr(args, "socket", None) or config.socket_path)


def speaker_for(engine, config: Config):
    """The player and in-process Speaker the config describes, for ``engine``."""
    from readaloud.audio.player import player_for
    from readaloud.speech.speaker import Speaker, run_mark

    player = player_for(config.audio, on_mark=run_mark)
    speaker = Speaker(
        engine,
        player,
        first_fragment_words=config.speech.first_fragment_words,
        max_buffer_seconds=config.audio.max_buffer_seconds,
    )
    return player, speaker
