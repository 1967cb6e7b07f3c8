"""readaloud export: a document as an audiobook file, made in this process and its workers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from readaloud.commands.common import add_voice_options
from readaloud.commands.progress import Progress, clock
from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="turn a document into an audiobook file",
        description=(
            "Read FILE (PDF, EPUB, Word, OpenDocument, text, Markdown or HTML) into an audio "
            "file: .m4b (an audiobook with chapters), .m4a, .mp3 (ID3 chapters), .opus or .ogg "
            "(Opus, chapter comments), .flac or .wav (no chapter marks: use --split-chapters). "
            "Loudness is brought to -20 dB RMS with peaks under -3 dB. A stopped export goes "
            "on where it was when run again."
        ),
    )
    export.add_argument("file", metavar="FILE", help="the document")
    export.add_argument("--out", type=Path, required=True, metavar="BOOK", help="the audio file")
    add_voice_options(export)
    export.add_argument("--password", metavar="WORD", help="the password of a protected PDF")
    export.add_argument("--chapters", metavar="LIST", help="only these chapters, e.g. 2-4 or 1,3")
    export.add_argument(
        "--split-chapters",
        action="store_true",
        help="one file per chapter: BOOK-01-Title.m4b, BOOK-02-...",
    )
    export.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="sentences made at once (default [export] workers: Piper cores - 1, XTTS 8)",
    )
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    from readaloud.errors import BadInput
    from readaloud.export.job import ExportRequest, export

    if args.workers < 0:
        raise BadInput("--workers must be 1 or more (0: the default).")
    report = export(
        ExportRequest(
            document=Path(args.file),
            out=args.out,
            password=args.password,
            voice=args.voice,
            language=args.lang,
            rate=args.rate if args.rate is not None else config.speech.rate,
            chapters=args.chapters,
            split_chapters=args.split_chapters,
            workers=args.workers,
            engine=args.engine,
        ),
        config,
        Progress(sys.stderr),
        tell=lambda notice: print(notice, file=sys.stderr),
    )
    err = sys.stderr
    if report.reused:
        print(f"Went on from an earlier export: {report.reused} sentences were made.", file=err)
    for written in report.files:
        print(
            f"Wrote {written.path} ({clock(written.seconds)}, {written.rms_db:.1f} dB RMS, "
            f"peak {written.peak_db:.1f} dB)",
            file=err,
        )
    if report.real_time_factor is not None:
        print(
            f"Made {clock(report.made_s)} of speech in {clock(report.made_wall_s)} with "
            f"{report.workers} worker{'s' if report.workers > 1 else ''} "
            f"(real-time factor {report.real_time_factor:.3f}).",
            file=err,
        )
    for chapter, text, problem in report.suspicious:
        print(f"Check chapter {chapter}: “{text[:60]}” is {problem}.", file=err)
    return 0
