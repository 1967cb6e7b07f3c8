"""Continuous batching of XTTS streams: every open stream decoded on one thread, all of them
in each step of ``GptDecoder``.

A stream joins at a token boundary (its prompt alone, then it is in the next step), leaves when
it ends or is cancelled, and its ``(token, latent)`` pairs reach its own queue: the pairs coqui's
stream generator yields, the same whatever else is in the batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator

import torch

from readaloud.engines.xtts.decoder import Decoding, GptDecoder, Prompt

_KEPT_STEPS = 10_000


class DecodeStream:
    """One stream's ``(token, latent)`` pairs as the decoding thread makes them."""

    def __init__(self, prompt: Prompt, decoding: Decoding, cancel: threading.Event):
        self.prompt: Prompt | None = prompt
        self.decoding = decoding
        self.cancel = cancel
        self.closed = threading.Event()  # the reader is gone
        self._items: queue.SimpleQueue = queue.SimpleQueue()

    @property
    def wanted(self) -> bool:
        return not (self.cancel.is_set() or self.closed.is_set())

    def put(self, item) -> None:
        self._items.put(item)

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        try:
            while not self.cancel.is_set():  # a stop ends the stream at once; the thread
                item = self._items.get()  # drops it at its next token boundary
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed.set()


class BatchedDecoder:
    """Decodes every open stream on one thread, all of them in each step."""

    def __init__(self, gpt, max_streams: int = 8) -> None:
        self.decoder = GptDecoder(gpt, max_streams)
        self._lock = threading.Condition()
        self._waiting: list[DecodeStream] = []
        self._active: list[DecodeStream] = []  # in slot order
        self._thread: threading.Thread | None = None
        self._closed = False
        #: Streams in each of the latest steps and its time (the benchmark, the tests).
        self.step_sizes: deque[int] = deque(maxlen=_KEPT_STEPS)
        self.step_seconds: deque[float] = deque(maxlen=_KEPT_STEPS)

    def open(
        self,
        cond_latent: torch.Tensor,
        text_tokens: torch.Tensor,
        decoding: Decoding,
        cancel: threading.Event,
    ) -> DecodeStream:
        """A new stream; it joins at the next token boundary."""
        with torch.inference_mode():
            prompt = self.decoder.prompt(cond_latent, text_tokens)
        stream = DecodeStream(prompt, decoding, cancel)
        with self._lock:
            self._waiting.append(stream)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="readaloud-xtts-decoder", daemon=True
                )
                self._thread.start()
            self._lock.notify()
        return stream

    def close(self) -> None:
        """End the decoding thread once no stream is left (the model is being unloaded)."""
        with self._lock:
            self._closed = True
            self._lock.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._lock:
                    while not self._waiting and not self._active:
                        if self._closed or (
                            not self._lock.wait(timeout=30.0) and not self._waiting
                        ):
                            self._thread = None
                            return
                    # One prompt per step: the streams being heard get their next token
                    # between two newcomers' prompts (a prompt costs several steps).
                    room = min(1, self.decoder.max_streams - len(self._active))
                    joining, self._waiting = self._waiting[:room], self._waiting[room:]
                    expected = len(self._active) + len(joining) + len(self._waiting)
                try:
                    if joining:  # the cache grows once for all who are waiting
                        self.decoder.reserve(expected)
                    self._turn(joining)
                except BaseException as error:  # every open stream hears of it, none hangs
                    self._fail(joining, error)
                    if not isinstance(error, Exception):
                        raise

    def _turn(self, joining: list[DecodeStream]) -> None:
        decoder = self.decoder
        for stream in joining:
            if not stream.wanted:
                stream.put(None)
                continue
            assert stream.prompt is not None
            token, latent = decoder.join(stream.prompt, stream.decoding)
            self._active.append(stream)
            stream.prompt = None  # its memory is the cache's now
            stream.put((token, latent))
        self._leave_finished()
        if not self._active:
            return
        self.step_sizes.append(len(self._active))
        began = time.perf_counter()
        made = decoder.step()
        self.step_seconds.append(time.perf_counter() - began)
        for stream, item in zip(list(self._active), made, strict=True):
            stream.put(item)
        self._leave_finished()

    def _leave_finished(self) -> None:
        for index in reversed(range(len(self._active))):
            stream = self._active[index]
            if self.decoder.slots[index].finished or not stream.wanted:
                self.decoder.leave(index)
                last = self._active.pop()
                if index < len(self._active):
                    self._active[index] = last
                stream.put(None)

    def _fail(self, joining: list[DecodeStream], error: BaseException) -> None:
        with self._lock:
            everyone = list(dict.fromkeys([*self._active, *joining]))  # each told once
            self._active = []
        while self.decoder.slots:
            self.decoder.leave(len(self.decoder.slots) - 1)
        if isinstance(error, torch.cuda.OutOfMemoryError):
            torch.cuda.empty_cache()
        for stream in everyone:
            stream.put(error)
