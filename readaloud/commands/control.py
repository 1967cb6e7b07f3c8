"""Commands that drive a running daemon: clipboard, selection, stop, pause, resume, toggle, skip,
status and token. Without a daemon they explain that none runs (exit 8)."""

from __future__ import annotations

import argparse

from readaloud.commands.common import client_for
from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    simple = {
        "stop": "stop speaking at once and drop what is queued",
        "pause": "pause; 'resume' continues at the same place",
        "toggle": "pause when speaking, resume when paused (one key for both)",
        "status": "say what the daemon is doing",
    }
    for name in ("clipboard", "selection"):
        sub = commands.add_parser(
            name,
            help=f"read the {'clipboard' if name == 'clipboard' else 'highlighted text'} aloud",
            description=(
                "Read the clipboard aloud (what was copied)."
                if name == "clipboard"
                else "Read the primary selection aloud (the text you just highlighted)."
            ),
        )
        sub.add_argument("--queue", action="store_true", help="speak after what is playing")
        sub.set_defaults(handler=cmd_read_desktop, source=name)
    for name, help_text in simple.items():
        sub = commands.add_parser(
            name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        sub.set_defaults(handler=cmd_simple, action=name)
    skip = commands.add_parser(
        "skip",
        help="skip sentences: forward N (default 1) or back with a negative N",
        description="Move by whole sentences: 'skip' goes to the next one, 'skip -1' back.",
    )
    skip.add_argument("count", nargs="?", type=int, default=1, metavar="N")
    skip.set_defaults(handler=cmd_skip)
    token = commands.add_parser(
        "token",
        help="print the HTTP API token (for the browser extension)",
        description="Print the token HTTP clients send as 'Authorization: Bearer <token>'.",
    )
    token.set_defaults(handler=cmd_token)


def cmd_read_desktop(args: argparse.Namespace, config: Config) -> int:
    body = {"source": args.source, "mode": "queue" if args.queue else "interrupt"}
    client_for(args, config).call("POST", "/v1/speak", body)
    return 0


def cmd_simple(args: argparse.Namespace, config: Config) -> int:
    client = client_for(args, config)
    if args.action == "status":
        status = client.call("GET", "/v1/status")
        line = f"{status['state']}; engine: {status['engine_reason']}; queued: {status['queued']}"
        segment = status.get("segment")
        if segment:
            line += f"\nnow reading: {segment['text']}"
        if status.get("config_changed"):
            line += f"\nconfig: {status['config_changed']}"
        print(line)
        return 0
    answer = client.call("POST", f"/v1/{args.action}")
    if args.action == "toggle":
        print(answer["state"])
    return 0


def cmd_skip(args: argparse.Namespace, config: Config) -> int:
    client_for(args, config).call("POST", "/v1/skip", {"count": args.count})
    return 0


def cmd_token(args: argparse.Namespace, config: Config) -> int:
    from readaloud.server.security import load_or_create_token

    print(load_or_create_token(config.token_path))
    return 0
