"""``sd_readaloud``: the Speech Dispatcher output module that speaks with readaloud's voices.

speechd starts it as ``sd_readaloud CONFIGFILE`` and drives it over stdin/stdout. Each message
(SPEAK, CHAR, KEY, SOUND_ICON) becomes one request to the readaloud daemon in interrupt mode;
the daemon's events become speechd's: 701 BEGIN when the first sound is heard, 700 INDEX MARK
as playback passes each SSML mark (estimated within a sentence, see ``marks.py``), 702 END as
the last sound is heard (the daemon's ``sound_end``: speechd sends the next message of a Say All
while the closing pause still plays), or 703 STOP / 704 PAUSE as soon as the sound has stopped.

When no daemon runs, the module speaks in this process with the Piper voice (``LocalBackend``)
and goes back to the daemon as soon as it answers. Why not fail INIT instead: speechd tries
INIT once, when it starts; a screen reader starts speechd at login, often before the daemon's
user service is up, and a failed INIT would leave readaloud unusable for the whole session.
INIT fails (and speechd falls back to another module) only when neither the daemon nor a local
voice can speak, or when the module config sets ``InProcessFallback no``.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from readaloud import __version__
from readaloud.client import DaemonNotRunning
from readaloud.config import Config
from readaloud.errors import BadInput, ReadaloudError
from readaloud.integrations.speechd import protocol as p
from readaloud.integrations.speechd.backends import (
    Backend,
    DaemonBackend,
    LocalBackend,
    Request,
    VoiceInfo,
)
from readaloud.integrations.speechd.icons import DEFAULT_FOLDER as DEFAULT_ICON_FOLDER
from readaloud.integrations.speechd.icons import SoundIcons
from readaloud.integrations.speechd.marks import MarkTimeline
from readaloud.integrations.speechd.settings import BadSetting, Settings
from readaloud.integrations.speechd.ssml import Mark, SpeechText, parse, resent_from
from readaloud.speech.events import (
    Event,
    SegmentStarted,
    SoundEnded,
    SpeechFailed,
    StreamLost,
    UtteranceEnded,
    WordStarted,
)
from readaloud.text.keys import char_words, key_words

log = logging.getLogger("sd_readaloud")

#: What the event pump gets when no event came before the next index mark is due.
_NOTHING = Event()

#: How long a message waits for a daemon whose socket exists but whose events do not flow yet.
DAEMON_WAIT_S = 1.0
#: speechd's LOGLEVEL (0-5) → Python logging.
_LOG_LEVELS = {
    0: logging.ERROR,
    1: logging.ERROR,
    2: logging.WARNING,
    3: logging.WARNING,
    4: logging.INFO,
    5: logging.DEBUG,
}
_SPEECH_KINDS = ("SPEAK", "CHAR", "KEY", "SOUND_ICON")


@dataclass(frozen=True)
class ModuleOptions:
    """The module config file speechd passes (dotconf: ``Key value`` lines, # comments)."""

    in_process_fallback: bool = True
    #: Where SOUND_ICON names are looked up (the option speechd's espeak-ng module also has).
    sound_icon_folder: Path = DEFAULT_ICON_FOLDER

    @classmethod
    def read(cls, path: Path | None) -> ModuleOptions:
        if path is None or not path.is_file():
            return cls()
        values: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            found = re.match(r'^\s*([A-Za-z]\w*)\s+"?([^"#]*?)"?\s*(?:#.*)?$', line)
            if found:
                values[found.group(1).lower()] = found.group(2).strip()
        fallback = values.get("inprocessfallback", "yes").lower()
        icons = values.get("soundiconfolder")
        return cls(
            in_process_fallback=fallback not in ("no", "off", "false", "0"),
            sound_icon_folder=Path(icons).expanduser() if icons else DEFAULT_ICON_FOLDER,
        )


@dataclass
class Message:
    """The message speechd is waiting on: its utterance, and which marks are still to come."""

    id: str
    backend: Backend | SoundIcons
    marks: MarkTimeline
    began: bool = False
    #: The data speechd sent (a paused message comes back mangled: ``ssml.resent_from``).
    source: str = ""


class OutputModule:
    def __init__(self, channel: p.Channel, config: Config, options: ModuleOptions) -> None:
        self.channel = channel
        self.config = config
        self.options = options
        self.settings = Settings()
        self.daemon: DaemonBackend | None = None
        self.local: LocalBackend | None = None
        self._current: Message | None = None
        #: What the message paused last came as, until the next message.
        self._paused_source: str | None = None
        # Held while a command changes the current message and while an event is turned into
        # speechd's events, so an event never lands between a command and its reply.
        self._lock = threading.RLock()
        self._events: queue.Queue[Event | None] = queue.Queue()
        self.icons = SoundIcons(options.sound_icon_folder, config.audio, self._events.put)
        self._voices: dict[int, list[VoiceInfo]] = {}
        self._pump = threading.Thread(target=self._pump_events, name="events", daemon=True)

    # -- the command loop --------------------------------------------------------------------

    def run(self) -> int:
        first = self.channel.read_line()
        if first != "INIT":
            log.error("speechd did not start with INIT (got %r)", first)
            return 3
        if not self.init():
            return 1
        self._pump.start()
        handlers = {
            "AUDIO": self.cmd_audio,
            "SET": self.cmd_set,
            "LOGLEVEL": self.cmd_loglevel,
            "LIST VOICES": self.cmd_list_voices,
            "STOP": self.cmd_stop,
            "PAUSE": self.cmd_pause,
        }
        try:
            while True:
                line = self.channel.read_line()
                if line is None:
                    log.info("speechd closed the pipe")
                    self.cmd_stop()
                    return 0
                if line == "QUIT":
                    self.cmd_stop()
                    self.channel.send(p.QUIT_OK)
                    return 0
                if line in _SPEECH_KINDS:
                    self.cmd_speak(line)
                elif line in handlers:
                    handlers[line]()
                elif line.startswith("DEBUG"):
                    self.cmd_debug(line)
                else:
                    self.channel.send(p.UNKNOWN_COMMAND)
        finally:
            self.close()

    def init(self) -> bool:
        socket_path = self.config.socket_path
        self.daemon = DaemonBackend(socket_path, self._events.put)
        if self.daemon.ready(timeout=3.0):
            self.channel.send(
                f"299-readaloud {__version__}: speaking through the readaloud daemon at "
                f"{socket_path}",
                p.INIT_OK,
            )
            return True
        absent = f"No readaloud daemon answers at {socket_path}"
        if not self.options.in_process_fallback:
            self.channel.send(
                f"399-{absent} (InProcessFallback is off). Start it with 'readaloud daemon' or "
                "'readaloud service install', then restart speech-dispatcher.",
                p.INIT_FAILED,
            )
            return False
        try:
            self.local = LocalBackend(self.config, self._events.put)
        except Exception as error:  # any failure to load a voice here ends in the same answer
            log.exception("cannot speak in this process")
            self.channel.send(
                f"399-{absent}, and no voice could be loaded in this process ({error}). Start "
                "it with 'readaloud daemon', then restart speech-dispatcher.",
                p.INIT_FAILED,
            )
            return False
        self.channel.send(
            f"299-readaloud {__version__}: {absent}; speaking in this process with Piper "
            "until it starts",
            p.INIT_OK,
        )
        return True

    def close(self) -> None:
        self._events.put(None)
        self.icons.close()
        for backend in (self.daemon, self.local):
            if backend is not None:
                try:
                    backend.close()
                except Exception:
                    log.debug("closing %s failed", backend.description, exc_info=True)

    # -- settings ----------------------------------------------------------------------------

    def cmd_audio(self) -> None:
        self.channel.send(p.RECEIVING_AUDIO)
        values = self._read_values()
        if values is None:
            return
        # speechd first offers to play the audio itself; readaloud plays it, so decline, and
        # speechd sends the classic settings (which need nothing from us) next.
        if values.get("audio_output_method") == "server":
            self.channel.send(p.BAD_PARAM)
        else:
            self.channel.send(p.AUDIO_INITIALIZED)

    def cmd_set(self) -> None:
        self.channel.send(p.RECEIVING_SETTINGS)
        values = self._read_values()
        if values is None:
            return
        try:
            self.settings = self.settings.with_values(values)
        except BadSetting as error:
            log.warning("SET: %s", error)
            self.channel.send(p.BAD_PARAM)
            return
        self.channel.send(p.SETTINGS_RECEIVED)

    def cmd_loglevel(self) -> None:
        self.channel.send(p.RECEIVING_SETTINGS)
        values = self._read_values()
        if values is None:
            return
        try:
            level = int(values.get("log_level", "3"))
        except ValueError:
            self.channel.send(p.BAD_PARAM)
            return
        logging.getLogger().setLevel(_LOG_LEVELS.get(level, logging.DEBUG))
        self.channel.send(p.LOGLEVEL_SET)

    def cmd_debug(self, line: str) -> None:
        words = line.split()
        if len(words) >= 3 and words[1] == "ON":
            try:
                handler = logging.FileHandler(words[2])
            except OSError:
                self.channel.send("303 CANT OPEN CUSTOM DEBUG FILE")
                return
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
            logging.getLogger().addHandler(handler)
            logging.getLogger().setLevel(logging.DEBUG)
            self.channel.send("200 OK DEBUGGING ON")
        elif len(words) >= 2 and words[1] == "OFF":
            self.channel.send("200 OK DEBUGGING OFF")
        else:
            self.channel.send(p.BAD_SYNTAX)

    def _read_values(self) -> dict[str, str] | None:
        lines = self.channel.read_block()
        if lines is None:
            return None
        values = {}
        for line in lines:
            name, sep, value = line.partition("=")
            if sep:
                values[name.strip()] = value
        return values

    # -- voices ------------------------------------------------------------------------------

    def cmd_list_voices(self) -> None:
        backend = self._backend(create=False)
        voices = self._voices_of(backend) if backend is not None else []
        lines = [
            f"200-{voice.id}\t{language}\tnone"
            for voice in voices
            for language in (voice.languages or ("none",))
        ]
        if not lines:
            self.channel.send(p.CANT_LIST_VOICES)
            return
        self.channel.send(*lines, p.VOICES_SENT)

    def _voices_of(self, backend: Backend) -> list[VoiceInfo]:
        key = id(backend)
        if key not in self._voices:
            try:
                self._voices[key] = backend.voices()
            except ReadaloudError as error:
                log.warning("cannot list the voices of %s: %s", backend.description, error)
                return []
        return self._voices[key]

    # -- speaking ----------------------------------------------------------------------------

    def cmd_speak(self, kind: str) -> None:
        self.channel.send(p.RECEIVING_MESSAGE)
        lines = self.channel.read_block()
        if lines is None:
            return
        if kind != "SPEAK" and len(lines) > 1:
            self.channel.send(p.MORE_THAN_ONE_LINE)
            return
        data = "\n".join(lines)
        if kind == "SOUND_ICON" and self._play_icon(data):
            return
        paused, self._paused_source = self._paused_source, None
        if kind == "SPEAK" and paused is not None:
            data = resent_from(paused, data) or data
        speech = self._speech_for(kind, data)
        with self._lock:
            if self._current is not None:  # speechd waits for END or STOP; be safe anyway
                log.warning("a new message came before the last one ended")
                self._current = None
            self._start(speech)
            if self._current is not None:
                self._current.source = data

    def _play_icon(self, name: str) -> bool:
        """Play the sound icon's file; False when there is none (its name is said instead)."""
        path = self.icons.find(name)
        if path is None:
            return False
        with self._lock:
            self._current = None
            try:
                uid = self.icons.play(path)
            except ReadaloudError as error:  # IconUnreadable, or no sound output
                log.warning("%s; saying its name", error)
                return False
            self._current = Message(uid, self.icons, MarkTimeline((), 1.0))
            self.channel.send(p.SPEAKING)
        return True

    def _speech_for(self, kind: str, data: str) -> SpeechText:
        if kind == "CHAR":
            capitals = self.settings.cap_let_recogn or "none"
            if capitals == "icon" and len(data) == 1 and data.isupper():
                self.icons.click()  # then the letter, as espeak-ng does
            language = self._spoken_language()
            return SpeechText(char_words(data, capitals=capitals, language=language))
        if kind == "KEY":
            return SpeechText(key_words(data, self._spoken_language()))
        if kind == "SOUND_ICON":
            # No sound file of that name: say the icon's name, the way speechd's docs allow.
            return SpeechText(re.sub(r"[-_]+", " ", data).strip())
        speech = parse(data)
        if self.settings.spelling:
            # Offsets change when spelled out: keep the marks, reported when the message ends.
            language = self._spoken_language()
            text = " ".join(
                char_words(c, language=language) for c in speech.text if not c.isspace()
            )
            end = len(text)
            return SpeechText(text, tuple(Mark(m.name, end) for m in speech.marks))
        return speech

    def _spoken_language(self) -> str | None:
        """The language the message will be spoken in: speechd's, if a voice speaks it (names
        of symbols in German would be garbled by an English voice), else None (English)."""
        backend = self._backend(create=False)
        voices = self._voices_of(backend) if backend is not None else []
        return self.settings.language_for({lang for v in voices for lang in v.languages})

    def _start(self, speech: SpeechText) -> None:
        """Send ``speech`` off and answer SPEAK (with the lock held)."""
        if not any(c.isalnum() for c in speech.text):
            self._say_nothing(speech)
            return
        backend = self._backend(create=True)
        uid: str | None = None
        while backend is not None:
            request = self._request(backend, speech.text)
            try:
                uid = self._submit(backend, request)
            except DaemonNotRunning:
                if backend is not self.daemon:
                    break
                backend = self._backend(create=True, daemon=False)  # it went away just now
                continue
            except ReadaloudError as error:
                log.error("cannot speak: %s", error)
            break
        if backend is None or uid is None:
            if backend is None:
                log.error("cannot speak: no readaloud daemon runs and in-process speech is off")
            self.channel.send(p.CANT_SPEAK)
        elif uid == "":
            self._say_nothing(speech)
        else:
            self._current = Message(uid, backend, MarkTimeline(speech.marks, request.rate))
            self.channel.send(p.SPEAKING)

    def _request(self, backend: Backend, text: str) -> Request:
        voices = {v.id: set(v.languages) for v in self._voices_of(backend)}
        languages = set().union(*voices.values()) if voices else set()
        return Request(
            text=text,
            voice=self.settings.voice_for(voices),
            language=self.settings.language_for(languages),
            rate=self.settings.speed,
            pitch=self.settings.semitones,
            volume=self.settings.gain,
        )

    def _submit(self, backend: Backend, request: Request) -> str:
        """The utterance id; "" when the daemon finds nothing to say in the text."""
        try:
            return backend.speak(request)
        except BadInput as error:
            if request.voice is None and request.language is None:
                log.info("nothing to say: %s", error)
                return ""
            log.warning("%s; trying the default voice", error)
        try:
            return backend.speak(dataclasses.replace(request, voice=None, language=None))
        except BadInput as error:
            log.info("nothing to say: %s", error)
            return ""

    def _say_nothing(self, speech: SpeechText) -> None:
        """A message without words (only marks, only spaces) is over as soon as it begins."""
        self.channel.send(p.SPEAKING)
        self.channel.send(p.BEGIN)
        for mark in speech.marks:
            self.channel.index_mark(mark.name)
        self.channel.send(p.END)

    def _backend(self, *, create: bool, daemon: bool = True) -> Backend | None:
        """The daemon when it answers, else the in-process voice (loaded on first need)."""
        if daemon and self.daemon is not None and self.daemon.ready(timeout=DAEMON_WAIT_S):
            return self.daemon
        if self.local is None and create and self.options.in_process_fallback:
            log.warning("no readaloud daemon answers: speaking in this process")
            try:
                self.local = LocalBackend(self.config, self._events.put)
            except Exception:
                log.exception("cannot speak in this process either")
        return self.local

    def cmd_stop(self) -> None:
        self._halt(p.STOPPED)

    def cmd_pause(self) -> None:
        # speechd resumes a paused message itself, from the last mark reported: stop here.
        with self._lock:
            if self._current is not None:
                self._paused_source = self._current.source
        self._halt(p.PAUSED)

    def _halt(self, event: str) -> None:
        with self._lock:
            message = self._current
            if message is None:
                return  # nothing plays (END was sent): nothing to report
            try:
                message.backend.stop()  # returns once the sound has stopped
            except ReadaloudError as error:
                log.warning("stop: %s", error)
            self._report_due_marks(message, time.monotonic())
            self._end(message, event)

    # -- events ------------------------------------------------------------------------------

    def _pump_events(self) -> None:
        """Turn backend events (and estimated mark times) into speechd's events, in order."""
        while True:
            with self._lock:
                due = self._current.marks.next_due if self._current else None
            timeout = None if due is None else max(0.0, due - time.monotonic())
            try:
                event: Event | None = self._events.get(timeout=timeout)
            except queue.Empty:
                event = _NOTHING  # only the due index marks to report
            if event is None:
                return
            with self._lock:
                if isinstance(event, StreamLost):
                    self._voices.pop(id(self.daemon), None)  # a new daemon may have others
                message = self._current
                if message is None:
                    continue
                now = time.monotonic()
                if event is not _NOTHING:
                    self._on_event(message, event, now)
                if self._current is message:
                    self._report_due_marks(message, now)

    def _on_event(self, message: Message, event: Event, now: float) -> None:
        if isinstance(event, StreamLost):
            if message.backend is self.daemon:
                self._end(message, p.STOPPED)
            return
        if getattr(event, "id", None) != message.id:
            return
        if isinstance(event, SegmentStarted):
            self._begin(message)
            for name in message.marks.segment_started(event.start, event.end, now):
                self.channel.index_mark(name)
        elif isinstance(event, WordStarted) and not event.estimated:
            # Estimated words (XTTS) are no better than the marks' own estimate, which errs
            # on the late, safe side: only words the engine timed move the marks.
            self._begin(message)
            for name in message.marks.word_started(event.start):
                self.channel.index_mark(name)
        elif isinstance(event, SoundEnded) or (
            isinstance(event, UtteranceEnded) and event.completed
        ):
            # END as soon as the last sound is heard: speechd sends the next message of a Say
            # All only then, and it is made while this one's closing pause plays.
            self._begin(message)
            for name in message.marks.finish():
                self.channel.index_mark(name)
            self._end(message, p.END)
        elif isinstance(event, UtteranceEnded):  # stopped by another client, or an error
            self._end(message, p.STOPPED)
        elif isinstance(event, SpeechFailed):
            log.warning("the daemon could not speak it: %s", event.message)

    def _begin(self, message: Message) -> None:
        if not message.began:
            message.began = True
            self.channel.send(p.BEGIN)

    def _report_due_marks(self, message: Message, now: float) -> None:
        for name in message.marks.due(now):
            self.channel.index_mark(name)

    def _end(self, message: Message, event: str) -> None:
        self._begin(message)  # every END, STOP or PAUSE follows a BEGIN
        if event != p.END:
            message.marks.drop()
        self.channel.send(event)
        if self._current is message:
            self._current = None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sd_readaloud``, run by speechd as ``sd_readaloud CONFIGFILE``."""
    from readaloud.config import load as load_config

    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="sd_readaloud: %(levelname)s: %(message)s"
    )
    if args and args[0] in ("-h", "--help"):
        print(
            "sd_readaloud CONFIGFILE: the Speech Dispatcher output module of readaloud.\n"
            "speechd runs it; register it with 'readaloud speechd install'.",
        )
        return 0
    options = ModuleOptions.read(Path(args[0]) if args else None)
    try:
        config = load_config()
    except ReadaloudError as error:
        log.warning("%s; using the default settings", error)
        config = Config()
    channel = p.Channel(sys.stdin.buffer, sys.stdout.buffer)
    try:
        return OutputModule(channel, config, options).run()
    except BrokenPipeError:
        return 2


if __name__ == "__main__":
    sys.exit(main())
