"""The ``readaloud`` command. Each subcommand is a small function; errors become one line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

from readaloud import __version__
from readaloud.config import Config, default_config_path
from readaloud.config import load as load_config
from readaloud.errors import BadInput, ReadaloudError

log = logging.getLogger("readaloud")

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70


def _rate(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number (1 is normal speed)") from None


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
        "-v", "--verbose", action="count", default=0, help="log more (-vv for debug details)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    say = commands.add_parser(
        "say",
        help="speak text now",
        description=(
            "Speak TEXT (or standard input with '-'). Ctrl+C stops the sound at once. "
            "With --out, write the speech to a file instead of playing it."
        ),
    )
    say.add_argument("text", nargs="*", metavar="TEXT", help="words to speak, or - for stdin")
    _add_voice_options(say)
    say.add_argument(
        "--rate",
        type=_rate,
        metavar="R",
        help="speaking rate from 0.25 to 4 (1 = normal); the pitch stays the same",
    )
    say.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the speech to FILE (.wav, .flac or .ogg) instead of playing it",
    )
    say.set_defaults(handler=cmd_say)

    text = commands.add_parser(
        "text",
        help="show the segments that would be spoken",
        description=(
            "Print the segments TEXT would be spoken in, one per line, exactly as they are given "
            "to the voice. Reads FILE, or standard input when FILE is '-' or missing."
        ),
    )
    text.add_argument("file", nargs="?", default="-", metavar="FILE", help="text file, or -")
    text.add_argument("--lang", metavar="CODE", help="language of the text (default: config)")
    text.add_argument(
        "--offsets",
        action="store_true",
        help="prefix each segment with its START:END character offsets in the input",
    )
    text.set_defaults(handler=cmd_text)

    voices = commands.add_parser(
        "voices",
        help="list the voices you can use",
        description="List the voices of the installed engines, and which engine is active.",
    )
    voices.add_argument("--engine", metavar="NAME", help="engine to list: auto, piper or xtts")
    voices.set_defaults(handler=cmd_voices)

    doctor = commands.add_parser(
        "doctor",
        help="check this machine's setup and say how to fix what is missing",
        description=(
            "Check the sound server and output device, engines and voices, GPU and XTTS model, "
            "clipboard tools and the display (for hotkeys). Each problem comes with one line "
            "saying how to fix it. Exits 1 when something readaloud needs is missing."
        ),
    )
    doctor.add_argument("--speak", action="store_true", help="also speak the summary aloud")
    doctor.set_defaults(handler=cmd_doctor)
    return parser


def _add_voice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--voice", metavar="ID", help="voice id from 'readaloud voices'")
    parser.add_argument("--lang", metavar="CODE", help="language of the text, e.g. en or de")
    parser.add_argument("--engine", metavar="NAME", help="engine: auto, piper or xtts")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="readaloud: %(levelname)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 2
    try:
        config = load_config(args.config)
        return args.handler(args, config)
    except ReadaloudError as error:
        print(f"readaloud: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug: still one line, details with -v
        if args.verbose:
            traceback.print_exc()
        print(
            f"readaloud: internal error ({type(error).__name__}: {error}). "
            "Run again with -v for details and report it.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _engine_for(args: argparse.Namespace, config: Config):
    from readaloud.engines.registry import choose_engine

    return choose_engine(
        args.engine or config.speech.engine,
        piper_voices_dir=config.piper_voices_dir,
        default_voice=config.speech.voice or None,
        use_cuda=config.piper.use_cuda,
    )


def cmd_say(args: argparse.Namespace, config: Config) -> int:
    from readaloud.speech.utterance import Utterance
    from readaloud.text.sources import from_arguments

    if not args.text:
        raise BadInput("Nothing to say: give the text, or '-' to read standard input.")
    utterance = Utterance(
        text=from_arguments(args.text),
        voice=args.voice or config.speech.voice or None,
        language=args.lang or config.speech.language or None,
        rate=args.rate if args.rate is not None else config.speech.rate,
    )
    if args.out:
        return _say_to_file(args.out, utterance, args, config)
    return _say_aloud(utterance, args, config)


def _say_to_file(out: Path, utterance, args: argparse.Namespace, config: Config) -> int:
    from readaloud.audio.files import check_output_path, write_audio
    from readaloud.speech.synthesis import prepare, synthesize

    check_output_path(out)
    engine = _engine_for(args, config).engine
    fragment_words = config.speech.first_fragment_words
    segments = prepare(engine, utterance, fragment_words)
    engine.load()
    cancel = threading.Event()
    blocks = (
        piece.chunk.samples
        for piece in synthesize(
            engine, utterance, cancel, first_fragment_words=fragment_words, segments=segments
        )
    )
    seconds = write_audio(out, engine.sample_rate, blocks)
    print(f"Wrote {seconds:.1f} s of speech to {out}", file=sys.stderr)
    return 0


def _say_aloud(utterance, args: argparse.Namespace, config: Config) -> int:
    from readaloud.audio.player import Player
    from readaloud.speech.speaker import Speaker, run_mark
    from readaloud.speech.synthesis import prepare

    engine = _engine_for(args, config).engine
    prepare(engine, utterance, config.speech.first_fragment_words)  # input errors come first
    player = Player(
        config.audio.output_device,
        block_frames=config.audio.block_frames,
        tail_padding_ms=config.audio.tail_padding_ms,
        stream_rate=config.audio.sample_rate or None,
        on_mark=run_mark,
    )
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
        player.open(engine.sample_rate)  # a missing sound server is reported before loading
        engine.load()
        if interrupted.is_set():
            return EXIT_INTERRUPTED
        report = speaker.speak(utterance)
        log.info(
            "first audio after %.0f ms (engine %.0f ms), %.1f s of speech, RTF %.3f, "
            "%d underruns",
            (report.first_audio_s or 0) * 1000,
            (report.engine_first_chunk_s or 0) * 1000,
            report.audio_s,
            report.real_time_factor or 0,
            report.underruns,
        )
    finally:
        player.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_INTERRUPTED if interrupted.is_set() else 0


def cmd_text(args: argparse.Namespace, config: Config) -> int:
    from readaloud.text.segment import split
    from readaloud.text.sources import read_file

    text = read_file(args.file)
    segments = split(
        text,
        args.lang or config.speech.language or None,
        first_fragment_words=config.speech.first_fragment_words,
    )
    if not segments:
        raise BadInput("There is nothing to read: the text has no words.")
    out = sys.stdout
    for segment in segments:
        if args.offsets:
            out.write(f"{segment.start}:{segment.end}\t{segment.text}\n")
        else:
            out.write(segment.text + "\n")
    return 0


def cmd_voices(args: argparse.Namespace, config: Config) -> int:
    choice = _engine_for(args, config)
    print(f"Active engine: {choice.reason}")
    for voice in choice.engine.voices():
        languages = ",".join(voice.languages)
        print(f"{voice.id}\t{voice.engine}\t{languages}\t{voice.description}")
    return 0


def cmd_doctor(args: argparse.Namespace, config: Config) -> int:
    from readaloud.doctor import run_checks, speak_summary

    results = run_checks(config)
    width = max(len(r.name) for r in results)
    for result in results:
        print(f"[{result.status:>4}] {result.name:<{width}}  {result.detail}")
        if result.fix:
            print(f"       {'':<{width}}  fix: {result.fix}")
    failed = [r for r in results if r.status == "FAIL"]
    if args.speak:
        speak_summary(results, config)
    return 1 if failed else 0
