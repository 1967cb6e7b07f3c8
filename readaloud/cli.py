"""The ``readaloud`` command: the root parser and error handling. Subcommands live in
``readaloud/commands/`` (one module per group). Errors become one line and an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from readaloud import __version__
from readaloud.commands import (
    bench,
    browser,
    control,
    documents,
    export,
    lexicon,
    reader,
    speak,
    speechd,
    system,
    voices,
    xtts,
)
from readaloud.config import default_config_path
from readaloud.config import load as load_config
from readaloud.errors import ExitCode, ReadaloudError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readaloud",
        description=(
            "Read text aloud with a natural neural voice. The first words are heard while the "
            "rest is still being synthesized."
        ),
        epilog="Run 'readaloud COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"readaloud {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"config file to use (default: {default_config_path()})",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        metavar="DIR",
        help="XTTS v2 checkpoint folder (overrides [xtts] model_dir)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv for debug details)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (
        speak,
        documents,
        export,
        control,
        system,
        voices,
        lexicon,
        xtts,
        bench,
        speechd,
        browser,
        reader,
    ):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="readaloud: %(levelname)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return ExitCode.BAD_INPUT
    try:
        config = load_config(args.config)
        if args.model_dir is not None:
            config = dataclasses.replace(
                config, xtts=dataclasses.replace(config.xtts, model_dir=str(args.model_dir))
            )
        return args.handler(args, config)
    except ReadaloudError as error:
        print(f"readaloud: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as error:  # a bug: still one line, details with -v
        if args.verbose:
            traceback.print_exc()
        print(
            f"readaloud: internal error ({type(error).__name__}: {error}). "
            "Run again with -v for details and report it.",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL_ERROR
