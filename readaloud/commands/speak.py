"""say, read, text and voices: speak through the daemon when it runs, else in this process."""

from __future__ import annotations

import argparse
import logging
import queue
import re
import sys
import threading
from pathlib import Path
from typing import Any

from readaloud.commands.common import add_voice_options, client_for, engine_for, speaking
from readaloud.config import Config
from readaloud.errors import (
    BadInput,
    EngineError,
    ExitCode,
    NoOutputDevice,
    ReadaloudError,
)
from readaloud.speech.events import Connected, Event, SpeechFailed, UtteranceEnded

log = logging.getLogger("readaloud")

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\\)")  # a scheme, not a Windows drive


def register(commands: argparse._SubParsersAction) -> None:
    say = commands.add_parser(
        "say",
        help="speak text now",
        description=(
            "Speak TEXT (or standard input with '-'). Goes through the daemon when it runs, "
            "else speaks in this process. Ctrl+C stops the sound at once. With --out, write "
            "the speech to a file instead of playing it."
        ),
    )
    say.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="words to speak, or - for standard input, spoken as it arrives",
    )
    _add_speech_options(say)
    say.add_argument(
        "--lines",
        action="store_true",
        help="with -: speak each line as it comes (logs, tail -f) instead of each sentence",
    )
    backlog = say.add_mutually_exclusive_group()
    backlog.add_argument(
        "--keep-up",
        dest="keep_up",
        action="store_const",
        const=True,
        help="with --lines: when lines come faster than they are spoken, read the newest and "
        "say how many were skipped ([stream] keep_up)",
    )
    backlog.add_argument(
        "--keep-all",
        dest="keep_up",
        action="store_const",
        const=False,
        help="with --lines: read every line, however far behind",
    )
    say.set_defaults(handler=cmd_say)

    read = commands.add_parser(
        "read",
        help="read a web page or a file aloud",
        description=(
            "Read a web page (http or https URL: the main text, title first, without menus or "
            "comments) or a text, Markdown or HTML file aloud."
        ),
    )
    read.add_argument("target", metavar="URL|FILE", help="page address or file path")
    _add_speech_options(read)
    read.set_defaults(handler=cmd_read)

    text = commands.add_parser(
        "text",
        help="show the segments that would be spoken",
        description=(
            "Print the segments the text would be spoken in, one per line, exactly as they are "
            "given to the voice. Reads FILE (text, Markdown or HTML), or standard input when "
            "FILE is '-' or missing."
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
    voices.add_argument("--engine", metavar="NAME", help="engine: auto, piper, xtts, remote")
    voices.set_defaults(handler=cmd_voices)


def _add_speech_options(parser: argparse.ArgumentParser) -> None:
    add_voice_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the speech to FILE (.wav, .flac or .ogg) instead of playing it",
    )
    parser.add_argument(
        "--queue",
        action="store_true",
        help="with the daemon: speak after what is playing instead of interrupting it",
    )
    parser.add_argument(
        "--wait", action="store_true", help="with the daemon: return when the speech has ended"
    )
    parser.add_argument(
        "--local", action="store_true", help="speak in this process even if the daemon runs"
    )


# -- commands --------------------------------------------------------------------------------


def cmd_say(args: argparse.Namespace, config: Config) -> int:
    from readaloud.text.sources import from_arguments

    if not args.text:
        raise BadInput("Nothing to say: give the text, or '-' to read standard input.")
    if (args.lines or args.keep_up is not None) and args.text != ["-"]:
        raise BadInput("--lines, --keep-up and --keep-all read standard input: give '-'.")
    if args.text == ["-"] and not args.out:
        from readaloud.commands.piped import read_start
        from readaloud.text.sources import decode

        first, ended = read_start()
        if not ended:  # a program is still writing it: speak it as it comes
            return speak(args, config, piped=first)
        return speak(args, config, text=decode(first, "standard input"))
    return speak(args, config, text=from_arguments(args.text))


def cmd_read(args: argparse.Namespace, config: Config) -> int:
    target = args.target
    if _URL.match(target) and not Path(target).exists():
        return speak(args, config, url=target)
    from readaloud.text.extract import from_file

    return speak(args, config, text=from_file(Path(target)).text)


def cmd_text(args: argparse.Namespace, config: Config) -> int:
    from readaloud.text.segment import split
    from readaloud.text.sources import read_file

    if args.file == "-":
        text = read_file("-")
    else:
        from readaloud.text.extract import from_file

        text = from_file(Path(args.file)).text
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
    client = client_for(args, config)
    if not args.engine and client.running():
        answer = client.call("GET", "/v1/voices")
        print(f"Active engine (daemon): {answer['engine']}")
        for voice in answer["voices"]:
            print(
                f"{voice['id']}\t{voice['engine']}\t{','.join(voice['languages'])}\t"
                f"{voice['description']}"
            )
        return 0
    choice = engine_for(args, config)
    print(f"Active engine: {choice.reason}")
    for voice in choice.engine.voices():
        print(f"{voice.id}\t{voice.engine}\t{','.join(voice.languages)}\t{voice.description}")
    return 0


# -- speaking --------------------------------------------------------------------------------


def speak(
    args: argparse.Namespace,
    config: Config,
    *,
    text: str | None = None,
    url: str | None = None,
    piped: bytes | None = None,
) -> int:
    """Speak ``text``, the page at ``url`` or standard input as it arrives (``piped``: what
    came of it so far): to a file, through the daemon, or here."""
    from readaloud.speech.utterance import Utterance

    settings = {
        "voice": args.voice or config.speech.voice or None,
        # None: the engine detects the language, falling back to [speech] language.
        "language": args.lang or None,
        "rate": args.rate if args.rate is not None else config.speech.rate,
    }
    if piped is not None:
        from readaloud.commands.piped import speak_piped

        Utterance(text="", streamed=True, **settings)  # type: ignore[arg-type]
        daemon = None
        if not args.local and not args.engine:
            client = client_for(args, config)
            daemon = client if client.running() else None
        return speak_piped(args, config, settings, daemon, piped)
    if not args.out and not args.local and not args.engine:
        client = client_for(args, config)
        if client.running():
            # The checks made in this process, before sending (JSON cannot even carry NaN).
            Utterance(text=url or text or "", **settings)  # type: ignore[arg-type]
            body: dict[str, Any] = {"text": text} if url is None else {"url": url}
            body.update({k: v for k, v in settings.items() if v is not None})
            body["mode"] = "queue" if args.queue else "interrupt"
            return _via_daemon(client, body, args.wait)
    if url is not None:
        from readaloud.text.fetch import fetch_url

        text = fetch_url(url).text
    assert text is not None
    utterance = Utterance(text=text, **settings)  # type: ignore[arg-type]
    if args.out:
        return _to_file(args.out, utterance, args, config)
    return _aloud(utterance, args, config)


def _via_daemon(client, body: dict[str, Any], wait: bool) -> int:
    if not wait:
        answer = client.call("POST", "/v1/speak", body)
        log.info("the daemon speaks it as %s", answer["id"])
        return 0
    events: queue.Queue[Event] = queue.Queue()

    def follow() -> None:
        for event in client.events():
            events.put(event)

    threading.Thread(target=follow, daemon=True).start()
    if not isinstance(events.get(timeout=10), Connected):
        raise BadInput("The daemon's event stream did not start.")
    utterance_id = client.call("POST", "/v1/speak", body)["id"]
    try:
        while True:
            event = events.get()
            if getattr(event, "id", None) != utterance_id:
                continue
            if isinstance(event, SpeechFailed):  # the same one line and exit code as in-process
                kinds = {NoOutputDevice.code: NoOutputDevice, EngineError.code: EngineError}
                raise kinds.get(event.code, ReadaloudError)(event.message)
            if isinstance(event, UtteranceEnded):
                return 0 if event.completed else ExitCode.FAILED
    except KeyboardInterrupt:
        client.call("POST", "/v1/stop")
        return ExitCode.INTERRUPTED


def _to_file(out: Path, utterance, args: argparse.Namespace, config: Config) -> int:
    from readaloud.audio.files import check_output_path, write_audio
    from readaloud.speech.synthesis import prepare, synthesize

    check_output_path(out)
    engine = engine_for(args, config).engine
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


def _aloud(utterance, args: argparse.Namespace, config: Config) -> int:
    from readaloud.speech.synthesis import prepare

    engine = engine_for(args, config).engine
    prepare(engine, utterance, config.speech.first_fragment_words)  # input errors come first
    with speaking(engine, config) as (player, speaker, interrupted):
        player.open(engine.sample_rate)  # a missing sound server is reported before loading
        engine.load()
        if interrupted.is_set():
            return ExitCode.INTERRUPTED
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
    return ExitCode.INTERRUPTED if interrupted.is_set() else 0
