"""Every call into PortAudio, on one thread of its own and with a deadline.

PortAudio can block for ever. Its ALSA backend starts a stream by starting a thread and waiting
for it; when the sound server went away after the stream was opened, that thread fails and exits
holding the mutex its parent waits on, and ``Pa_StartStream`` never returns. A daemon that made
that call while holding a lock its stop, pause or shutdown need would be wedged for good.

So no caller runs PortAudio itself: each call is handed to the worker thread and waited for
with a deadline. A call that misses it leaves its worker stuck: that worker is abandoned (the
next call gets a new one), the stream it was working on is never touched again, and the caller
gets ``SoundOutputStuck`` (a "no sound output" error). PortAudio is then never terminated or
re-initialised while such a stream exists: ``Pa_Terminate`` would close it and abort the whole
process on the mutex the dead thread still holds. New streams open without that, since the ALSA
devices stay listed; the stuck one costs a thread and a few kilobytes until the daemon exits.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from readaloud.errors import NoOutputDevice

try:
    import sounddevice as sd
except OSError:  # libportaudio2 is missing: playback is impossible, writing files still works
    sd = None

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long one PortAudio call may take. Opening, starting or closing a stream on PulseAudio or
#: PipeWire takes 1-3 ms; a second means the call will never return.
DEADLINE_S = 1.0


class SoundOutputStuck(NoOutputDevice):
    """A PortAudio call did not return in time; the sound server is gone or hung."""


_STUCK_MESSAGE = (
    "The sound output stopped answering (did PulseAudio/PipeWire restart?). "
    "readaloud will use it again as soon as it is back."
)


class _Call:
    __slots__ = ("function", "args", "kwargs", "future", "stream")

    def __init__(
        self, function: Callable[..., Any], args: tuple, kwargs: dict, stream: object
    ) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.future: Future[Any] = Future()
        self.stream = stream


class _Worker:
    """One thread that runs PortAudio calls in order."""

    def __init__(self, number: int) -> None:
        self.calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.current: _Call | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"readaloud-portaudio-{number}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        while (call := self.calls.get()) is not None:
            self.current = call
            if not call.future.set_running_or_notify_cancel():
                continue  # abandoned with the worker before it ran
            try:
                call.future.set_result(call.function(*call.args, **call.kwargs))
            except BaseException as error:  # handed to the caller, raised there
                call.future.set_exception(error)
            self.current = None


class PortAudio:
    """PortAudio is one library per process: one instance of this class speaks to it."""

    def __init__(self, deadline_s: float = DEADLINE_S) -> None:
        self.deadline_s = deadline_s
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._workers_started = 0
        self._open: set[int] = set()  # ids of streams opened and not yet closed
        self._stuck: list[object] = []  # streams a call on them never returned from (kept alive)

    # -- the calls -----------------------------------------------------------------------------

    def open_output(self, **settings: Any) -> sd.OutputStream:
        """Open an output stream (PortAudioError, ValueError as sounddevice raises them)."""
        stream = self.call(sd.OutputStream, **settings)
        with self._lock:
            self._open.add(id(stream))
        return stream

    def start(self, stream: sd.OutputStream) -> None:
        self.call(stream.start, stream=stream)

    def close(self, stream: sd.OutputStream) -> None:
        """Close ``stream``; a stream that is stuck is left alone (closing it would hang too)."""
        with self._lock:
            if id(stream) not in self._open:
                return
            self._open.discard(id(stream))
            if any(stuck is stream for stuck in self._stuck):
                return
        self.call(stream.close, ignore_errors=True, stream=stream)

    def query_devices(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(sd.query_devices, *args, **kwargs)

    def rescan(self) -> bool:
        """Re-initialise PortAudio so that it sees the sound servers there are now.

        Only while no stream is open (it would close them all) and never after a stream got
        stuck (``Pa_Terminate`` would abort the process); False when nothing was done.
        """
        if sd is None:
            return False
        with self._lock:
            if self._open or self._stuck:
                return False
        try:
            self.call(_reinitialise)
        except sd.PortAudioError:
            log.warning("Could not re-initialise PortAudio", exc_info=True)
            return False
        except SoundOutputStuck:
            return False
        return True

    @property
    def stuck_streams(self) -> int:
        """Streams abandoned because a call on them never returned, since the process started."""
        return len(self._stuck)

    # -- the worker ----------------------------------------------------------------------------

    def call(
        self,
        function: Callable[..., T],
        *args: Any,
        stream: object = None,
        **kwargs: Any,
    ) -> T:
        """Run ``function`` on the PortAudio thread; raise SoundOutputStuck after the deadline."""
        call = _Call(function, args, kwargs, stream)
        with self._lock:
            worker = self._worker
            if worker is None:
                self._workers_started += 1
                worker = self._worker = _Worker(self._workers_started)
            worker.calls.put(call)
        try:
            return call.future.result(self.deadline_s)
        except FutureTimeout:
            self._abandon(worker, call)
        except CancelledError:
            pass  # queued behind a call that got stuck
        raise SoundOutputStuck(_STUCK_MESSAGE)

    def _abandon(self, worker: _Worker, call: _Call) -> None:
        with self._lock:
            if self._worker is worker:
                self._worker = None
                stuck = worker.current or call
                # Kept referenced, so that it is never collected (its finaliser would close it).
                self._stuck.append(stuck.stream if stuck.stream is not None else stuck.function)
                # sounddevice terminates PortAudio at exit, which would abort on a stuck stream.
                atexit.unregister(sd._exit_handler)
                log.error(
                    "A call into PortAudio (%s) did not return within %.1f s; "
                    "the sound output is abandoned and will be opened anew",
                    getattr(stuck.function, "__qualname__", stuck.function),
                    self.deadline_s,
                )
                # The calls queued behind the stuck one would never run: fail them now.
                while True:
                    try:
                        waiting = worker.calls.get_nowait()
                    except queue.Empty:
                        break
                    if waiting is not None:
                        waiting.future.cancel()
                worker.calls.put(None)  # should the stuck call ever return, the thread ends
        if not call.future.cancel():  # it is running: it may still return one day
            call.future.add_done_callback(_close_late)


def _close_late(future: Future[Any]) -> None:
    """A stream opened after its caller gave up is nobody's: close it."""
    if future.cancelled() or future.exception() is not None:
        return
    stream = future.result()
    if sd is not None and isinstance(stream, sd.OutputStream):
        threading.Thread(target=stream.close, kwargs={"ignore_errors": True}, daemon=True).start()


def _reinitialise() -> None:
    # sounddevice has no public call for this; its own docs point to these two.
    if sd._initialized:
        sd._terminate()
    sd._initialize()


#: The process's one PortAudio.
portaudio = PortAudio()
