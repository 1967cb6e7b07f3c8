"""Typed configuration loaded once from TOML. Unknown keys and bad values name the key and line.

The documented default file is ``config/readaloud.toml``; the user's copy lives at
``$XDG_CONFIG_HOME/readaloud/readaloud.toml`` (or wherever ``--config`` points).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readaloud.errors import ConfigError

ENGINES = ("auto", "piper", "xtts", "remote")


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_config_path() -> Path:
    return xdg_config_home() / "readaloud" / "readaloud.toml"


@dataclass(frozen=True)
class SpeechConfig:
    engine: str = "auto"
    voice: str = ""
    language: str = "en"
    rate: float = 1.0
    first_fragment_words: int = 6


@dataclass(frozen=True)
class PiperConfig:
    voices_dir: str = ""
    use_cuda: bool = False


@dataclass(frozen=True)
class AudioConfig:
    device: str = ""
    sample_rate: int = 0
    block_frames: int = 256
    tail_padding_ms: int = 120
    max_buffer_seconds: float = 20.0
    idle_close_s: float = 10.0

    @property
    def output_device(self) -> str | int | None:
        """The device as sounddevice wants it: None (default), an index or a name."""
        if not self.device:
            return None
        return int(self.device) if self.device.isdigit() else self.device


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 7412
    allow_remote: bool = False
    socket: str = ""
    allowed_origins: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    max_body_bytes: int = 8_000_000


@dataclass(frozen=True)
class OpenAIConfig:
    #: OpenAI voice name (alloy, nova, ...) → local voice id.
    voices: dict[str, str] = field(default_factory=dict)
    max_streams: int = 4


@dataclass(frozen=True)
class RemoteConfig:
    url: str = ""
    api_key_file: str = ""
    voice: str = ""
    model: str = "tts-1"
    timeout_s: float = 30.0
    first_byte_timeout_s: float = 3.0
    retry_after_s: float = 30.0


@dataclass(frozen=True)
class DaemonConfig:
    feedback: str = "speech"
    max_queue: int = 32


@dataclass(frozen=True)
class XttsSettings:
    """The [xtts] section: where XTTS v2 is, how it runs and how it streams."""

    model_dir: str = ""
    voices_dir: str = ""
    device: str = "auto"
    precision: str = "fp32"
    voice: str = ""
    short_text_words: int = 2
    first_chunk_tokens: int = 8
    chunk_tokens: int = 32
    context_frames: int = 12
    lookahead_frames: int = 4
    crossfade_ms: float = 40.0
    max_new_tokens: int = 0


@dataclass(frozen=True)
class HotkeysConfig:
    """Global hotkeys (X11). An empty string turns an action off."""

    read_selection: str = "<super>+<alt>+a"
    read_clipboard: str = "<super>+<alt>+c"
    stop: str = "<super>+<alt>+x"
    pause_resume: str = "<super>+<alt>+<space>"

    def bindings(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Config:
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    piper: PiperConfig = field(default_factory=PiperConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    hotkeys: HotkeysConfig = field(default_factory=HotkeysConfig)
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    remote: RemoteConfig = field(default_factory=RemoteConfig)
    xtts: XttsSettings = field(default_factory=XttsSettings)
    #: Where this config came from (None: built-in defaults).
    source: Path | None = None

    @property
    def socket_path(self) -> Path:
        if self.server.socket:
            return Path(self.server.socket).expanduser()
        runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/readaloud-{os.getuid()}"
        return Path(runtime) / "readaloud" / "readaloud.sock"

    @property
    def token_path(self) -> Path:
        return xdg_config_home() / "readaloud" / "token"

    @property
    def piper_voices_dir(self) -> Path:
        if self.piper.voices_dir:
            return Path(self.piper.voices_dir).expanduser()
        return xdg_data_home() / "readaloud" / "voices" / "piper"

    @property
    def xtts_model_dir(self) -> Path:
        if self.xtts.model_dir:
            return Path(self.xtts.model_dir).expanduser()
        return xdg_data_home() / "readaloud" / "models" / "xtts_v2"

    @property
    def xtts_voices_dir(self) -> Path:
        if self.xtts.voices_dir:
            return Path(self.xtts.voices_dir).expanduser()
        return xdg_data_home() / "readaloud" / "voices" / "xtts"


_SECTIONS: dict[str, type] = {
    "speech": SpeechConfig,
    "piper": PiperConfig,
    "audio": AudioConfig,
    "server": ServerConfig,
    "daemon": DaemonConfig,
    "hotkeys": HotkeysConfig,
    "openai": OpenAIConfig,
    "remote": RemoteConfig,
    "xtts": XttsSettings,
}


def _check_value(section: str, key: str, value: Any) -> str | None:
    """Return why ``value`` is bad for ``section.key``, or None when it is fine."""
    if section == "hotkeys":
        from readaloud.integrations.hotkeys import binding_problem

        return binding_problem(value)
    if section == "speech":
        if key == "engine" and value not in ENGINES:
            return f"must be one of {', '.join(ENGINES)}"
        if key == "rate" and not 0.25 <= value <= 4.0:
            return "must be between 0.25 and 4.0"
        if key == "first_fragment_words" and not 0 <= value <= 50:
            return "must be between 0 (off) and 50"
    if section == "audio":
        if key == "sample_rate" and value != 0 and not 8000 <= value <= 192000:
            return "must be 0 (automatic) or between 8000 and 192000"
        if key == "block_frames" and not 32 <= value <= 8192:
            return "must be between 32 and 8192"
        if key == "tail_padding_ms" and not 0 <= value <= 2000:
            return "must be between 0 and 2000"
        if key == "max_buffer_seconds" and not 1 <= value <= 600:
            return "must be between 1 and 600"
        if key == "idle_close_s" and not 0.1 <= value <= 3600:
            return "must be between 0.1 and 3600"
    if section == "server":
        if key == "port" and not 1 <= value <= 65535:
            return "must be a TCP port between 1 and 65535"
        if key == "max_body_bytes" and not 1024 <= value <= 100_000_000:
            return "must be between 1024 and 100000000"
        if key == "allowed_origins":
            for origin in value:
                if origin == "*" or not re.match(r"^[a-z][a-z0-9+.-]*://[^/\s]+$", origin):
                    return (
                        f"holds {origin!r}: give exact origins such as "
                        "chrome-extension://<id> (never *)"
                    )
    if section == "openai" and key == "max_streams" and not 1 <= value <= 64:
        return "must be between 1 and 64"
    if section == "remote":
        if key == "url" and value and not re.match(r"^https?://[^/\s]+", value):
            return "must be an http(s) address such as http://gpu-box:7412/v1"
        if key.endswith("_s") and not 0.1 <= value <= 600:
            return "must be between 0.1 and 600 seconds"
    if section == "daemon":
        if key == "feedback" and value not in ("speech", "earcon", "off"):
            return "must be one of speech, earcon, off"
        if key == "max_queue" and not 1 <= value <= 10_000:
            return "must be between 1 and 10000"
    if section == "xtts":
        return _check_xtts(key, value)
    return None


_XTTS_RANGES = {
    "short_text_words": (0, 10),
    "first_chunk_tokens": (1, 200),
    "chunk_tokens": (1, 400),
    "context_frames": (0, 64),
    "lookahead_frames": (0, 64),
    "crossfade_ms": (0, 200),
    "max_new_tokens": (0, 600),
}


def _check_xtts(key: str, value: Any) -> str | None:
    if key == "device" and not re.match(r"^(auto|cpu|cuda(:\d+)?)$", value):
        return "must be auto, cuda, cuda:N or cpu"
    if key == "precision" and value not in ("fp32", "fp16", "bf16"):
        return "must be one of fp32, fp16, bf16"
    if key in _XTTS_RANGES:
        low, high = _XTTS_RANGES[key]
        if not low <= value <= high:
            return f"must be between {low} and {high}"
    return None


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of ``[section]`` or of ``key`` inside it (tomllib has none)."""
    lines = text.splitlines()
    in_section = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            in_section = header.group(1) == section
            if in_section and key is None:
                return number
            continue
        if in_section and key is not None and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


def _where(path: Path | None, text: str, section: str, key: str | None) -> str:
    line = _line_of(text, section, key)
    name = str(path) if path else "config"
    return f"{name}, line {line}" if line else name


def _coerce(expected: type, value: Any) -> Any:
    """Accept ints where floats are expected; anything else must match exactly."""
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):
        raise TypeError
    if expected is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError
        return tuple(value)
    if expected is dict:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise TypeError
        return dict(value)
    if not isinstance(value, expected):
        raise TypeError
    return value


def parse(text: str, path: Path | None = None) -> Config:
    """Parse TOML text into a Config, or raise ConfigError naming the key and line."""
    name = str(path) if path else "config"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{name}: not valid TOML ({error}). Fix that line.") from None
    sections: dict[str, Any] = {}
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(
                f"{name}: '{section}' is outside any section; put keys under "
                f"{', '.join(f'[{s}]' for s in _SECTIONS)}."
            )
        if section not in _SECTIONS:
            known = ", ".join(f"[{s}]" for s in _SECTIONS)
            raise ConfigError(
                f"{_where(path, text, section, None)}: unknown section [{section}]; "
                f"known sections are {known}."
            )
        cls = _SECTIONS[section]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            where = _where(path, text, section, key)
            if key not in fields:
                raise ConfigError(
                    f"{where}: unknown key '{key}' in [{section}]; "
                    f"known keys are {', '.join(fields)}."
                )
            expected = type(getattr(cls(), key))
            try:
                value = _coerce(expected, value)
            except TypeError:
                wanted = {tuple: "list of strings", dict: "table of strings"}.get(
                    expected, expected.__name__
                )
                raise ConfigError(
                    f"{where}: '{section}.{key}' must be a {wanted}, not {value!r}."
                ) from None
            problem = _check_value(section, key, value)
            if problem:
                raise ConfigError(
                    f"{where}: '{section}.{key}' = {value!r} {problem.rstrip('.')}"
                    + ("" if problem.endswith(("?", "!")) else ".")
                )
            kwargs[key] = value
        sections[section] = cls(**kwargs)
    return Config(**sections, source=path)


def load(path: Path | None = None) -> Config:
    """Load ``path``, or the user's config file when it exists, or the defaults.

    An explicitly given path must exist; the default location may be absent.
    """
    explicit = path is not None
    path = path if explicit else default_config_path()
    assert path is not None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"Config file {path} does not exist.") from None
        return Config()
    except OSError as error:
        raise ConfigError(f"Cannot read config file {path}: {error.strerror}.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8.") from None
    return parse(text, path)


class ConfigWatch:
    """Whether the config file changed on disk since the daemon loaded it.

    The daemon keeps the settings it started with until it is restarted (a reload would have to
    reopen the engine, the sound stream and the sockets); ``readaloud status`` says so instead.
    """

    def __init__(self, config: Config) -> None:
        self.path = config.source or default_config_path()
        self._loaded = self._contents()
        self._last: tuple[bytes | None, str | None] = (self._loaded, None)

    def _contents(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def changed(self) -> str | None:
        """None while the file is as loaded; else one line saying what to do."""
        now = self._contents()
        if now == self._last[0]:
            return self._last[1]
        restart = "restart the daemon to use it (systemctl --user restart readaloud)."
        if now is None:
            message = f"{self.path} was removed since the daemon started; {restart}"
        else:
            try:
                load(self.path)
            except ConfigError as error:
                message = (
                    f"{self.path} changed since the daemon started and has an error: {error} "
                    "The daemon keeps the settings it started with."
                )
            else:
                message = f"{self.path} changed since the daemon started; {restart}"
        self._last = (now, None if now == self._loaded else message)
        return self._last[1]
