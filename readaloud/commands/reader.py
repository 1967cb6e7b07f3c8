"""``readaloud reader``: open the reader page (the text being read, large, highlighted as it is
heard) in the browser, through a one-time link from the daemon."""

from __future__ import annotations

import argparse
import webbrowser

from readaloud.commands.common import client_for
from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    reader = commands.add_parser(
        "reader",
        help="show what is read in the browser, the sentence and the word lit as heard",
        description=(
            "Open the reader page in your browser: the text being read in large type, the "
            "sentence and the word highlighted as they are heard, with pause, stop, previous "
            "and next sentence, speed, and fonts (OpenDyslexic among them), spacing and "
            "colours for easier reading. The link works once, within two minutes; the page "
            "then stays open with a cookie of its own, and no token is in its address."
        ),
    )
    reader.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="print the one-time link instead of opening the browser",
    )
    reader.set_defaults(handler=cmd_reader)


def cmd_reader(args: argparse.Namespace, config: Config) -> int:
    url = client_for(args, config).call("POST", "/v1/reader/link")["url"]
    if args.print_only:
        print(url)
        return 0
    if webbrowser.open(url):
        print("Opened the reader page in your browser.")
    else:
        print(f"Open this link in your browser (it works once, within two minutes):\n{url}")
    return 0
