"""``readaloud daemon``: load and warm the voice, open the sound stream, serve the API on the
Unix socket and loopback HTTP, listen for hotkeys, and tell systemd when it can speak at once."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import uvicorn

from readaloud.config import Config, ConfigWatch, xdg_state_home
from readaloud.documents.bookmarks import Bookmarks
from readaloud.errors import BadInput, NoOutputDevice, ReadaloudError
from readaloud.speech.echo import Echo
from readaloud.speech.events import Event, SegmentStarted, UtteranceEnded, UtteranceStarted
from readaloud.speech.scheduler import Mode, Scheduler
from readaloud.speech.utterance import Utterance
from readaloud.speech.warmup import warm_up
from readaloud.voices.settings import VoiceSettings

if TYPE_CHECKING:
    from readaloud.integrations.hotkeys import Hotkeys

log = logging.getLogger(__name__)

#: How long a graceful shutdown may wait for open connections (event streams) to finish.
SHUTDOWN_GRACE_S = 1
#: After SIGTERM the process ends within this, whatever hangs (a sound server that does not
#: answer, a stuck engine): systemd would otherwise hold the user's logout for its stop timeout.
SHUTDOWN_DEADLINE_S = 1.8
#: How long systemd is asked to wait for XTTS to load and warm up (beyond the unit's timeout).
XTTS_LOAD_S = 600
#: What the user hears when the sound comes back after a request failed for the lack of it.
SOUND_BACK_PHRASE = "The sound is back. What you asked for while it was away was not read."
#: How long the daemon listens for the sound to come back after a request could not be heard.
SOUND_WATCH_S = 600.0


def spoken_phrase(error: ReadaloudError) -> str:
    """A short phrase for the ear: the error's own ``spoken`` text or its first sentence."""
    phrase = getattr(error, "spoken", None)
    if phrase:
        return str(phrase)
    first = str(error).split(". ")[0].rstrip(".")
    return first[:160] + "."


def earcon(sample_rate: int) -> np.ndarray:
    """A short falling two-note tone that says "that did not work" without words."""
    t = np.arange(int(0.12 * sample_rate)) / sample_rate
    envelope = np.hanning(len(t))
    notes = [np.sin(2 * np.pi * f * t) * envelope * 0.3 for f in (660.0, 440.0)]
    return np.concatenate(notes).astype(np.float32)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's heap arenas before the threads start. Each busy thread (the HTTP pool's,
    the synthesis worker, the encoders) otherwise gets an arena of its own, and a daemon that
    runs all day keeps growing for a long while: measured under load, +15 % over the first
    30 s, against +1 % with two arenas, at the same speed. MALLOC_ARENA_MAX still wins."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to cap
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8 is M_ARENA_MAX


#: How long the daemon must be without a new or ending utterance before the heap is trimmed.
QUIET_BEFORE_TRIM_S = 0.5


def _trim_heap() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _QuietServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after serving, which would kill us before our cleanup runs
    (socket removal, STOPPING=1); the daemon handles the signals itself instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        engine_name: str | None = None,
        listen: tuple[str, int] | None = None,
        socket_path: Path | None = None,
        hotkeys: bool = True,
    ) -> None:
        self.config = config
        self.engine_name = engine_name or config.speech.engine
        self.listen = listen or (config.server.host, config.server.port)
        self.socket_path = socket_path or config.socket_path
        #: Where reading stopped in each document (resume, read FILE).
        self.bookmarks = Bookmarks(config.bookmarks_path)
        self.want_hotkeys = hotkeys
        self.config_watch = ConfigWatch(config)
        self.scheduler: Scheduler | None = None
        #: Makes the key echo set ahead (``[speech] echo_ahead``).
        self.echo: Echo | None = None
        self._hotkeys: Hotkeys | None = None
        self._server: uvicorn.Server | None = None
        self._unheard = threading.Event()  # a request failed for want of sound, not yet told
        self._sound_watch: threading.Thread | None = None
        self._stopping = threading.Event()
        self._trim_timer: threading.Timer | None = None

    # -- wiring ------------------------------------------------------------------------------

    def build(self) -> None:
        """Load the engine, warm it up and open the sound stream (the slow part of starting)."""
        from readaloud.audio.player import player_for
        from readaloud.engines.cache import shared_cached
        from readaloud.engines.registry import choose_engine
        from readaloud.integrations import systemd
        from readaloud.speech.speaker import run_mark

        config = self.config
        choice = choose_engine(self.engine_name, config=config)
        self.engine = shared_cached(choice.engine, config.speech)
        self.engine_reason = choice.reason
        if choice.reason.startswith("xtts"):
            # A cold disk and a GPU warm-up can outlast the unit's start timeout.
            systemd.notify_status("loading XTTS v2")
            systemd.notify_extend_timeout(XTTS_LOAD_S)
        self.engine.load()
        warm_up(self.engine)
        self.player = player_for(config.audio, on_mark=run_mark)
        try:
            self.player.open(self.engine.sample_rate)
        except NoOutputDevice as error:
            # Keep running: the player finds the sound server when it appears.
            log.warning("%s", error)
        self.scheduler = Scheduler(
            self.engine,
            self.player,
            first_fragment_words=config.speech.first_fragment_words,
            max_buffer_seconds=config.audio.max_buffer_seconds,
            max_queue=config.daemon.max_queue,
            on_failure=self.feedback,
        )
        self.scheduler.add_listener(self._on_event)
        if config.speech.echo_ahead:
            self.echo = Echo(
                self.engine,
                first_fragment_words=config.speech.first_fragment_words,
                busy=self.scheduler.busy,
                remember=xdg_state_home() / "readaloud" / "echo-settings.json",
            )
            self.scheduler.on_submit = self.echo.notice
            self.echo.start_remembered()

    def feedback(self, error: ReadaloudError, request_mode: Mode = Mode.INTERRUPT) -> None:
        """Tell the user about a failure they may not see: a phrase, a tone, or nothing.

        A failed request that asked to be queued must not cut off what is being read: its
        phrase waits its turn, and its tone is left out while something plays."""
        mode = self.config.daemon.feedback
        if mode == "off" or self.scheduler is None:
            return
        if isinstance(error, NoOutputDevice):
            self._tell_when_sound_is_back()
            return
        queued = request_mode is Mode.QUEUE
        try:
            if mode == "earcon":
                if queued and self.scheduler.status().state != "idle":
                    return
                self._play_earcon()
            else:
                phrase = Utterance(spoken_phrase(error))
                self.scheduler.submit(phrase, Mode.QUEUE if queued else Mode.INTERRUPT)
        except ReadaloudError:
            log.warning("could not give feedback for: %s", error)

    def _tell_when_sound_is_back(self) -> None:
        """Nothing can be heard now: say so once the sound output works again."""
        self._unheard.set()
        if self._sound_watch is None or not self._sound_watch.is_alive():
            self._sound_watch = threading.Thread(
                target=self._watch_sound, name="readaloud-sound-watch", daemon=True
            )
            self._sound_watch.start()

    def _watch_sound(self) -> None:
        assert self.scheduler is not None
        deadline = time.monotonic() + SOUND_WATCH_S
        pause = 0.25
        while self._unheard.is_set() and time.monotonic() < deadline:
            if self._stopping.wait(pause):
                return
            pause = min(pause * 1.5, 5.0)  # a long outage costs a check every few seconds
            try:
                self.player.open(self.engine.sample_rate)
            except NoOutputDevice:
                continue
            if self._unheard.is_set() and self.scheduler.status().state == "idle":
                self._unheard.clear()
                log.warning("the sound output is back; telling the user what was missed")
                try:
                    if self.config.daemon.feedback == "earcon":
                        self._play_earcon()
                    else:
                        self.scheduler.submit(Utterance(SOUND_BACK_PHRASE), Mode.QUEUE)
                except ReadaloudError as error:  # gone again, or the queue is full
                    log.warning("could not say that the sound is back: %s", error)
            return
        self._unheard.clear()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SegmentStarted):
            self._unheard.clear()  # the user hears speech again: no need to tell them
        if isinstance(event, UtteranceStarted | UtteranceEnded):
            self._trim_memory_when_quiet()

    def _trim_memory_when_quiet(self) -> None:
        """Half a second after the last utterance began or ended, give the heap's free pages
        back. Piper's halves run without onnxruntime's arena (it only grew), so their buffers
        come from malloc, and under load the heap kept them (+15 % RSS over a 50-client run in
        one of six). Trimming takes the heap's locks for some ms, so never while busy: trimming
        1 s after every end raised the stop latency's p99 under that load from ~30 to ~45 ms."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
        self._trim_timer = threading.Timer(QUIET_BEFORE_TRIM_S, _trim_heap)
        self._trim_timer.daemon = True
        self._trim_timer.start()

    def _play_earcon(self) -> None:
        self.player.stop()
        self.player.enqueue(earcon(self.engine.sample_rate), self.engine.sample_rate)
        self.player.end_utterance()

    def text_from(self, kind: str, value: str | None) -> str:
        if kind == "url":
            from readaloud.text.fetch import fetch_url

            return fetch_url(value or "").text
        if kind == "html":
            from readaloud.text.extract import from_html

            return from_html(value or "").text
        from readaloud.integrations import desktop_text

        if kind == "selection":
            return desktop_text.read_selection()
        return desktop_text.read_clipboard()

    def _start_hotkeys(self) -> None:
        if not self.want_hotkeys or not os.environ.get("DISPLAY"):
            return
        try:
            from readaloud.integrations.hotkeys import Hotkeys
        except ImportError as error:
            log.warning("hotkeys are off: %s", error)
            return
        try:
            self._hotkeys = Hotkeys(self.config.hotkeys.bindings(), self.on_hotkey)
            self._hotkeys.start()
        except ReadaloudError as error:
            log.warning("hotkeys are off: %s", error)
            self._hotkeys = None

    def on_hotkey(self, action: str) -> None:
        assert self.scheduler is not None
        actions: dict[str, Callable[[], object]] = {
            "stop": self.scheduler.stop,
            "pause_resume": self.scheduler.toggle,
            "read_selection": lambda: self._read_desktop("selection"),
            "read_clipboard": lambda: self._read_desktop("clipboard"),
            "resume_reading": self._resume_reading,
        }
        handler = actions.get(action)
        if handler is None:
            return
        try:
            handler()
        except ReadaloudError as error:
            self.feedback(error)

    def _read_desktop(self, kind: str) -> None:
        assert self.scheduler is not None
        text = self.text_from(kind, None)
        self.scheduler.submit(
            Utterance(
                text,
                voice=self.config.speech.voice or None,
                language=None,  # detected, falling back to [speech] language
                rate=self.config.speech.rate,
            ),
            Mode.INTERRUPT,
        )

    def _resume_reading(self) -> None:
        """The last document or page whose reading stopped, from the sentence being heard."""
        assert self.scheduler is not None
        from readaloud.speech.documents import DocumentRequest, open_stream, page_stream

        latest = self.bookmarks.latest()
        if latest is None:
            raise BadInput("Nothing to resume: no reading stopped part way.")
        language = self.config.speech.language or "en"
        words = self.scheduler.first_fragment_words
        if latest.path.startswith(("http://", "https://")):  # a page, fetched again
            text = self.text_from("url", latest.path)
            stream = page_stream(
                latest.path,
                text,
                bookmarks=self.bookmarks,
                language=language,
                first_fragment_words=words,
            )
        else:
            stream = open_stream(
                DocumentRequest(Path(latest.path)),
                bookmarks=self.bookmarks,
                language=language,
                first_fragment_words=words,
            )
        utterance = Utterance(
            "",
            voice=self.config.speech.voice or None,
            language=None,
            rate=self.config.speech.rate,
            streamed=True,
        )
        self.scheduler.submit(utterance, Mode.INTERRUPT, stream=stream)

    # -- serving -----------------------------------------------------------------------------

    def run(self) -> int:
        from readaloud.server.sockets import bind_tcp, bind_unix

        _limit_malloc_arenas()
        self.build()
        unix = bind_unix(self.socket_path)
        try:
            host, port = self.listen
            tcp = bind_tcp(host, port, allow_remote=self.config.server.allow_remote)
        except ReadaloudError:
            unix.close()
            self.socket_path.unlink(missing_ok=True)
            raise
        self._start_hotkeys()
        try:
            asyncio.run(self._serve([unix, tcp], tcp.getsockname()[1]))
        finally:
            self.shutdown()
        return 0

    async def _serve(self, sockets: list[socket.socket], port: int) -> None:
        from readaloud.integrations import systemd
        from readaloud.server.app import create_app
        from readaloud.server.security import load_or_create_token
        from readaloud.server.services import Services
        from readaloud.server.sockets import allowed_hosts, http_base

        assert self.scheduler is not None
        config = self.config
        services = Services(
            scheduler=self.scheduler,
            engine_reason=self.engine_reason,
            text_from=self.text_from,
            feedback=self.feedback,
            default_voice=config.speech.voice or None,
            default_rate=config.speech.rate,
            default_volume=config.speech.volume,
            voice_settings=VoiceSettings(config.voice_settings_path),
            config_changed=self.config_watch.changed,
            openai_voices=dict(config.openai.voices),
            openai_max_streams=config.openai.max_streams,
            default_language=config.speech.language or "en",
            flush_s=config.stream.flush_s,
            stream_keep_up=config.stream.keep_up,
            stream_idle_s=config.stream.idle_s,
            bookmarks=self.bookmarks,
            http_base=http_base(self.listen[0], port),
        )
        app = create_app(
            services,
            token=load_or_create_token(config.token_path),
            allowed_hosts=[*allowed_hosts(self.listen[0], port), *config.server.extra_hosts],
            allowed_origins=list(config.server.allowed_origins),
            max_body_bytes=config.server.max_body_bytes,
        )
        server = _QuietServer(
            uvicorn.Config(
                app,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
                access_log=False,
            )
        )
        self._server = server
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self.request_shutdown)
        serving = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(
                f"readaloud: ready on http://{self.listen[0]}:{port} and {self.socket_path}",
                file=sys.stderr,
                flush=True,
            )
            systemd.notify_ready()
        await serving

    def request_shutdown(self) -> None:
        if not self._stopping.is_set():
            self._stopping.set()
            deadline = threading.Timer(SHUTDOWN_DEADLINE_S, self._exit_now)
            deadline.daemon = True  # a shutdown that finishes in time is not held up by it
            deadline.start()
        if self.scheduler is not None:
            self.scheduler.announce_stopping()
        if self._server is not None:
            self._server.should_exit = True

    def _exit_now(self) -> None:
        """The last resort of a shutdown that hangs: remove the socket and end the process."""
        from readaloud.integrations import systemd

        log.warning("shutdown did not finish within %.1f s; exiting now", SHUTDOWN_DEADLINE_S)
        self.socket_path.unlink(missing_ok=True)
        systemd.notify_stopping()
        sys.stderr.flush()
        os._exit(0)

    def shutdown(self) -> None:
        from readaloud.integrations import systemd

        systemd.notify_stopping()
        self._stopping.set()
        if self._hotkeys is not None:
            self._hotkeys.stop()
        if self.echo is not None:
            self.echo.close()
        if self.scheduler is not None:
            self.scheduler.close()
        player = getattr(self, "player", None)
        if player is not None:
            player.close()
        self.socket_path.unlink(missing_ok=True)
