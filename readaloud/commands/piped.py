"""``say -``: standard input spoken as it arrives (``llm ... | readaloud say -``, ``tail -f log |
readaloud say --lines -``): each sentence (or line) as soon as it is complete, through the
daemon's WebSocket /v1/stream when it runs, else in this process. Ends when the input ends."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import Any

from readaloud.commands.output import request_fields
from readaloud.config import Config
from readaloud.errors import BadInput, ExitCode, ReadaloudError
from readaloud.speech.stream import StreamOptions
from readaloud.text.sources import MAX_TEXT_BYTES

log = logging.getLogger("readaloud")

#: Bytes read from standard input at a time: whatever has come, up to this much.
READ_BYTES = 16 * 1024
#: Input that goes on coming within this long of the last piece is one whole text (a file or
#: ``echo`` in a pipe); a pause this long means a program still writing it.
WHOLE_INPUT_GAP_S = 0.03
_EMPTY = "There is no text to read: standard input is empty or only whitespace."


def options_for(args: argparse.Namespace, config: Config) -> StreamOptions:
    keep_up = config.stream.keep_up if args.keep_up is None else args.keep_up
    return StreamOptions(
        lines=args.lines, keep_up=args.lines and keep_up, flush_s=config.stream.flush_s
    )


def read_start() -> tuple[bytes, bool]:
    """What standard input holds now: (the bytes, True when its end came with them).

    Waits for the first piece, then takes what follows without a pause; input that ends so is
    a whole text (read, checked and spoken as one, like text given as arguments), and input
    over the 1 MB cap stops being read (the caller reports it).
    """
    descriptor = sys.stdin.fileno()
    pieces = [os.read(descriptor, READ_BYTES)]
    total = len(pieces[0])
    while pieces[-1] and total <= MAX_TEXT_BYTES:
        ready, _, _ = select.select([descriptor], [], [], WHOLE_INPUT_GAP_S)
        if not ready:
            return b"".join(pieces), False
        pieces.append(os.read(descriptor, READ_BYTES))
        total += len(pieces[-1])
    return b"".join(pieces), True


def speak_piped(
    args: argparse.Namespace,
    config: Config,
    settings: dict[str, Any],
    client: Any | None,
    first: bytes,
) -> int:
    """Speak standard input while it is read, ``first`` what came of it so far; ``client``:
    the daemon's, if it runs."""
    options = options_for(args, config)
    if client is not None:
        return _via_daemon(client, settings, options, args.queue, args.wait, first)
    return _here(args, config, settings, options, first)


class Pump:
    """Standard input into ``write`` as it comes (False from it: nobody listens any more), then
    ``end()``; on a thread of its own, so the caller can follow the speech meanwhile."""

    def __init__(
        self, write: Callable[[bytes], bool], end: Callable[[], None], first: bytes = b""
    ) -> None:
        self.write = write
        self.end = end
        self.first = first
        #: Anything but whitespace has been read.
        self.had_text = bool(first.strip())
        self.thread = threading.Thread(target=self._run, name="readaloud-stdin", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        descriptor = sys.stdin.fileno()
        try:
            if self.first and not self.write(self.first):
                return
            while True:
                data = os.read(descriptor, READ_BYTES)
                self.had_text = self.had_text or bool(data.strip())
                if not data or not self.write(data):
                    return
        finally:
            self.end()


# -- through the daemon ---------------------------------------------------------------------


def _via_daemon(
    client: Any,
    settings: dict[str, Any],
    options: StreamOptions,
    queue: bool,
    wait: bool,
    first: bytes,
) -> int:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import unix_connect

    start = {
        "type": "start",
        **request_fields(settings),
        "mode": "queue" if queue else "interrupt",
        "lines": options.lines,
        "keep_up": options.keep_up,
        "flush_s": options.flush_s,
    }
    with unix_connect(str(client.socket_path), "ws://localhost/v1/stream") as socket:
        socket.send(json.dumps(start))
        accepted = _answer(socket)
        if accepted.get("type") != "accepted":
            raise _failure(accepted)

        def write(data: bytes) -> bool:
            try:
                socket.send(data)
            except ConnectionClosed:
                return False  # stopped: the daemon wants no more
            return True

        def end() -> None:
            with contextlib.suppress(ConnectionClosed):
                socket.send(json.dumps({"type": "end"}))

        pump = Pump(write, end, first)
        try:
            for raw in socket:
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "error":
                    raise _failure(event)
                if kind == "input_end":
                    if not pump.had_text:
                        raise BadInput(_EMPTY)
                    if not wait:
                        return ExitCode.OK
                if kind == "utterance_end":
                    return ExitCode.OK if event.get("completed") else ExitCode.FAILED
        except KeyboardInterrupt:
            socket.send(json.dumps({"type": "stop"}))
            return ExitCode.INTERRUPTED
    return ExitCode.FAILED  # the daemon closed without saying why (it is shutting down)


def _answer(socket: Any) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(socket.recv(timeout=30))
    return answer


def _failure(event: dict[str, Any]) -> ReadaloudError:
    from readaloud.client import error_for

    return error_for(str(event.get("code", "")), str(event.get("message", "The daemon refused.")))


# -- in this process --------------------------------------------------------------------------


def _here(
    args: argparse.Namespace,
    config: Config,
    settings: dict[str, Any],
    options: StreamOptions,
    first: bytes,
) -> int:
    from readaloud.commands.common import engine_for, speaking
    from readaloud.speech.stream import TextStream
    from readaloud.speech.utterance import Utterance

    utterance = Utterance(text="", streamed=True, **settings)
    engine = engine_for(args, config).engine
    engine.validate(utterance.voice, utterance.language)
    stream = TextStream(
        utterance.language or config.speech.language or "en",
        options,
        first_fragment_words=config.speech.first_fragment_words,
    )
    failures: list[ReadaloudError] = []

    def write(data: bytes) -> bool:
        try:
            return stream.write_bytes(data)
        except ReadaloudError as error:
            failures.append(error)
            return False

    with speaking(engine, config) as (player, speaker, interrupted):
        player.open(engine.sample_rate)
        engine.load()
        pump = Pump(write, stream.end, first)
        report = speaker.speak(utterance, stream=stream)
    if interrupted.is_set():
        return ExitCode.INTERRUPTED
    if failures:
        raise failures[0]
    if not pump.had_text:
        raise BadInput(_EMPTY)
    if not stream.known():
        raise BadInput("There is nothing to read: the text has no words.")
    return ExitCode.OK if report.completed else ExitCode.FAILED
