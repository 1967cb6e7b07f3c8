"""XTTS commands: ``model fetch`` (the download) and the cloned voices of ``readaloud voice``."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    model = commands.add_parser(
        "model",
        help="download the XTTS v2 model",
        description="Get the XTTS v2 model (about 1.9 GB) through Coqui's model manager.",
    )
    model_actions = model.add_subparsers(dest="model_action", metavar="ACTION", required=True)
    fetch = model_actions.add_parser(
        "fetch",
        help="download XTTS v2 after you accept its licence",
        description=(
            "Show the licence of XTTS v2 (Coqui Public Model License, non-commercial), and "
            "download the model when you accept it, with --accept-license or at the prompt. "
            "The model goes to --model-dir, or [xtts] model_dir, or the default data folder."
        ),
    )
    fetch.add_argument(
        "--accept-license",
        action="store_true",
        help="accept the Coqui Public Model License (read it first: https://tts-hub.github.io/cpml)",
    )
    fetch.set_defaults(handler=cmd_model_fetch)


def register_voice_add(actions: argparse._SubParsersAction) -> None:
    add = actions.add_parser(
        "add",
        help="clone an XTTS voice from one or more recordings",
        description=(
            "Clone a voice from recordings of one speaker (WAV, FLAC, OGG or MP3, any rate, mono "
            "or stereo). Each clip needs at least 3 s of clean speech; 6 s or more in all, from "
            "several clips, sounds best. The voice is computed once and stored; afterwards "
            "'readaloud say --voice NAME' uses it at once."
        ),
    )
    add.add_argument("name", metavar="NAME", help="name for the voice (letters, digits, - or _)")
    add.add_argument("clips", nargs="+", type=Path, metavar="CLIP", help="recording(s)")
    add.add_argument("--replace", action="store_true", help="replace a voice of that name")
    add.set_defaults(handler=cmd_voice_add)


def installed() -> bool:
    """Whether XTTS (coqui-tts) is installed here."""
    return importlib.util.find_spec("TTS") is not None


def voices(config: Config) -> list:
    """The XTTS voices: those enrolled, then the model's studio speakers."""
    return list(_engine(config).voices())


def _engine(config: Config):
    from readaloud.engines.xtts import XttsEngine
    from readaloud.engines.xtts.options import options_from_config

    return XttsEngine(options_from_config(config))


def cmd_voice_add(args: argparse.Namespace, config: Config) -> int:
    engine = _engine(config)
    voice = engine.enrol(args.name, args.clips, replace=args.replace)
    clips = voice.meta.get("clips", [])
    speech = sum(c["speech_seconds"] for c in clips)
    print(
        f"Enrolled voice '{voice.id}' from {len(clips)} clip(s), {speech:.0f} s of speech. "
        f'Try it: readaloud say --engine xtts --voice {voice.id} "Hello."'
    )
    return 0


def cmd_voice_remove(args: argparse.Namespace, config: Config) -> int:
    from readaloud.engines.xtts.voices import check_name

    engine = _engine(config)
    name = check_name(args.name)
    engine.store.remove(name)
    print(f"Removed voice '{name}'.")
    return 0


def cmd_model_fetch(args: argparse.Namespace, config: Config) -> int:
    from readaloud.engines.xtts.fetch import LICENSE_NOTICE, fetch_model

    target = config.xtts_model_dir
    print(LICENSE_NOTICE)
    accepted = args.accept_license or _ask_acceptance()
    files = fetch_model(target, license_accepted=accepted)
    print(f"XTTS v2 is ready in {files.directory}.")
    return 0


def _ask_acceptance() -> bool:
    """Ask on a terminal; without one (a script, a pipe) there is no silent yes."""
    if not sys.stdin.isatty():
        return False
    try:
        answer = input("Type 'yes' to accept the licence and download the model: ")
    except EOFError:
        return False
    return answer.strip().lower() in ("yes", "y")
