"""Where the module's speech is made: the readaloud daemon, or (when none runs) this process.

Both backends take a request, return its utterance id, and report the same typed events
(speech/events.py: SegmentStarted with character offsets, UtteranceEnded, SpeechFailed, ...) by
calling ``on_event`` from their own threads. The daemon backend adds ``StreamLost`` when its
event stream breaks, so a message in flight can be ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx2

from readaloud.client import DaemonClient
from readaloud.config import Config
from readaloud.errors import ReadaloudError
from readaloud.speech.events import Connected, Event, StreamLost

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]

#: Seconds between attempts to reach a daemon that is not running.
RETRY_S = 1.0


@dataclass(frozen=True)
class Request:
    text: str
    voice: str | None
    language: str | None
    rate: float
    pitch: float = 0.0
    volume: float = 1.0

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "rate": self.rate, "mode": "interrupt"}
        if self.pitch:
            body["pitch"] = self.pitch
        if self.volume != 1.0:
            body["volume"] = self.volume
        if self.voice:
            body["voice"] = self.voice
        if self.language:
            body["language"] = self.language
        return body


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    languages: tuple[str, ...]


class Backend(Protocol):
    #: For logs and the INIT message: "the readaloud daemon" or "in this process".
    description: str

    def speak(self, request: Request) -> str: ...

    def stop(self) -> None: ...

    def voices(self) -> list[VoiceInfo]: ...

    def close(self) -> None: ...


class DaemonBackend:
    """The daemon over its Unix socket; one thread follows its event stream and reconnects."""

    description = "the readaloud daemon"

    def __init__(self, socket_path: Path, on_event: EventSink) -> None:
        self.socket_path = socket_path
        self._on_event = on_event
        self._client = DaemonClient(socket_path, timeout=10.0)
        self._connected = threading.Event()
        self._attempted = threading.Event()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._follow, name="daemon-events", daemon=True)
        self._thread.start()

    def ready(self, timeout: float = 2.0) -> bool:
        """Whether the daemon answers and its events reach us (waits up to ``timeout``)."""
        if self._connected.is_set():
            return True
        if not self.socket_path.exists():
            return False
        self._attempted.clear()
        self._wake.set()  # try now rather than at the next retry
        deadline = time.monotonic() + timeout
        while not (self._connected.is_set() or self._attempted.is_set()):
            if time.monotonic() > deadline:
                break
            self._connected.wait(0.005)
        return self._connected.is_set()

    def speak(self, request: Request) -> str:
        return str(self._client.call("POST", "/v1/speak", request.body())["id"])

    def stop(self) -> None:
        self._client.call("POST", "/v1/stop", {})

    def voices(self) -> list[VoiceInfo]:
        answer = self._client.call("GET", "/v1/voices")
        return [VoiceInfo(v["id"], tuple(v.get("languages") or ())) for v in answer["voices"]]

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._client.close()

    def _follow(self) -> None:
        while not self._closed:
            stream = DaemonClient(self.socket_path)
            try:
                for event in stream.events():
                    if self._closed:
                        break
                    if isinstance(event, Connected):
                        self._connected.set()
                        log.info("following the daemon's events at %s", self.socket_path)
                    else:
                        self._on_event(event)
            except (httpx2.HTTPError, OSError, ValueError, ReadaloudError) as error:
                log.debug("daemon event stream: %s", error)
            finally:
                stream.close()
            if self._connected.is_set():
                self._connected.clear()
                log.warning("lost the readaloud daemon at %s", self.socket_path)
                self._on_event(StreamLost())
            self._attempted.set()
            self._wake.wait(RETRY_S)
            self._wake.clear()


class LocalBackend:
    """Piper in this process, for when no daemon runs: the same scheduler, player and events."""

    description = "in this process (no readaloud daemon is running)"

    def __init__(self, config: Config, on_event: EventSink) -> None:
        from readaloud.audio.player import player_for
        from readaloud.engines.cache import shared_cached
        from readaloud.engines.registry import choose_engine
        from readaloud.speech.echo import Echo
        from readaloud.speech.scheduler import Scheduler
        from readaloud.speech.speaker import run_mark

        # Piper, not the configured engine: this is a stand-in, and XTTS would take a GPU and
        # a minute to load inside speechd's module.
        choice = choose_engine("piper", config=config)
        # Keys and letters from memory, as with the daemon (engines/cache.py, speech/echo.py).
        self.engine = shared_cached(choice.engine, config.speech)
        self.engine.load()
        self.player = player_for(config.audio, on_mark=run_mark)
        speech = config.speech
        self.scheduler = Scheduler(
            self.engine,
            self.player,
            first_fragment_words=speech.first_fragment_words,
            max_buffer_seconds=config.audio.max_buffer_seconds,
            max_queue=config.daemon.max_queue,
        )
        self.scheduler.add_listener(on_event)
        self.echo: Echo | None = None
        if speech.echo_ahead:
            self.echo = Echo(
                self.engine,
                first_fragment_words=speech.first_fragment_words,
                busy=self.scheduler.busy,
            )
            self.scheduler.on_submit = self.echo.notice

    def speak(self, request: Request) -> str:
        from readaloud.speech.scheduler import Mode
        from readaloud.speech.utterance import Utterance

        utterance = Utterance(
            text=request.text,
            voice=request.voice,
            language=request.language,
            rate=request.rate,
            pitch=request.pitch,
            volume=request.volume,
        )
        return self.scheduler.submit(utterance, Mode.INTERRUPT)

    def stop(self) -> None:
        self.scheduler.stop()

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(v.id, tuple(v.languages)) for v in self.engine.voices()]

    def close(self) -> None:
        if self.echo is not None:
            self.echo.close()
        self.scheduler.close()
        self.player.close()
