"""Setting readaloud up on this machine: daemon, service install/uninstall, doctor."""

from __future__ import annotations

import argparse
from pathlib import Path

from readaloud.config import Config
from readaloud.errors import BadInput


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"'{value}' is not HOST:PORT (e.g. 127.0.0.1:7412)")
    return host, int(port)


def register(commands: argparse._SubParsersAction) -> None:
    daemon = commands.add_parser(
        "daemon",
        help="run the background service in the foreground (what systemd runs)",
        description=(
            "Load and warm the voice, open the sound output, then serve the API on a Unix socket "
            "and on loopback HTTP, and listen for the global hotkeys. Tells systemd when ready."
        ),
    )
    daemon.add_argument("--listen", type=_listen, metavar="HOST:PORT", help="HTTP address")
    daemon.add_argument("--socket", type=Path, metavar="PATH", help="Unix socket path")
    daemon.add_argument("--engine", metavar="NAME", help="engine: auto, piper, xtts or remote")
    daemon.add_argument("--no-hotkeys", action="store_true", help="do not grab global hotkeys")
    daemon.set_defaults(handler=cmd_daemon)

    service = commands.add_parser(
        "service",
        help="install or remove the systemd user service (start with the desktop)",
        description=(
            "'install' writes ~/.config/systemd/user/readaloud.service for this installation and "
            "enables it; 'uninstall' disables and removes it."
        ),
    )
    service.add_argument("action", choices=("install", "uninstall"))
    service.set_defaults(handler=cmd_service)

    doctor = commands.add_parser(
        "doctor",
        help="check this machine's setup and say how to fix what is missing",
        description=(
            "Check the sound server and output device, engines and voices, GPU and XTTS model, "
            "clipboard tools and the display (for hotkeys). Each problem comes with one line "
            "saying how to fix it. Exits 1 when something readaloud needs is missing."
        ),
    )
    doctor.add_argument("--speak", action="store_true", help="also speak the summary aloud")
    doctor.set_defaults(handler=cmd_doctor)


def cmd_daemon(args: argparse.Namespace, config: Config) -> int:
    from readaloud.daemon import Daemon

    return Daemon(
        config,
        engine_name=args.engine,
        listen=args.listen,
        socket_path=args.socket,
        hotkeys=not args.no_hotkeys,
    ).run()


def cmd_service(args: argparse.Namespace, config: Config) -> int:
    from readaloud.integrations import systemd

    if args.action == "install":
        message = systemd.install_service()
    elif args.action == "uninstall":
        message = systemd.uninstall_service()
    else:  # argparse already refuses other values
        raise BadInput(f"Unknown action {args.action}.")
    print(message)
    return 0


def cmd_doctor(args: argparse.Namespace, config: Config) -> int:
    from readaloud.doctor import run_checks, speak_summary

    results = run_checks(config)
    width = max(len(r.name) for r in results)
    for result in results:
        print(f"[{result.status:>4}] {result.name:<{width}}  {result.detail}")
        if result.fix:
            print(f"       {'':<{width}}  fix: {result.fix}")
    if args.speak:
        speak_summary(results, config)
    return 1 if any(r.status == "FAIL" for r in results) else 0
