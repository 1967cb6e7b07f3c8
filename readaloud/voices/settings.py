"""Each voice's own defaults: volume and XTTS sampling (``readaloud voice set anna
temperature=0.7``), kept in ``$XDG_CONFIG_HOME/readaloud/voice-settings.json``.

A request's own value comes first, then the voice's, then the config's ([speech] volume, the
[xtts] sampling, applied by the engine). The file is read again when it changes, so the running
daemon uses a setting as soon as it is saved.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readaloud.config import MAX_VOLUME
from readaloud.engines.base import SAMPLING_RANGES, Engine, Sampling
from readaloud.errors import BadInput, ReadaloudError

log = logging.getLogger(__name__)

#: The settings a voice may have, in the order ``voice set`` lists them.
KEYS = ("volume", *SAMPLING_RANGES)


@dataclass(frozen=True)
class VoiceDefaults:
    volume: float | None = None
    sampling: Sampling = Sampling()

    @classmethod
    def of(cls, values: dict[str, Any]) -> VoiceDefaults:
        """Checked: raises BadInput for an unknown key or a value out of range."""
        unknown = sorted(set(values) - set(KEYS))
        if unknown:
            raise BadInput(f"Unknown voice setting '{unknown[0]}'; use {', '.join(KEYS)}.")
        volume = values.get("volume")
        if volume is not None and not 0 <= volume <= MAX_VOLUME:
            raise BadInput(
                f"volume {volume:g} is out of range; use 0 (silent) to {MAX_VOLUME:g} (louder)."
            )
        return cls(volume, Sampling(**{k: v for k, v in values.items() if k != "volume"}))

    def as_dict(self) -> dict[str, float]:
        given = {"volume": self.volume} if self.volume is not None else {}
        return {**given, **self.sampling.given()}

    def under(self, volume: float | None, sampling: Sampling, default_volume: float):
        """(volume, sampling) of a request that asked for ``volume`` and ``sampling``: its own,
        else this voice's, else ``default_volume`` (the config's)."""
        if volume is None:
            volume = self.volume if self.volume is not None else default_volume
        return volume, sampling.over(self.sampling)


class VoiceSettings:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: float | None = None
        self._voices: dict[str, VoiceDefaults] = {}

    def get(self, voice: str | None) -> VoiceDefaults:
        """``voice``'s defaults (none for a voice that has none, or for None)."""
        if not voice:
            return VoiceDefaults()
        return self._load().get(voice, VoiceDefaults())

    def for_request(self, voice: str | None, engine: Callable[[], Engine]) -> VoiceDefaults:
        """The defaults of the voice a request gets: the one it names, else ``engine()``'s
        default voice (the engine is asked only when some voice has settings)."""
        voices = self._load()
        if not voices:
            return VoiceDefaults()
        if not voice:
            try:
                voice = engine().default_voice()
            except ReadaloudError:  # no voice at all: the request fails on its own
                return VoiceDefaults()
        return voices.get(voice or "", VoiceDefaults())

    def all(self) -> dict[str, VoiceDefaults]:
        return dict(self._load())

    def set(self, voice: str, changes: dict[str, float | None]) -> VoiceDefaults:
        """Change some of ``voice``'s settings (None removes one) and save them; checked."""
        with self._lock:
            voices = {name: d.as_dict() for name, d in self._read().items()}
            values: dict[str, Any] = {**voices.get(voice, {}), **changes}
            values = {k: v for k, v in values.items() if v is not None}
            defaults = VoiceDefaults.of(values)
            if values:
                voices[voice] = values
            else:
                voices.pop(voice, None)
            self._write(voices)
        return defaults

    def _load(self) -> dict[str, VoiceDefaults]:
        with self._lock:
            try:
                seen: float | None = self.path.stat().st_mtime
            except OSError:
                seen = None
            if seen != self._seen:
                self._seen = seen
                self._voices = self._read()
            return self._voices

    def _read(self) -> dict[str, VoiceDefaults]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            log.warning(
                "%s cannot be read (%s); the voices' own settings are ignored", self.path, error
            )
            return {}
        voices: dict[str, VoiceDefaults] = {}
        for name, values in data.items() if isinstance(data, dict) else ():
            try:
                voices[name] = VoiceDefaults.of(values)
            except (BadInput, TypeError, AttributeError) as error:
                log.warning("%s: the settings of voice %s are ignored (%s)", self.path, name, error)
        return voices

    def _write(self, voices: dict[str, dict[str, float]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=self.path.parent, delete=False, suffix=".tmp", encoding="utf-8"
        ) as out:
            json.dump(voices, out, indent=1, sort_keys=True)
        os.replace(out.name, self.path)


def parse_assignments(items: list[str]) -> dict[str, float | None]:
    """``["temperature=0.7", "volume="]`` → ``{"temperature": 0.7, "volume": None}``."""
    changes: dict[str, float | None] = {}
    for item in items:
        key, equals, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or key not in KEYS:
            raise BadInput(
                f"'{item}' is not a setting; give KEY=VALUE with KEY one of {', '.join(KEYS)} "
                "(KEY= removes it)."
            )
        if not value.strip():
            changes[key] = None
            continue
        try:
            number = float(value)
        except ValueError:
            raise BadInput(f"'{value}' is not a number (in '{item}').") from None
        changes[key] = int(number) if key == "top_k" and number == int(number) else number
    return changes
