"""readaloud export: a document as an audiobook file, made in this process and its workers."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from readaloud.commands.common import add_voice_options
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
        help="processes making speech at once (default [export] workers: cores - 1)",
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
    )
    err = sys.stderr
    if report.reused:
        print(f"Went on from an earlier export: {report.reused} sentences were made.", file=err)
    for written in report.files:
        print(
            f"Wrote {written.path} ({_clock(written.seconds)}, {written.rms_db:.1f} dB RMS, "
            f"peak {written.peak_db:.1f} dB)",
            file=err,
        )
    if report.real_time_factor is not None:
        print(
            f"Made {_clock(report.made_s)} of speech in {_clock(report.made_wall_s)} with "
            f"{report.workers} worker{'s' if report.workers > 1 else ''} "
            f"(real-time factor {report.real_time_factor:.3f}).",
            file=err,
        )
    for chapter, text, problem in report.suspicious:
        print(f"Check chapter {chapter}: “{text[:60]}” is {problem}.", file=err)
    return 0


class Progress:
    """A bar with the time left on a terminal; a line every 10 % otherwise (logs, pipes)."""

    def __init__(self, out) -> None:
        self.out = out
        self.tty = out.isatty()
        self.began = time.monotonic()
        self.first_done: int | None = None
        self.last_tenth = -1

    def __call__(self, done: int, total: int, made_s: float) -> None:
        if self.first_done is None:
            self.first_done, self.began = done, time.monotonic()
        share = done / total if total else 1.0
        left = self._left(done, total)
        if self.tty:
            bar = "#" * round(share * 30)
            self.out.write(f"\r[{bar:<30}] {done}/{total} sentences, {left} left ")
            if done == total:
                self.out.write("\n")
            self.out.flush()
        elif int(share * 10) > self.last_tenth:
            self.last_tenth = int(share * 10)
            self.out.write(f"{round(share * 100)}% ({done}/{total} sentences, {left} left)\n")
            self.out.flush()

    def _left(self, done: int, total: int) -> str:
        made = done - (self.first_done or 0)
        if made <= 0:
            return "time unknown"
        per = (time.monotonic() - self.began) / made
        return _clock(per * (total - done))


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
