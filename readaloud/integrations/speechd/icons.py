"""speechd's sound icons: ``SOUND_ICON name`` plays the sound file of that name from the sound
icon folder (Debian's ``sound-icons`` package fills /usr/share/sounds/sound-icons), in this
process, on a player of its own. It reports like a backend (SegmentStarted when the first sample
is heard, UtteranceEnded at the end), so the module ends the message the same way.
"""

from __future__ import annotations

import itertools
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from readaloud.config import AudioConfig
from readaloud.errors import ReadaloudError
from readaloud.integrations.speechd.backends import EventSink
from readaloud.speech.events import SegmentStarted, UtteranceEnded

if TYPE_CHECKING:
    from readaloud.audio.player import Player

log = logging.getLogger(__name__)

#: Where speechd's own modules look (espeak-ng.conf: EspeakSoundIconFolder).
DEFAULT_FOLDER = Path("/usr/share/sounds/sound-icons")
#: Extensions tried after the bare name (speechd's names usually carry none).
EXTENSIONS = ("", ".wav", ".ogg", ".flac")
#: The click before a capital letter (speechd's cap_let_recogn=icon, as espeak-ng makes it):
#: 12 ms of 2 kHz, faded in and out, at 22 050 Hz.
CLICK_RATE = 22050
CLICK = (
    0.3
    * np.sin(2 * np.pi * 2000 * np.arange(265) / CLICK_RATE)
    * np.hanning(265)
).astype(np.float32)


class IconUnreadable(ReadaloudError):
    """The icon's file is there but is no sound file soundfile can read."""


class SoundIcons:
    description = "a sound icon"

    def __init__(self, folder: Path, audio: AudioConfig, on_event: EventSink) -> None:
        self.folder = folder
        self.audio = audio
        self.on_event = on_event
        self._player: Player | None = None  # made on the first icon: most never play one
        self._sequence = itertools.count(1)
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    def find(self, name: str) -> Path | None:
        """The file for icon ``name``, or None (then the module says the name)."""
        name = name.strip()
        if not name or "/" in name or name.startswith("."):
            return None
        for extension in EXTENSIONS:
            path = self.folder / f"{name}{extension}"
            if path.is_file():
                return path
        return None

    def play(self, path: Path) -> str:
        """Start playing ``path``; returns the id its events carry."""
        import soundfile

        try:
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, OSError) as error:  # soundfile.LibsndfileError is a RuntimeError
            raise IconUnreadable(f"cannot read the sound icon {path}: {error}") from error
        mono = np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32)
        uid = f"icon-{next(self._sequence)}"
        with self._lock:
            self.stop()
            self._cancel = cancel = threading.Event()
            player = self._open(rate)
            player.enqueue(mono, rate, mark=self._heard(uid, path.name), cancel=cancel)
            player.end_utterance(cancel)
        threading.Thread(
            target=self._wait_end, args=(player, uid, cancel), name="sound-icon", daemon=True
        ).start()
        return uid

    def click(self) -> None:
        """The capital-letter click, played at once beside whatever comes next (no events)."""
        with self._lock:
            try:
                player = self._open(CLICK_RATE)
                player.enqueue(CLICK, CLICK_RATE)
                player.end_utterance()
            except ReadaloudError as error:
                log.warning("no capital-letter click: %s", error)

    def stop(self) -> None:
        self._cancel.set()
        if self._player is not None:
            self._player.stop()

    def close(self) -> None:
        self.stop()
        if self._player is not None:
            self._player.close()

    def _open(self, rate: int) -> Player:
        from readaloud.audio.player import player_for
        from readaloud.speech.speaker import run_mark

        if self._player is None:
            self._player = player_for(self.audio, on_mark=run_mark)
        self._player.open(rate)
        return self._player

    def _heard(self, uid: str, name: str):
        def heard() -> None:
            self.on_event(SegmentStarted(uid, 0, 0, 0, name))

        return heard

    def _wait_end(self, player: Player, uid: str, cancel: threading.Event) -> None:
        while not cancel.is_set():
            if player.wait(0.05):
                break
        self.on_event(UtteranceEnded(uid, completed=not cancel.is_set()))


