"""The line protocol between speechd and an output module: commands and data blocks in on stdin,
replies and events out on stdout, lines ending in LF (speechd's "Communication Protocol for
Output Modules"; ``src/modules/module_process.c``).
"""

from __future__ import annotations

import logging
import threading
from typing import BinaryIO

log = logging.getLogger("sd_readaloud")

# Replies and events, as speechd's own modules word them (speechd reads only the codes).
INIT_OK = "299 OK LOADED SUCCESSFULLY"
INIT_FAILED = "399 ERR CANT INIT MODULE"
RECEIVING_MESSAGE = "202 OK RECEIVING MESSAGE"
SPEAKING = "200 OK SPEAKING"
RECEIVING_SETTINGS = "207 OK RECEIVING SETTINGS"
RECEIVING_AUDIO = "207 OK RECEIVING AUDIO SETTINGS"
SETTINGS_RECEIVED = "203 OK SETTINGS RECEIVED"
AUDIO_INITIALIZED = "203 OK AUDIO INITIALIZED"
LOGLEVEL_SET = "203 OK LOGLEVEL SET"
VOICES_SENT = "200 OK VOICE LIST SENT"
QUIT_OK = "210 OK QUIT"
CANT_SPEAK = "301 ERROR CANT SPEAK"
BAD_SYNTAX = "302 ERROR BAD SYNTAX"
BAD_PARAM = "303 ERROR INVALID PARAMETER OR VALUE"
CANT_LIST_VOICES = "304 CANT LIST VOICES"
MORE_THAN_ONE_LINE = "305 DATA MORE THAN ONE LINE"
UNKNOWN_COMMAND = "300 ERR UNKNOWN COMMAND"

INDEX_MARK = "700 INDEX MARK"
BEGIN = "701 BEGIN"
END = "702 END"
STOPPED = "703 STOP"
PAUSED = "704 PAUSE"


class Channel:
    """speechd's end of the pipes. ``send`` is safe from any thread: the lines of one reply or
    event are written together, never interleaved with another's."""

    def __init__(self, incoming: BinaryIO, outgoing: BinaryIO) -> None:
        self._in = incoming
        self._out = outgoing
        self._lock = threading.Lock()

    def read_line(self) -> str | None:
        """The next line without its LF, or None when speechd closed the pipe."""
        raw = self._in.readline()
        if not raw:
            return None
        return raw.decode("utf-8", "replace").removesuffix("\n")

    def read_block(self) -> list[str] | None:
        """Lines up to the one holding only ".", with speechd's dot-stuffing undone
        (a line starting with "." arrives with one more); None at end of input."""
        lines: list[str] = []
        while True:
            line = self.read_line()
            if line is None:
                return None
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith(".") else line)

    def send(self, *lines: str) -> None:
        data = "".join(f"{line}\n" for line in lines).encode("utf-8")
        with self._lock:
            try:
                self._out.write(data)
                self._out.flush()
            except (BrokenPipeError, ValueError):
                # speechd is gone; the command loop sees the end of its input and exits.
                log.info("speechd closed the pipe; not sent: %s", lines[0])

    def index_mark(self, name: str) -> None:
        self.send("700-" + " ".join(name.splitlines()), INDEX_MARK)
