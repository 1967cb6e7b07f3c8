"""Where speech goes when it is not played here: the daemon (which may be asked to wait for
the end) or an audio file; and the options and settings every speaking command shares."""

from __future__ import annotations

import argparse
import logging
import queue
import sys
import threading
from pathlib import Path
from typing import Any

from readaloud.commands.common import add_voice_options, engine_for
from readaloud.config import Config
from readaloud.engines.base import Sampling
from readaloud.errors import (
    BadInput,
    EngineError,
    ExitCode,
    NoOutputDevice,
    ReadaloudError,
)
from readaloud.speech.events import (
    MISSING_VOICE,
    Connected,
    Event,
    SpeechFailed,
    UtteranceEnded,
)

log = logging.getLogger("readaloud")


def add_speech_options(parser: argparse.ArgumentParser) -> None:
    add_voice_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the speech to FILE (.wav, .flac or .ogg) instead of playing it",
    )
    parser.add_argument(
        "--queue",
        action="store_true",
        help="with the daemon: speak after what is playing instead of interrupting it",
    )
    parser.add_argument(
        "--wait", action="store_true", help="with the daemon: return when the speech has ended"
    )
    parser.add_argument(
        "--local", action="store_true", help="speak in this process even if the daemon runs"
    )


def settings_for(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from readaloud.voices.settings import VoiceSettings

    voice = args.voice or config.speech.voice or None

    def engine():  # built only when some voice has settings
        return engine_for(args, config).engine

    own = VoiceSettings(config.voice_settings_path).for_request(voice, engine)
    volume, sampling = own.under(args.volume, Sampling.of(args), config.speech.volume)
    return {
        "voice": voice,
        # None: the engine detects the language, falling back to [speech] language.
        "language": args.lang or None,
        "rate": args.rate if args.rate is not None else config.speech.rate,
        "volume": volume,
        "sampling": sampling,
    }


def request_fields(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings_for``'s settings as the daemon's API takes them (JSON, the set ones)."""
    fields = {k: v for k, v in settings.items() if v is not None and k != "sampling"}
    sampling = settings.get("sampling")
    return {**fields, **(sampling.given() if sampling is not None else {})}


def via_daemon(client, body: dict[str, Any], wait: bool) -> int:
    if not wait:
        answer = client.call("POST", "/v1/speak", body)
        log.info("the daemon speaks it as %s", answer["id"])
        return 0
    events: queue.Queue[Event] = queue.Queue()

    def follow() -> None:
        for event in client.events():
            events.put(event)

    threading.Thread(target=follow, daemon=True).start()
    if not isinstance(events.get(timeout=10), Connected):
        raise BadInput("The daemon's event stream did not start.")
    utterance_id = client.call("POST", "/v1/speak", body)["id"]
    try:
        while True:
            event = events.get()
            if getattr(event, "id", None) != utterance_id:
                continue
            if isinstance(event, SpeechFailed) and event.code == MISSING_VOICE:
                print(event.message, file=sys.stderr)  # the rest is read on
            elif isinstance(event, SpeechFailed):  # one line and exit code, as in-process
                kinds = {NoOutputDevice.code: NoOutputDevice, EngineError.code: EngineError}
                raise kinds.get(event.code, ReadaloudError)(event.message)
            if isinstance(event, UtteranceEnded):
                return 0 if event.completed else ExitCode.FAILED
    except KeyboardInterrupt:
        client.call("POST", "/v1/stop")
        return ExitCode.INTERRUPTED


def to_file(out: Path, utterance, args: argparse.Namespace, config: Config) -> int:
    from readaloud.audio.files import check_output_path, write_audio
    from readaloud.speech.synthesis import prepare, synthesize

    check_output_path(out)
    engine = engine_for(args, config).engine
    fragment_words = config.speech.first_fragment_words
    segments = prepare(engine, utterance, fragment_words)
    engine.load()
    cancel = threading.Event()

    def blocks():
        for piece in synthesize(
            engine, utterance, cancel, first_fragment_words=fragment_words, segments=segments
        ):
            if piece.notice:
                print(piece.notice, file=sys.stderr)
            yield piece.chunk.samples

    seconds = write_audio(out, engine.sample_rate, blocks())
    print(f"Wrote {seconds:.1f} s of speech to {out}", file=sys.stderr)
    return 0
