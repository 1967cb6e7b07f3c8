"""``readaloud browser install|uninstall``: let the browser extension reach the daemon with no
token, through a native messaging host."""

from __future__ import annotations

import argparse

from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    browser = commands.add_parser(
        "browser",
        help="let the browser extension reach the daemon with no setup, or undo it",
        description=(
            "'install' writes the native messaging host manifests for Chrome, Chromium, Brave, "
            "Edge and Firefox into your folders (and the small program they start), so the "
            "readaloud extension talks to the daemon over its socket: no token to paste, no "
            "allowed_origins to add. 'uninstall' removes exactly what install wrote."
        ),
    )
    browser.add_argument("action", choices=("install", "uninstall"))
    browser.set_defaults(handler=cmd_browser)


def cmd_browser(args: argparse.Namespace, config: Config) -> int:
    from readaloud.integrations.browser import install

    print(install.install() if args.action == "install" else install.uninstall())
    return 0
