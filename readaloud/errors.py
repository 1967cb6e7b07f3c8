"""Errors a user can cause or fix. ``str(error)`` is one line that says what to do."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status of the ``readaloud`` command (the README lists them, checked by a test)."""

    OK = 0
    FAILED = 1  # the request was made but did not complete (stopped, or the daemon failed it)
    BAD_INPUT = 2  # empty text, unknown voice or language, rate out of range, unreadable file
    BAD_CONFIG = 3
    NO_SOUND_OUTPUT = 4
    ENGINE_FAILURE = 5
    PAGE_UNREACHABLE = 6
    QUEUE_FULL = 7
    NO_DAEMON = 8
    ADDRESS_IN_USE = 9
    NO_DESKTOP = 10
    SERVICE_SETUP = 11
    SPEECHD_SETUP = 12
    BENCH_FAILED = 13
    DOWNLOAD_FAILED = 14
    INTERNAL_ERROR = 70  # a bug: one line, details with -v
    INTERRUPTED = 130  # Ctrl+C


class ReadaloudError(Exception):
    """Base of every error readaloud reports to a person instead of a traceback."""

    #: Exit status of the ``readaloud`` command when this error ends it.
    exit_code: int = ExitCode.FAILED
    #: Its name in the daemon's ``error`` events, for clients that react to the kind.
    code = "error"


class BadInput(ReadaloudError):
    """The request itself is wrong (empty text, unknown voice, rate out of range, ...)."""

    exit_code = ExitCode.BAD_INPUT


class UnknownVoice(BadInput):
    pass


class UnsupportedLanguage(BadInput):
    pass


class ConfigError(ReadaloudError):
    """The config file cannot be read or holds a bad key or value."""

    exit_code = ExitCode.BAD_CONFIG


class NoOutputDevice(ReadaloudError):
    """No sound server or output device to play on."""

    exit_code = ExitCode.NO_SOUND_OUTPUT
    code = "no_sound_output"


class EngineError(ReadaloudError):
    """A speech engine failed to load or to synthesize."""

    exit_code = ExitCode.ENGINE_FAILURE
    code = "engine_failure"


class DownloadFailed(ReadaloudError):
    """A voice could not be downloaded (offline, a server error, a file that does not match
    its checksum); nothing half-installed is left."""

    exit_code = ExitCode.DOWNLOAD_FAILED
    code = "download_failed"
