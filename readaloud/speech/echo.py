"""Letters, digits, symbols and key names ready before they are typed.

A screen reader echoes every key. The "q" typed first should be heard as soon as the hundredth,
so once a key echo (a text of the set, or one character) shows which voice, language and rate
the user listens with, the whole echo set (``text/keys.py``) is synthesized into the engine's
short-text cache in the background. It yields to real speech: it renders only while nothing is
being spoken and no request came in the last ``quiet_s``, and a request that arrives mid-render
cancels it (the engine stops at its next window; the text is rendered again later).

The settings of the last key echoes are remembered (``remember``, a small JSON file): the next
daemon makes their sets as soon as it has started, before the first key is typed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from readaloud.engines.base import SynthesisRequest
from readaloud.engines.cache import CachedEngine
from readaloud.errors import ReadaloudError
from readaloud.speech.synthesis import segments_of
from readaloud.speech.utterance import Utterance
from readaloud.speech.voicing import engine_rate
from readaloud.text.keys import echo_texts

log = logging.getLogger(__name__)

#: (voice, language, rate) as a request gives them.
Settings = tuple[str | None, str | None, float]

#: An engine slower than this for one key is not worth keeping busy for the whole set.
TOO_SLOW_S = 0.5


class Echo:
    def __init__(
        self,
        engine: CachedEngine,
        *,
        first_fragment_words: int = 6,
        texts: Sequence[str] | None = None,
        busy: Callable[[], bool] = lambda: False,
        quiet_s: float = 0.25,
        keep: int = 2,
        remember: Path | None = None,
    ) -> None:
        self.engine = engine
        self.first_fragment_words = first_fragment_words
        self.texts = tuple(texts if texts is not None else echo_texts())
        self._known = frozenset(self.texts)
        self.busy = busy
        self.quiet_s = quiet_s
        #: How many voice settings stay wanted; older ones are forgotten (the cache drops them).
        self.keep = keep
        self._lock = threading.Condition()
        self._wanted: deque[Settings] = deque()
        self._done: deque[Settings] = deque()
        self._last_request = float("-inf")
        self._interrupt = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.remember = remember

    def start_remembered(self) -> None:
        """Make the sets of the settings the last key echoes had (``remember``), if any."""
        for settings in _read_settings(self.remember):
            self._want(settings, save=False)

    def notice(self, utterance: Utterance) -> None:
        """A request is being spoken: stop rendering for a while; and if it is a key echo, want
        the set for its voice settings (other requests, a page or an API client's text, say
        nothing about the keys the user will type)."""
        settings = _settings(utterance)
        self._interrupt.set()
        text = utterance.text.strip()
        echoed = len(text) == 1 or text in self._known
        with self._lock:
            self._last_request = time.monotonic()
            self._lock.notify_all()
        if echoed:
            self._want(settings, save=True)

    def _want(self, settings: Settings, save: bool) -> None:
        with self._lock:
            if settings in self._wanted or settings in self._done or self._closed:
                return
            self._wanted.append(settings)
            while len(self._wanted) > self.keep:
                self._wanted.popleft()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="readaloud-echo", daemon=True
                )
                self._thread.start()
            self._lock.notify_all()
            latest = [*self._done, *self._wanted][-self.keep :]
        if save and self.remember is not None:
            _write_settings(self.remember, latest)

    def wait_ready(self, utterance: Utterance, timeout: float) -> bool:
        """Whether the echo set for ``utterance``'s voice settings is rendered (waits)."""
        settings = _settings(utterance)
        with self._lock:
            return self._lock.wait_for(lambda: settings in self._done, timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop rendering and wait for the thread (a thread left inside the engine when the
        interpreter exits aborts the process)."""
        self._interrupt.set()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- the renderer ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._wanted or self._closed)
                if self._closed:
                    return
                settings = self._wanted[-1]  # the latest settings first
            if self._render_all(settings):
                with self._lock:
                    if settings in self._wanted:
                        self._wanted.remove(settings)
                    self._done.append(settings)
                    while len(self._done) > self.keep:
                        self._done.popleft()
                    self._lock.notify_all()

    def _render_all(self, settings: Settings) -> bool:
        """Render every text for ``settings``; False when they stopped being wanted first."""
        voice, language, rate = settings
        for text in self.texts:
            utterance = Utterance(text, voice, language, rate)
            while True:
                if not self._wait_for_quiet(settings):
                    return False
                started = time.monotonic()
                try:
                    rendered = self._render(utterance)
                except ReadaloudError as error:  # the voice went away, the text is refused...
                    log.info("echo set for %s not rendered: %s", settings, error)
                    rendered = True
                if rendered:
                    break
            if time.monotonic() - started > TOO_SLOW_S:
                log.info("the engine takes too long for an echo set; rendering stopped")
                return True
        log.debug("echo set ready for %s", settings)
        return True

    def _wait_for_quiet(self, settings: Settings) -> bool:
        """Wait until nothing is spoken and no request came for ``quiet_s``; False when
        ``settings`` are no longer wanted (or the echo closed)."""
        with self._lock:
            while True:
                if self._closed or settings not in self._wanted:
                    return False
                left = self._last_request + self.quiet_s - time.monotonic()
                if left <= 0 and not self.busy():
                    self._interrupt.clear()
                    return True
                self._lock.wait(max(left, self.quiet_s / 5))

    def _render(self, utterance: Utterance) -> bool:
        """Synthesize ``utterance`` into the engine's cache; False when interrupted."""
        cancel = self._interrupt
        asked = SynthesisRequest(
            "", utterance.voice, utterance.language, utterance.rate, utterance_id="echo"
        )
        for segment in segments_of(utterance, self.first_fragment_words):
            request = asked.but(text=segment.text)
            if self.engine.holds(request):
                continue
            for _ in self.engine.stream(request, cancel):
                if cancel.is_set():
                    return False
        return not cancel.is_set()


def _read_settings(path: Path | None) -> list[Settings]:
    """The remembered settings; none when the file is missing or not what was written."""
    if path is None:
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return [
            (voice, language, float(rate))
            for voice, language, rate in entries
            if isinstance(voice, str | None) and isinstance(language, str | None)
        ]
    except (OSError, ValueError, TypeError):
        return []


def _write_settings(path: Path, settings: list[Settings]) -> None:
    """Write atomically (a daemon stopped mid-write leaves the old file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps([list(s) for s in settings]), encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        log.info("key echo settings not remembered: %s", error)


def _settings(utterance: Utterance) -> Settings:
    """What the engine is asked for: a moved pitch is a different rate (``voicing.py``)."""
    return (utterance.voice, utterance.language, round(engine_rate(utterance), 3))
