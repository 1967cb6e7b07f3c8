"""``readaloud speechd install|uninstall``: let Speech Dispatcher (Orca, Firefox, Chrome,
spd-say) speak with readaloud's voices."""

from __future__ import annotations

import argparse

from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    speechd = commands.add_parser(
        "speechd",
        help="register readaloud with Speech Dispatcher (Orca, browsers, spd-say), or remove it",
        description=(
            "'install' makes readaloud a Speech Dispatcher output module named 'readaloud' for "
            "this user: it links sd_readaloud into ~/.local/libexec/speech-dispatcher-modules "
            "and writes ~/.config/speech-dispatcher/modules/readaloud.conf. Other voices stay "
            "available. 'uninstall' removes exactly what install wrote."
        ),
    )
    speechd.add_argument("action", choices=("install", "uninstall"))
    speechd.add_argument(
        "--default",
        action="store_true",
        help="with install: also make readaloud the voice programs get unless they pick one",
    )
    speechd.set_defaults(handler=cmd_speechd)


def cmd_speechd(args: argparse.Namespace, config: Config) -> int:
    from readaloud.integrations.speechd import install

    if args.action == "install":
        print(install.install(default=args.default))
    else:
        print(install.uninstall())
    return 0
