"""read FILE (documents), resume and bookmarks: through the daemon, which opens the file itself
(asked over its local socket), else in this process; both keep the place where reading stopped."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from readaloud.config import Config
from readaloud.errors import BadInput, ExitCode


def register(commands: argparse._SubParsersAction) -> None:
    resume = commands.add_parser(
        "resume",
        help="continue after 'pause', or go on with the last document where it stopped",
        description=(
            "Continue what was paused, at the same place. When nothing is paused, go on "
            "reading the document you stopped most recently, from the sentence you were "
            "hearing ('readaloud bookmarks' lists the places kept)."
        ),
    )
    from readaloud.commands.output import add_speech_options

    add_speech_options(resume)
    resume.set_defaults(handler=cmd_resume)
    bookmarks = commands.add_parser(
        "bookmarks",
        help="list the places where reading stopped",
        description="List the documents whose reading stopped part way, most recent first.",
    )
    bookmarks.add_argument("--forget", metavar="FILE", help="forget the place kept for FILE")
    bookmarks.set_defaults(handler=cmd_bookmarks)


def add_document_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password", metavar="WORD", help="the password of a protected PDF")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--chapter", type=int, metavar="N", help="start at chapter N (from 1)")
    where.add_argument(
        "--from",
        dest="from_words",
        metavar="WORDS",
        help="start at the sentence holding these words",
    )
    where.add_argument(
        "--from-start",
        action="store_true",
        help="read from the beginning, not from where reading stopped last time",
    )


def request_for(args: argparse.Namespace, path: Path):
    from readaloud.speech.documents import DocumentRequest

    chapter = getattr(args, "chapter", None)
    if chapter is not None and chapter < 1:
        raise BadInput(f"There is no chapter {chapter}: chapters are counted from 1.")
    return DocumentRequest(
        path=path.expanduser().absolute(),
        password=getattr(args, "password", None),
        chapter=getattr(args, "chapter", None),
        words=getattr(args, "from_words", None),
        from_start=getattr(args, "from_start", False),
    )


def read_document(args: argparse.Namespace, config: Config, settings: dict[str, Any]) -> int:
    """Read the file ``args.target``: the daemon opens it when it runs, else this process."""
    from readaloud.commands.common import client_for

    request = request_for(args, Path(args.target))
    if args.out:
        return _to_file(args, config, request, settings)
    if not args.local and not args.engine:
        client = client_for(args, config)
        if client.running():
            return _via_daemon(client, request, settings, args)
    return _here(args, config, _open(config, request, settings), settings)


def _via_daemon(client: Any, request: Any, settings: dict[str, Any], args) -> int:
    from readaloud.commands.output import via_daemon

    body: dict[str, Any] = {"file": str(request.path)}
    if request.password is not None:
        body["password"] = request.password
    if request.chapter is not None:
        body["chapter"] = request.chapter
    return via_daemon(client, _with_start(body, request, settings, args), args.wait)


def _with_start(body: dict[str, Any], request: Any, settings: dict[str, Any], args) -> dict:
    from readaloud.commands.output import request_fields

    body.update(request_fields(settings))
    if request.words is not None:
        body["from"] = request.words
    if request.from_start:
        body["from_start"] = True
    body["mode"] = "queue" if args.queue else "interrupt"
    return body


def read_page(args: argparse.Namespace, config: Config, settings: dict[str, Any]) -> int:
    """Read the web page ``args.target``, from where its reading stopped last time."""
    from readaloud.commands.common import client_for
    from readaloud.speech.utterance import Utterance

    Utterance(text="", streamed=True, **settings)  # the checks, before the page is fetched
    request = request_for(args, Path())
    if not args.local and not args.engine:
        client = client_for(args, config)
        if client.running():
            from readaloud.commands.output import via_daemon

            body = _with_start({"url": args.target}, request, settings, args)
            return via_daemon(client, body, args.wait)
    from readaloud.documents.bookmarks import Bookmarks
    from readaloud.speech.documents import page_stream
    from readaloud.text.fetch import fetch_url

    stream = page_stream(
        args.target,
        fetch_url(args.target).text,
        words=request.words,
        from_start=request.from_start,
        bookmarks=Bookmarks(config.bookmarks_path),
        language=settings["language"] or config.speech.language or "en",
        first_fragment_words=config.speech.first_fragment_words,
    )
    return _here(args, config, stream, settings)


def _open(config: Config, request: Any, settings: dict[str, Any], bookmarks: bool = True):
    from readaloud.documents.bookmarks import Bookmarks
    from readaloud.speech.documents import open_stream

    return open_stream(
        request,
        bookmarks=Bookmarks(config.bookmarks_path) if bookmarks else None,
        language=settings["language"] or config.speech.language or "en",
        first_fragment_words=config.speech.first_fragment_words,
    )


def _here(args: argparse.Namespace, config: Config, stream: Any, settings: dict[str, Any]) -> int:
    """Speak a document's or page's stream in this process; its place is kept when it stops."""
    from readaloud.commands.common import engine_for, speaking
    from readaloud.speech.utterance import Utterance

    if stream.resumed is not None:
        print(
            f"Going on where you stopped: “{stream.resumed.words}”. "
            "--from-start reads from the beginning.",
            file=sys.stderr,
        )
    utterance = Utterance(text="", streamed=True, **settings)
    try:
        engine = engine_for(args, config).engine
        engine.validate(utterance.voice, utterance.language)
        with speaking(engine, config) as (player, speaker, interrupted):
            player.open(engine.sample_rate)
            engine.load()
            if interrupted.is_set():
                return ExitCode.INTERRUPTED
            report = speaker.speak(utterance, stream=stream)
    finally:
        stream.close()  # keeps the place, when the speaker had not closed it yet
    if interrupted.is_set():
        return ExitCode.INTERRUPTED
    if not stream.known():
        raise BadInput(f"There is nothing to read: {stream.key} has no words.")
    return ExitCode.OK if report.completed else ExitCode.FAILED


def whole_text(config: Config, request: Any, language: str | None) -> str:
    """All the text read from the start asked for (``text`` and ``--out``), bookmarks untouched."""
    stream = _open(config, request, {"language": language}, bookmarks=False)
    try:
        pieces = []
        while (piece := stream.reading.next_piece()) is not None:
            pieces.append(piece)
    finally:
        stream.close()
    return "".join(pieces)


def _to_file(args, config: Config, request: Any, settings: dict[str, Any]) -> int:
    from readaloud.commands.output import to_file
    from readaloud.speech.utterance import Utterance

    text = whole_text(config, request, settings["language"])
    return to_file(args.out, Utterance(text=text, **settings), args, config)


def cmd_resume(args: argparse.Namespace, config: Config) -> int:
    from readaloud.commands.common import client_for
    from readaloud.commands.output import settings_for
    from readaloud.documents.bookmarks import Bookmarks

    client = client_for(args, config)
    if not args.local and client.running() and client.call("POST", "/v1/resume")["ok"]:
        return 0  # paused speech goes on
    latest = Bookmarks(config.bookmarks_path).latest()
    if latest is None:
        raise BadInput(
            "Nothing to resume: no reading stopped part way. Start one: readaloud read FILE"
        )
    if _is_url(latest.path):
        args.target = latest.path
        args.password = args.chapter = args.from_words = None
        args.from_start = False
        return read_page(args, config, settings_for(args, config))
    if not Path(latest.path).exists():
        raise BadInput(
            f"{latest.path}, where reading stopped last, is gone. "
            f"Forget it: readaloud bookmarks --forget {latest.path}"
        )
    args.target = latest.path
    args.password = args.chapter = args.from_words = None
    args.from_start = False
    return read_document(args, config, settings_for(args, config))


def cmd_bookmarks(args: argparse.Namespace, config: Config) -> int:
    from readaloud.documents.bookmarks import Bookmarks

    bookmarks = Bookmarks(config.bookmarks_path)
    if args.forget:
        key = (
            args.forget if _is_url(args.forget) else str(Path(args.forget).expanduser().absolute())
        )
        bookmarks.remove(key)
        return 0
    marks = bookmarks.all()
    if not marks:
        print("No reading has stopped part way.", file=sys.stderr)
        return 0
    for mark in marks:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(mark.saved_at))
        name = f"{mark.title} ({mark.path})" if mark.title else mark.path
        print(f"{when}\t{name}\t“{mark.words}”")
    return 0


def _is_url(place: str) -> bool:
    return place.startswith(("http://", "https://"))
