"""say, read, text and voices: speak through the daemon when it runs, else in this process."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any

from readaloud.commands.common import client_for, engine_for, speaking
from readaloud.commands.documents import add_document_options
from readaloud.commands.output import (
    add_speech_options,
    request_fields,
    settings_for,
    to_file,
    via_daemon,
)
from readaloud.config import Config
from readaloud.errors import (
    BadInput,
    ExitCode,
)

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
    add_speech_options(say)
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
        help="read a web page or a document aloud",
        description=(
            "Read a web page (http or https URL: the main text, title first, without menus or "
            "comments) or a document aloud: PDF (scanned pages through Tesseract), EPUB, Word "
            "(.docx), OpenDocument (.odt), text, Markdown or HTML. A document goes on where "
            "its reading stopped last time, unless --chapter, --from or --from-start says "
            "otherwise."
        ),
    )
    read.add_argument("target", metavar="URL|FILE", help="page address or file path")
    add_speech_options(read)
    add_document_options(read)
    read.set_defaults(handler=cmd_read)

    text = commands.add_parser(
        "text",
        help="show the segments that would be spoken",
        description=(
            "Print the segments the text would be spoken in, one per line, exactly as they are "
            "given to the voice. Reads FILE (PDF, EPUB, Word, OpenDocument, text, Markdown or "
            "HTML), or standard input when FILE is '-' or missing."
        ),
    )
    text.add_argument("file", nargs="?", default="-", metavar="FILE", help="document, or -")
    add_document_options(text)
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
        if args.password or args.chapter:
            raise BadInput("--password and --chapter are for files.")
        if args.out:
            return speak(args, config, url=target)
        from readaloud.commands.documents import read_page

        return read_page(args, config, settings_for(args, config))
    from readaloud.commands.documents import read_document

    return read_document(args, config, settings_for(args, config))


def cmd_text(args: argparse.Namespace, config: Config) -> int:
    from readaloud.text.segment import split
    from readaloud.text.sources import read_file

    if args.file == "-":
        text = read_file("-")
    else:
        from readaloud.commands.documents import request_for, whole_text

        text = whole_text(config, request_for(args, Path(args.file)), args.lang)
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

    settings = settings_for(args, config)
    if piped is not None:
        from readaloud.commands.piped import speak_piped

        Utterance(text="", streamed=True, **settings)
        daemon = None
        if not args.local and not args.engine:
            client = client_for(args, config)
            daemon = client if client.running() else None
        return speak_piped(args, config, settings, daemon, piped)
    if not args.out and not args.local and not args.engine:
        client = client_for(args, config)
        if client.running():
            # The checks made in this process, before sending (JSON cannot even carry NaN).
            Utterance(text=url or text or "", **settings)
            body: dict[str, Any] = {"text": text} if url is None else {"url": url}
            body.update(request_fields(settings))
            body["mode"] = "queue" if args.queue else "interrupt"
            return via_daemon(client, body, args.wait)
    if url is not None:
        from readaloud.text.fetch import fetch_url

        text = fetch_url(url).text
    assert text is not None
    utterance = Utterance(text=text, **settings)
    if args.out:
        return to_file(args.out, utterance, args, config)
    return _aloud(utterance, args, config)


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
            "first audio after %.0f ms (engine %.0f ms), %.1f s of speech, RTF %.3f, %d underruns",
            (report.first_audio_s or 0) * 1000,
            (report.engine_first_chunk_s or 0) * 1000,
            report.audio_s,
            report.real_time_factor or 0,
            report.underruns,
        )
    return ExitCode.INTERRUPTED if interrupted.is_set() else 0
