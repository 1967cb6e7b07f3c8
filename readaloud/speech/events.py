"""What the speech queue reports, typed: its events and its status.

One module for every consumer: the scheduler emits these objects; the API's event stream sends
``to_dict()`` as JSON and clients of the daemon (the CLI, the speechd module, the benchmark)
read them back with ``parse_event``; the in-process ``Speaker`` and the daemon's own feedback
receive them as they are.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    #: The event's name on the wire (SSE ``event:`` and the JSON ``type``).
    type: ClassVar[str] = ""
    #: When it happened (wall clock); keyword-only, so each event's own fields come first.
    time: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the API sends: ``type`` first, fields that are not set left out."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return {"type": self.type, **fields}


@dataclass(frozen=True)
class UtteranceQueued(Event):
    type: ClassVar[str] = "utterance_queued"
    id: str
    segments: int


@dataclass(frozen=True)
class UtteranceStarted(Event):
    type: ClassVar[str] = "utterance_start"
    id: str
    text: str


@dataclass(frozen=True)
class SegmentStarted(Event):
    """Playback reached a segment: ``start``/``end`` are offsets into the utterance text."""

    type: ClassVar[str] = "segment_start"
    id: str
    index: int
    start: int
    end: int
    text: str
    #: The language it is read in, when known (detected or asked for), and the voice asked
    #: for (left out: the engine's voice for that language).
    language: str | None = None
    voice: str | None = None


@dataclass(frozen=True)
class WordStarted(Event):
    """Playback reached a word: ``start``/``end`` are offsets into the utterance text."""

    type: ClassVar[str] = "word"
    id: str
    start: int
    end: int
    text: str
    #: True when the engine gave no timing and the word was placed in its chunk's sound by
    #: its share of the characters (XTTS); left out when the engine timed it (Piper).
    estimated: bool | None = None


@dataclass(frozen=True)
class UtteranceEnded(Event):
    """The utterance is over: heard to the end (``completed``; also when stopped or replaced in
    its closing pause, after ``sound_end``), or stopped, replaced or failed.

    The figures are there when it was spoken (not for requests dropped from the queue)."""

    type: ClassVar[str] = "utterance_end"
    id: str
    completed: bool
    audio_s: float | None = None
    synthesis_s: float | None = None
    #: Blocks the player found empty mid-utterance since the daemon started.
    underruns: int | None = None


@dataclass(frozen=True)
class SoundEnded(Event):
    """The utterance's last sound is being heard; only its closing pause is left. A client that
    sends one message after the other (a screen reader's Say All) can send the next one now."""

    type: ClassVar[str] = "sound_end"
    id: str


@dataclass(frozen=True)
class UtteranceTiming(Event):
    """Where the time to the first sound went (for ``readaloud bench``; wall clock, ms)."""

    type: ClassVar[str] = "utterance_timing"
    id: str
    submitted_at: float
    extract_ms: float
    prepare_ms: float
    queue_wait_ms: float
    engine_first_chunk_ms: float
    enqueued_at: float


#: ``SpeechFailed.code`` of a notice that some text has no voice; the utterance goes on.
MISSING_VOICE = "missing_voice"


@dataclass(frozen=True)
class SpeechFailed(Event):
    """Speaking failed; ``code`` names the kind (``no_sound_output``, ``engine_failure``).

    ``missing_voice`` is not the end of the utterance: part of it is in a language no voice
    speaks (skipped or read with the default voice, as ``[speech] missing_voice`` says)."""

    type: ClassVar[str] = "error"
    id: str
    message: str
    code: str = "error"


@dataclass(frozen=True)
class Paused(Event):
    type: ClassVar[str] = "paused"


@dataclass(frozen=True)
class Resumed(Event):
    type: ClassVar[str] = "resumed"


@dataclass(frozen=True)
class Stopping(Event):
    """The daemon is shutting down; event streams end after this one."""

    type: ClassVar[str] = "stopping"


@dataclass(frozen=True)
class Connected(Event):
    """A client's event stream is open (sent by the API as an SSE comment, made by clients)."""

    type: ClassVar[str] = "connected"


@dataclass(frozen=True)
class StreamLost(Event):
    """A client lost the daemon's event stream (made by clients, never sent)."""

    type: ClassVar[str] = "lost"


EVENTS: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        UtteranceQueued,
        UtteranceStarted,
        SegmentStarted,
        WordStarted,
        UtteranceEnded,
        SoundEnded,
        UtteranceTiming,
        SpeechFailed,
        Paused,
        Resumed,
        Stopping,
        Connected,
        StreamLost,
    )
}


def parse_event(data: dict[str, Any]) -> Event | None:
    """The event a JSON object from the API stands for; None for a kind this version does not
    know (a newer daemon may send more). Unknown fields are ignored likewise."""
    cls = EVENTS.get(str(data.get("type", "")))
    if cls is None:
        return None
    known = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in known})
    except TypeError:  # a required field is missing
        return None


@dataclass(frozen=True)
class SegmentInfo:
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SpeechStatus:
    """What the queue is doing now (``GET /v1/status`` adds the engine's reason and config)."""

    state: str  # idle, speaking or paused
    utterance: str | None
    segment: SegmentInfo | None
    queued: int
    engine: str
    #: Blocks played with nothing to play mid-utterance (gaps), and blocks the device ran dry
    #: waiting for the audio callback (a starved CPU), since the daemon started.
    underruns: int
    xruns: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
