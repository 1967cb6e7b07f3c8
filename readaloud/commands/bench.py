"""``readaloud bench``: measure time to first sound and control latency on this machine."""

from __future__ import annotations

import argparse
import json
import sys

from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure time to first sound, stop latency and speed on this machine",
        description=(
            "Start a private readaloud daemon and measure, at the sound server: request → first "
            "sample (with where the time goes), stop/pause → silence, resume → sound, the "
            "real-time factor and underruns over a long article, and memory; then the same first "
            "sound for a naive daemon that synthesizes the whole first sentence; and, with Orca "
            "installed, keystroke → first sound through Orca and spd-say → first sound, against "
            "espeak-ng, and the silence Orca's Say All adds. Medians over "
            "repeated runs. With your own sound server running you will hear it."
        ),
    )
    bench.add_argument("--runs", type=int, default=5, help="repetitions per figure (default 5)")
    bench.add_argument(
        "--play-seconds", type=float, default=60.0, help="how long to play the long article"
    )
    bench.add_argument("--article-words", type=int, default=2000, help="long article length")
    bench.add_argument(
        "--sound-server",
        choices=("auto", "private", "user"),
        default="auto",
        help="measure at your sound server (user), a private null sink (private), or whichever "
        "works (auto: yours when 'pactl info' answers)",
    )
    bench.add_argument("--engine", default="piper", help="engine to measure (default piper)")
    bench.add_argument(
        "--screen-reader",
        choices=("auto", "yes", "no"),
        default="auto",
        help="also measure key echo through Orca and spd-say, against espeak-ng, on a private "
        "Xvfb (auto: when Orca, zenity, xdotool, Xvfb and speechd's espeak-ng are installed)",
    )
    bench.add_argument(
        "--document-pages",
        type=int,
        default=300,
        help="pages of the PDF read for the document figures (default 300; 0 leaves them out)",
    )
    bench.add_argument("--json", action="store_true", help="print JSON instead of tables")
    bench.set_defaults(handler=cmd_bench)


def cmd_bench(args: argparse.Namespace, config: Config) -> int:
    from readaloud.bench.report import print_report
    from readaloud.bench.run import Options, run

    results = run(
        Options(
            runs=max(1, args.runs),
            article_words=max(50, args.article_words),
            play_seconds=max(1.0, args.play_seconds),
            sound_server=args.sound_server,
            engine=args.engine,
            screen_reader=args.screen_reader,
            document_pages=max(0, args.document_pages),
        )
    )
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_report(results, sys.stdout)
    return 0
