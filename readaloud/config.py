"""Typed configuration loaded once from TOML. Unknown keys and bad values name the key and line.

The documented default file is ``config/readaloud.toml``; the user's copy lives at
``$XDG_CONFIG_HOME/readaloud/readaloud.toml`` (or wherever ``--config`` points).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readaloud.errors import ConfigError
from readaloud.keybindings import DEFAULT_BINDINGS, binding_problem, validate_bindings

ENGINES = ("auto", "piper", "xtts", "remote")


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def xdg_cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def xdg_state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")


def default_config_path() -> Path:
    return xdg_config_home() / "readaloud" / "readaloud.toml"


#: The speaking rates a user may ask for: 1 is normal, the pitch stays the same.
MIN_RATE = 0.25
MAX_RATE = 4.0
#: Twice as loud as a voice is made, at most (a limiter keeps it unclipped).
MAX_VOLUME = 2.0

Check = Callable[[Any], "str | None"]


def between(low: float, high: float, unit: str = "") -> Check:
    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}{unit}"

    return check


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def matches(pattern: str, expected: str) -> Check:
    def check(value: Any) -> str | None:
        return None if re.match(pattern, value) else f"must be {expected}"

    return check


def setting(default: Any, check: Check | None = None) -> Any:
    """A config field with its default and the check its values must pass."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"check": check})
    return field(default=default, metadata={"check": check})


def _sample_rate(value: int) -> str | None:
    if value == 0 or 8000 <= value <= 192000:
        return None
    return "must be 0 (automatic) or between 8000 and 192000"


def _origins(value: tuple[str, ...]) -> str | None:
    for origin in value:
        if origin == "*" or not re.match(r"^[a-z][a-z0-9+.-]*://[^/\s]+$", origin):
            return f"holds {origin!r}: give exact origins such as chrome-extension://<id> (never *)"
    return None


def http_url(example: str) -> Check:
    def check(value: str) -> str | None:
        if not value or re.match(r"^https?://[^/\s]+", value):
            return None
        return f"must be an http(s) address such as {example}"

    return check


@dataclass(frozen=True)
class SpeechConfig:
    engine: str = setting("auto", one_of(*ENGINES))
    voice: str = ""
    language: str = "en"
    rate: float = setting(1.0, between(MIN_RATE, MAX_RATE))
    first_fragment_words: int = setting(
        6, lambda v: None if 0 <= v <= 50 else ("must be between 0 (off) and 50")
    )
    #: Texts up to this many characters are kept as audio and a repeat plays at once.
    short_cache_chars: int = setting(
        40, lambda v: None if 0 <= v <= 1000 else ("must be between 0 (off) and 1000")
    )
    short_cache_mb: float = setting(16.0, between(0, 1024, " MB"))
    #: Letters, digits, symbols and key names are made ahead for the voice settings in use.
    echo_ahead: bool = True
    #: 1 is the voice as made; up to 2 (louder, peaks held under full scale, never clipped).
    volume: float = setting(1.0, between(0, MAX_VOLUME))
    #: Text in a language no installed voice speaks: "tell" says so once and skips it,
    #: "read-anyway" has the default voice read it.
    missing_voice: str = setting("tell", one_of("tell", "read-anyway"))


@dataclass(frozen=True)
class PiperConfig:
    voices_dir: str = ""
    use_cuda: bool = False
    #: Threads of each onnxruntime session; 0: onnxruntime's own choice (one per core).
    threads: int = setting(0, between(0, 256))


def _voice_ids(value: dict[str, str]) -> str | None:
    for language, voice in value.items():
        if not re.match(r"^[a-zA-Z]{2,3}$", language):
            return f"has key {language!r}: use a language code such as de or pt"
        if not voice.strip():
            return f"gives no voice for {language}"
    return None


@dataclass(frozen=True)
class VoicesConfig:
    """The [voices] section: where Piper voices are downloaded from, and who reads what."""

    #: The Piper voices repository (its voices.json and lang/.../voice/quality/ files).
    piper_url: str = setting(
        "https://huggingface.co/rhasspy/piper-voices/resolve/main",
        http_url("http://localhost:8000/piper-voices"),
    )
    #: Language code → voice id, e.g. de = "de_DE-thorsten-medium" ([voices.by_language]).
    by_language: dict[str, str] = setting({}, _voice_ids)


@dataclass(frozen=True)
class AudioConfig:
    device: str = ""
    sample_rate: int = setting(0, _sample_rate)
    block_frames: int = setting(256, between(32, 8192))
    tail_padding_ms: int = setting(120, between(0, 2000))
    max_buffer_seconds: float = setting(20.0, between(1, 600))
    idle_close_s: float = setting(10.0, between(0.1, 3600))

    @property
    def output_device(self) -> str | int | None:
        """The device as sounddevice wants it: None (default), an index or a name."""
        if not self.device:
            return None
        return int(self.device) if self.device.isdigit() else self.device


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = setting(
        7412, lambda v: None if 1 <= v <= 65535 else ("must be a TCP port between 1 and 65535")
    )
    allow_remote: bool = False
    socket: str = ""
    allowed_origins: tuple[str, ...] = setting((), _origins)
    extra_hosts: tuple[str, ...] = ()
    max_body_bytes: int = setting(8_000_000, between(1024, 100_000_000))


@dataclass(frozen=True)
class OpenAIConfig:
    #: OpenAI voice name (alloy, nova, ...) → local voice id.
    voices: dict[str, str] = setting({})
    max_streams: int = setting(4, between(1, 64))


@dataclass(frozen=True)
class RemoteConfig:
    url: str = setting("", http_url("http://gpu-box:7412/v1"))
    api_key_file: str = ""
    voice: str = ""
    model: str = "tts-1"
    timeout_s: float = setting(30.0, between(0.1, 600, " seconds"))
    first_byte_timeout_s: float = setting(3.0, between(0.1, 600, " seconds"))
    retry_after_s: float = setting(30.0, between(0.1, 600, " seconds"))


@dataclass(frozen=True)
class StreamConfig:
    #: Text that arrives with no sentence end yet is spoken after this long without input.
    flush_s: float = setting(0.7, between(0.05, 60, " seconds"))
    #: Line mode (``say --lines``): read the newest line and say how many were skipped when
    #: lines come faster than they are spoken, instead of reading every one.
    keep_up: bool = False
    #: A stream that sends nothing for this long is ended (what it sent is spoken).
    idle_s: float = setting(300.0, between(1, 86400, " seconds"))


@dataclass(frozen=True)
class ExportConfig:
    #: Processes making speech at once for ``readaloud export``; 0: one fewer than the cores.
    workers: int = setting(0, between(0, 64))


@dataclass(frozen=True)
class DaemonConfig:
    feedback: str = setting("speech", one_of("speech", "earcon", "off"))
    max_queue: int = setting(32, between(1, 10_000))


@dataclass(frozen=True)
class XttsSettings:
    """The [xtts] section: where XTTS v2 is, how it runs and how it streams."""

    model_dir: str = ""
    voices_dir: str = ""
    device: str = setting("auto", matches(r"^(auto|cpu|cuda(:\d+)?)$", "auto, cuda, cuda:N or cpu"))
    precision: str = setting("fp32", one_of("fp32", "fp16", "bf16"))
    voice: str = ""
    short_text_words: int = setting(2, between(0, 10))
    first_chunk_tokens: int = setting(8, between(1, 200))
    chunk_tokens: int = setting(32, between(1, 400))
    context_frames: int = setting(12, between(0, 64))
    lookahead_frames: int = setting(4, between(0, 64))
    crossfade_ms: float = setting(40.0, between(0, 200))
    max_new_tokens: int = setting(0, between(0, 600))
    max_streams: int = setting(8, between(1, 64))
    unload_after_s: float = setting(0.0, between(0, 86400))
    #: Sampling (0: the checkpoint's own; a request or a voice may set its own).
    temperature: float = setting(0.0, between(0, 2))
    top_p: float = setting(0.0, between(0, 1))
    top_k: int = setting(0, between(0, 1000))
    repetition_penalty: float = setting(0.0, between(0, 20))
    length_penalty: float = setting(0.0, between(-10, 10))


@dataclass(frozen=True)
class HotkeysConfig:
    """Global hotkeys (X11). An empty string turns an action off."""

    read_selection: str = setting(DEFAULT_BINDINGS["read_selection"], binding_problem)
    read_clipboard: str = setting(DEFAULT_BINDINGS["read_clipboard"], binding_problem)
    stop: str = setting(DEFAULT_BINDINGS["stop"], binding_problem)
    pause_resume: str = setting(DEFAULT_BINDINGS["pause_resume"], binding_problem)
    resume_reading: str = setting(DEFAULT_BINDINGS["resume_reading"], binding_problem)

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
    stream: StreamConfig = field(default_factory=StreamConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    voices: VoicesConfig = field(default_factory=VoicesConfig)
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
    def bookmarks_path(self) -> Path:
        """Where reading stopped in each document (``readaloud resume``)."""
        return xdg_state_home() / "readaloud" / "bookmarks.json"

    @property
    def lexicon_path(self) -> Path:
        """How words are said (``readaloud lexicon``)."""
        return xdg_config_home() / "readaloud" / "lexicon.toml"

    @property
    def voice_settings_path(self) -> Path:
        """Each voice's own volume and sampling (``readaloud voice set``)."""
        return xdg_config_home() / "readaloud" / "voice-settings.json"

    @property
    def voice_catalogue_path(self) -> Path:
        """The Piper voice catalogue last fetched (``voice search`` offline)."""
        return xdg_cache_home() / "readaloud" / "piper-voices.json"

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
    "stream": StreamConfig,
    "export": ExportConfig,
    "voices": VoicesConfig,
    "remote": RemoteConfig,
    "xtts": XttsSettings,
}


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
                names: dict[type, str] = {tuple: "list of strings", dict: "table of strings"}
                wanted = names.get(expected, expected.__name__)
                raise ConfigError(
                    f"{where}: '{section}.{key}' must be a {wanted}, not {value!r}."
                ) from None
            check = fields[key].metadata.get("check")
            problem = check(value) if check else None
            if problem:
                raise ConfigError(
                    f"{where}: '{section}.{key}' = {value!r} {problem.rstrip('.')}"
                    + ("" if problem.endswith(("?", "!")) else ".")
                )
            kwargs[key] = value
        sections[section] = cls(**kwargs)
    if "hotkeys" in sections:  # two actions on one combination: only the section can tell
        validate_bindings(sections["hotkeys"].bindings(), _where(path, text, "hotkeys", None))
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
