"""The streamed-text figures of ``readaloud bench``: an answer written word by word into the
WebSocket /v1/stream, as an LLM client prints it, against the same first sentence sent whole.

* first sound after the first sentence's last character was sent, against the first sound of
  that sentence sent whole to /v1/speak, in the same run (target: at most 1.1 times);
* words lost: words of the answer that no heard sentence holds (target 0).
The tests use the same client (``StreamClient``) and the same count of lost words.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from readaloud.bench.harness import DaemonProcess
from readaloud.bench.measure import FIRST_SAMPLE, Recorder, first_above, first_sound, summary

#: An answer with a first sentence short enough to be synthesized whole (no first fragment cut)
#: and too long for the cache of short utterances, so both ways make it afresh.
ANSWER = (
    "Floodwater reached the lower streets overnight.",
    "By morning the whole village had moved up the hill to wait, with blankets and bread.",
    "Nobody was hurt, and the water went down two days later.",
)
WORDS_PER_S = 20.0
_WORD = re.compile(r"\w+")


class StreamClient:
    """One WebSocket /v1/stream with the token in its subprotocol; events gathered as they come
    (each with ``"seen"``, on the wall clock)."""

    def __init__(self, daemon: DaemonProcess, start: dict[str, Any] | None = None) -> None:
        self.socket: ClientConnection = connect(
            f"ws://127.0.0.1:{daemon.port}/v1/stream",
            subprotocols=["readaloud", f"readaloud.token.{daemon.token}"],  # type: ignore[list-item]
            open_timeout=10,
        ).__enter__()  # closed by close()
        self.events: list[dict[str, Any]] = []
        self.closed = threading.Event()
        self.socket.send(json.dumps({"type": "start", **(start or {})}))
        accepted = json.loads(self.socket.recv(timeout=10))
        if accepted.get("type") != "accepted":
            raise RuntimeError(f"the daemon refused the stream: {accepted}")
        self.id: str = accepted["id"]
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        try:
            for raw in self.socket:
                if isinstance(raw, str):
                    self.events.append({**json.loads(raw), "seen": time.time()})
        except Exception:  # the connection ended: the tests look at how
            pass
        finally:
            self.closed.set()

    def text(self, piece: str) -> None:
        self.socket.send(json.dumps({"type": "text", "text": piece}))

    def send(self, message: dict[str, Any] | bytes) -> None:
        self.socket.send(message if isinstance(message, bytes) else json.dumps(message))

    def end(self) -> None:
        self.send({"type": "end"})

    def wait_for(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if event["type"] == kind:
                    return event
            time.sleep(0.01)
        raise TimeoutError(f"no {kind} event in {self.events}")

    def heard(self) -> list[str]:
        """The segments heard, in order."""
        return [e["text"] for e in self.events if e["type"] == "segment_start"]

    def close(self) -> None:
        self.socket.close()


@contextmanager
def streaming(daemon: DaemonProcess, start: dict[str, Any] | None = None) -> Iterator[StreamClient]:
    client = StreamClient(daemon, start)
    try:
        yield client
    finally:
        client.close()


def write_words(client: StreamClient, sentences: Sequence[str], words_per_s: float) -> list[float]:
    """Send the sentences word by word (each word with the space before it), ``words_per_s``;
    returns when (wall clock) the last word of each sentence was sent."""
    ends = []
    first = True
    for sentence in sentences:
        for word in sentence.split(" "):
            client.text(word if first else " " + word)
            first = False
            time.sleep(1.0 / words_per_s)
        ends.append(time.time() - 1.0 / words_per_s)
    return ends


def words_lost(sentences: Sequence[str], heard: Sequence[str]) -> int:
    """Words of ``sentences`` not found, in order, in the ``heard`` segments."""
    sent = _WORD.findall(" ".join(sentences))
    said = _WORD.findall(" ".join(heard))
    matcher = difflib.SequenceMatcher(None, sent, said, autojunk=False)
    return len(sent) - sum(block.size for block in matcher.get_matching_blocks())


def streamed_first_sound(
    daemon: DaemonProcess, recorder: Recorder, sentences: Sequence[str], words_per_s: float
) -> tuple[float | None, int]:
    """(ms from the first sentence's last character sent to the first sound, words lost)."""
    with recorder.capture() as cap, streaming(daemon) as client:
        time.sleep(0.1)
        ends = write_words(client, sentences, words_per_s)
        client.end()
        client.wait_for("utterance_end", 60)
    samples = cap.samples()
    start = max(0, round((ends[0] - 1.0 - cap.wall_time_at(0)) * cap.rate))
    index = first_above(samples, FIRST_SAMPLE, start)
    after = None if index is None else (cap.wall_time_at(index) - ends[0]) * 1000
    return after, words_lost(sentences, client.heard())


def run(daemon: DaemonProcess, recorder: Recorder, runs: int) -> dict:
    whole = first_sound(daemon, recorder, ANSWER[0], runs)["total_ms"]
    streamed: list[float] = []
    lost = 0
    for _ in range(runs):
        daemon.post("/v1/stop")
        daemon.wait_state("idle", 10)
        after, missing = streamed_first_sound(daemon, recorder, ANSWER, WORDS_PER_S)
        lost += missing
        if after is not None:
            streamed.append(after)
    result = summary(streamed)
    ratio = round(result["median"] / whole["median"], 3) if result and whole.get("median") else None
    return {
        "text": list(ANSWER),
        "words_per_s": WORDS_PER_S,
        "first_sound_after_sentence_ms": result,
        "whole_sentence_first_sound_ms": whole,
        "ratio_vs_whole": ratio,
        "words_lost": lost,
        "words_sent": runs * len(_WORD.findall(" ".join(ANSWER))),
    }
