"""Errors a user can cause or fix. ``str(error)`` is one line that says what to do."""

from __future__ import annotations


class ReadaloudError(Exception):
    """Base of every error readaloud reports to a person instead of a traceback."""

    #: Exit status of the ``readaloud`` command when this error ends it.
    exit_code = 1
    #: Its name in the daemon's ``error`` events, for clients that react to the kind.
    code = "error"


class BadInput(ReadaloudError):
    """The request itself is wrong (empty text, unknown voice, rate out of range, ...)."""

    exit_code = 2


class UnknownVoice(BadInput):
    pass


class UnsupportedLanguage(BadInput):
    pass


class ConfigError(ReadaloudError):
    """The config file cannot be read or holds a bad key or value."""

    exit_code = 3


class NoOutputDevice(ReadaloudError):
    """No sound server or output device to play on."""

    exit_code = 4
    code = "no_sound_output"


class EngineError(ReadaloudError):
    """A speech engine failed to load or to synthesize."""

    exit_code = 5
    code = "engine_failure"
