"""Text that arrives while it is spoken, through a real daemon heard at PulseAudio's monitor:
a program writing an answer word by word into ``readaloud say -``, and a WebSocket client
(the ``websockets`` library) on /v1/stream. Speech starts once the first sentence is complete,
long before the input ends, and every word is heard once, in order. Bad input gets a clear
error and what came before it is still spoken; the daemon keeps answering."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from support import signal as sig
from support.daemon import DaemonProcess, Events
from support.pulse import PulseServer
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from readaloud.bench.streaming import StreamClient, streaming, words_lost, write_words

pytestmark = pytest.mark.sound

RATE = 22050
ANSWER = (
    "The storm passed in the night.",
    "By morning the streets were quiet again, and the first buses were running.",
    "Schools opened an hour late.",
    "The river stayed high for two more days, but it did not reach the houses.",
)
IDLE_S = 3

# A program that prints an answer as an LLM client does: a word at a time, 20 words a second,
# and says (on stderr, wall clock) when it wrote the first sentence's last word and the last.
WRITER = r"""
import sys, time
sentences = SENTENCES
first = True
for number, sentence in enumerate(sentences):
    for word in sentence.split(" "):
        sys.stdout.write(word if first else " " + word)
        sys.stdout.flush()
        first = False
        time.sleep(0.05)
    sys.stderr.write(f"sentence {number} {time.time()}\n")
    sys.stderr.flush()
"""


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer):
    process = DaemonProcess(pulse.env, config_text=f"[stream]\nidle_s = {IDLE_S}\n")
    process.start()
    yield process
    process.close()


@pytest.fixture(autouse=True)
def quiet_after(daemon: DaemonProcess):
    yield
    daemon.post("/v1/stop")


def sound_times(cap, threshold: float = 0.02) -> tuple[float, float]:
    """Wall-clock times of the first and the last loud sample of a capture."""
    samples = cap.samples()
    loud = (abs(samples) > threshold).nonzero()[0]
    assert len(loud), "nothing was heard"
    return cap.wall_time_at(loud[0]), cap.wall_time_at(loud[-1])


def assert_heard_as_it_came(first_sound: float, sentence_ends: list[float]) -> None:
    # Not before the first sentence was complete (it is too short to be cut), and well before
    # the input ended: the answer is heard while it is written.
    assert first_sound > sentence_ends[0], (first_sound, sentence_ends)
    assert first_sound - sentence_ends[0] < 1.5, (first_sound, sentence_ends)
    assert first_sound < sentence_ends[-1] - 1.0, (first_sound, sentence_ends)


def test_a_program_writing_word_by_word_into_say_is_heard_as_it_writes(
    daemon: DaemonProcess, pulse: PulseServer
) -> None:
    events = Events(daemon)
    env = {**daemon.env}
    writer = WRITER.replace("SENTENCES", repr(ANSWER))
    with pulse.capture(RATE) as cap:
        say = subprocess.Popen(
            [sys.executable, "-m", "readaloud", "say", "--wait", "-"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        time.sleep(1.0)  # the command has started and connected: it waits for its input
        producer = subprocess.Popen(
            [sys.executable, "-c", writer], stdout=say.stdin, stderr=subprocess.PIPE
        )
        assert say.stdin is not None
        say.stdin.close()  # the producer holds the pipe now; its end is the input's end
        written = producer.communicate(timeout=60)[1].decode()
        code = say.wait(timeout=60)
    assert code == 0, say.stderr.read().decode() if say.stderr else ""
    ends = [float(line.split()[2]) for line in written.splitlines()]
    first_sound, _ = sound_times(cap)
    assert_heard_as_it_came(first_sound, ends)
    heard = [e["text"] for e in events.items if e["type"] == "segment_start"]
    assert words_lost(ANSWER, heard) == 0 and heard == list(ANSWER), heard
    ended = [e for e in events.items if e["type"] == "utterance_end"]
    assert len(ended) == 1 and ended[0]["completed"] is True


def written_slowly(*pieces: bytes, gap_s: float = 0.5) -> str:
    """A program that writes ``pieces`` with a pause between them (a program still working)."""
    return (
        "import sys, time\n"
        f"for piece in {pieces!r}:\n"
        "    sys.stdout.buffer.write(piece); sys.stdout.flush(); time.sleep(" + str(gap_s) + ")\n"
    )


def test_in_this_process_too_say_speaks_as_the_input_comes(pulse: PulseServer) -> None:
    writer = written_slowly(b"The first part is here.", b" A second part follows later.", gap_s=5)
    with pulse.capture(RATE) as cap:
        began = time.time()
        producer = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE)
        say = subprocess.run(
            [sys.executable, "-m", "readaloud", "say", "--local", "-"],
            stdin=producer.stdout,
            capture_output=True,
            env={**daemon_free_env(), **pulse.env},
            timeout=60,
        )
        producer.wait(10)
    assert say.returncode == 0, say.stderr.decode()
    first_sound, last_sound = sound_times(cap)
    # The first part was heard before the second was written (5 s after it; this process
    # starts and loads its voice in 1-2 s).
    assert first_sound < began + 5, first_sound - began
    assert last_sound > began + 5


def daemon_free_env() -> dict[str, str]:
    import os
    import tempfile

    return {**os.environ, "XDG_RUNTIME_DIR": tempfile.mkdtemp(prefix="readaloud-no-daemon-")}


def test_input_that_turns_bad_midway_is_one_clear_line_and_what_came_is_spoken(
    daemon: DaemonProcess,
) -> None:
    events = Events(daemon)
    writer = written_slowly(b"A good sentence comes first.", b" then caf\xe9 in latin-1")
    producer = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE)
    say = subprocess.run(
        [sys.executable, "-m", "readaloud", "say", "-"],
        stdin=producer.stdout,
        capture_output=True,
        env=daemon.env,
        timeout=60,
    )
    producer.wait(10)
    lines = say.stderr.decode().strip().splitlines()
    assert say.returncode == 2 and len(lines) == 1 and "not UTF-8" in lines[0], lines
    ended = events.wait_for(lambda e: e["type"] == "utterance_end")
    heard = [e["text"] for e in events.items if e["type"] == "segment_start"]
    assert heard[0] == "A good sentence comes first." and ended["completed"] is True


def test_a_websocket_client_is_heard_as_it_writes_with_its_events(
    daemon: DaemonProcess, pulse: PulseServer
) -> None:
    with pulse.capture(RATE) as cap, streaming(daemon) as client:
        ends = write_words(client, ANSWER, 20)
        client.end()
        assert client.wait_for("input_end")["characters"] == len(" ".join(ANSWER))
        ended = client.wait_for("utterance_end", 60)
        assert client.closed.wait(5) and client.socket.close_code == 1000
    first_sound, last_sound = sound_times(cap)
    assert_heard_as_it_came(first_sound, ends)
    assert ended["completed"] is True
    # The same events /v1/events sends, for this utterance only, offsets into the whole text.
    text = " ".join(ANSWER)
    segments = [e for e in client.events if e["type"] == "segment_start"]
    assert [text[e["start"] : e["end"]] for e in segments] == list(ANSWER)
    words = [e for e in client.events if e["type"] == "word"]
    assert [text[e["start"] : e["end"]] for e in words] == text.split(" ")
    assert all(e["id"] == client.id for e in segments + words)
    # Each word event came as the word was heard, not when it was made.
    assert first_sound - 0.3 < words[0]["seen"] < first_sound + 0.3
    assert last_sound - 1.5 < words[-1]["seen"] < last_sound


def test_a_character_split_between_frames_is_read_whole(daemon: DaemonProcess) -> None:
    with streaming(daemon, {"flush_s": 0.2}) as client:
        for byte in "Crème brûlée for the café.".encode():
            client.send(bytes([byte]))
        client.end()
        client.wait_for("utterance_end", 30)
    assert client.heard() == ["Crème brûlée for the café."]


@pytest.mark.parametrize(
    ("piece", "close_code", "says"),
    [
        pytest.param(b"and then \xff\xfe garbage", 1007, "not UTF-8", id="not-utf8"),
        pytest.param(b"and then \xc3", None, None, id="cut-off-character-at-the-end"),
        pytest.param({"type": "text", "text": "x" * 70_000}, 1009, "64 KB", id="too-big"),
        pytest.param({"type": "shout", "text": "hi"}, 1007, "Unknown message", id="unknown"),
        pytest.param(b"a\x00b", 1007, "NUL", id="nul"),
    ],
)
def test_bad_input_is_refused_and_what_came_before_is_spoken(
    daemon: DaemonProcess, piece: bytes | dict, close_code: int | None, says: str | None
) -> None:
    with streaming(daemon) as client:
        client.text("What came first is kept. ")
        client.send(piece)
        if close_code is None:
            client.end()  # a character cut off at the very end is left out, the rest read
        ended = client.wait_for("utterance_end", 30)
        assert client.closed.wait(5)
    errors = [e for e in client.events if e["type"] == "error"]
    if says is None:
        assert errors == [] and client.socket.close_code == 1000
    else:
        assert len(errors) == 1 and says in errors[0]["message"], errors
        assert client.socket.close_code == close_code
    assert ended["completed"] is True
    assert client.heard()[0] == "What came first is kept."
    assert daemon.get("/v1/status").json()["state"] in ("idle", "speaking")


def test_a_client_that_vanishes_mid_sentence_is_spoken_to_its_last_word(
    daemon: DaemonProcess,
) -> None:
    events = Events(daemon)
    client = StreamClient(daemon)
    client.text("Half of a sentence that")
    time.sleep(0.1)
    client.socket.socket.shutdown(socket.SHUT_RDWR)  # gone: no close frame, no end
    ended = events.wait_for(lambda e: e["type"] == "utterance_end" and e["id"] == client.id)
    heard = [e["text"] for e in events.items if e["type"] == "segment_start"]
    assert ended["completed"] is True and heard == ["Half of a sentence that"]
    assert daemon.http.get("/healthz").status_code == 200


def test_a_client_that_never_ends_is_ended_after_the_idle_time(daemon: DaemonProcess) -> None:
    with streaming(daemon) as client:
        client.text("Waiting for more.")
        began = time.monotonic()
        error = client.wait_for("error", IDLE_S + 10)
        assert IDLE_S - 0.5 < time.monotonic() - began < IDLE_S + 5
        assert "No text came" in error["message"]
        assert client.wait_for("utterance_end")["completed"] is True
    assert client.heard() == ["Waiting for more."]


def test_ten_thousand_one_character_pieces_a_second_lose_nothing(
    daemon: DaemonProcess,
) -> None:
    text = " ".join(f"Line {n} of a flood of tiny pieces." for n in range(1, 60))
    with streaming(daemon) as client:
        began = time.monotonic()
        for character in text:
            client.text(character)
        sent_in = time.monotonic() - began
        # The daemon keeps answering while it takes them all.
        answered = time.monotonic()
        assert daemon.get("/v1/status").json()["state"] == "speaking"
        assert time.monotonic() - answered < 1.0
        client.end()
        client.wait_for("input_end", 30)
        daemon.post("/v1/skip", {"count": 1000})  # the rest is not needed to be heard
        client.wait_for("utterance_end", 30)
    print(f"\n{len(text)} one-character pieces in {sent_in:.2f} s: {len(text) / sent_in:.0f}/s")
    assert len(text) / sent_in > 2000  # the client's own speed bounds it
    assert client.wait_for("input_end")["characters"] == len(text)


def test_stop_ends_the_stream_at_once_and_drops_the_rest(
    daemon: DaemonProcess, pulse: PulseServer
) -> None:
    with pulse.capture(RATE) as cap, streaming(daemon) as client:
        client.text("This sentence is spoken for a good while, long enough to stop it. ")
        client.wait_for("segment_start")
        time.sleep(0.3)
        stopped_at = time.time()
        client.send({"type": "stop"})
        ended = client.wait_for("utterance_end", 10)
        time.sleep(0.3)
    assert ended["completed"] is False
    samples = cap.samples()
    after = samples[cap.index_at(stopped_at + 0.15) :]
    assert sig.first_sound_index(after) is None, "still heard 150 ms after the stop"
    assert client.closed.wait(5)


def test_a_new_stream_interrupts_the_one_speaking(daemon: DaemonProcess) -> None:
    with streaming(daemon) as first:
        first.text("The first stream speaks a long sentence that goes on and on for a while. ")
        first.wait_for("segment_start")
        with streaming(daemon) as second:
            assert first.wait_for("utterance_end", 10)["completed"] is False
            assert first.closed.wait(5)
            second.text("The second one is heard.")
            second.end()
            assert second.wait_for("utterance_end", 30)["completed"] is True
    assert second.heard() == ["The second one is heard."]


def test_keep_up_line_mode_says_how_many_lines_were_skipped(daemon: DaemonProcess) -> None:
    with streaming(daemon, {"lines": True, "keep_up": True}) as client:
        client.text("build started, fetching the sources and the dependencies\n")
        client.wait_for("segment_start")
        client.text("".join(f"compiled module {n}\n" for n in range(1, 21)))
        client.end()
        client.wait_for("utterance_end", 30)
    heard = client.heard()
    assert heard[0] == "build started, fetching the sources and the dependencies"
    assert heard[-1] == "compiled module 20"
    assert heard[1:-1] == ["19 lines skipped."]


def test_the_token_is_needed_and_never_in_the_url(daemon: DaemonProcess) -> None:
    with connect(f"ws://127.0.0.1:{daemon.port}/v1/stream") as anonymous:
        anonymous.send(json.dumps({"type": "start"}))
        refusal = json.loads(anonymous.recv(timeout=10))
    assert refusal["code"] == "unauthorized" and "readaloud token" in refusal["message"]
    assert anonymous.close_code == 1008
    with connect(f"ws://127.0.0.1:{daemon.port}/v1/stream?token={daemon.token}") as in_url:
        in_url.send(json.dumps({"type": "start"}))
        assert json.loads(in_url.recv(timeout=10))["code"] == "unauthorized"
    # The token as the first message works (for clients that cannot set subprotocols).
    with connect(f"ws://127.0.0.1:{daemon.port}/v1/stream") as first_message:
        first_message.send(json.dumps({"type": "auth", "token": daemon.token}))
        first_message.send(json.dumps({"type": "start", "rate": 1.2}))
        assert json.loads(first_message.recv(timeout=10))["type"] == "accepted"
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_a_foreign_origin_is_refused_even_with_the_token(daemon: DaemonProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"ws://127.0.0.1:{daemon.port}/v1/stream",
            origin="http://attacker.example",  # type: ignore[arg-type]
            subprotocols=["readaloud", f"readaloud.token.{daemon.token}"],  # type: ignore[list-item]
        )
    assert refused.value.response.status_code == 403
    assert daemon.get("/v1/status").json()["state"] == "idle"


def test_a_bad_start_message_says_what_is_wrong(daemon: DaemonProcess) -> None:
    with connect(
        f"ws://127.0.0.1:{daemon.port}/v1/stream",
        subprotocols=["readaloud", f"readaloud.token.{daemon.token}"],  # type: ignore[list-item]
    ) as ws:
        ws.send(json.dumps({"type": "start", "rate": 9, "colour": "red"}))
        error = json.loads(ws.recv(timeout=10))
    assert error["type"] == "error" and "rate" in error["message"] and "colour" in error["message"]


def test_a_client_that_plays_the_audio_itself_gets_pcm_and_the_daemon_stays_silent(
    daemon: DaemonProcess, pulse: PulseServer
) -> None:
    frames: list[bytes] = []
    with (
        pulse.capture(RATE) as cap,
        connect(
            f"ws://127.0.0.1:{daemon.port}/v1/stream",
            subprotocols=["readaloud", f"readaloud.token.{daemon.token}"],  # type: ignore[list-item]
        ) as ws,
    ):
        ws.send(json.dumps({"type": "start", "audio": "pcm"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "accepted"
        audio_format = json.loads(ws.recv(timeout=10))
        for sentence in ANSWER[:2]:
            ws.send(json.dumps({"type": "text", "text": sentence + " "}))
        ws.send(json.dumps({"type": "end"}))
        events = []
        for message in ws:
            if isinstance(message, bytes):
                frames.append(message)
            else:
                events.append(json.loads(message))
    assert audio_format == {
        "type": "audio_format",
        "format": "pcm_s16le",
        "sample_rate": 24000,
        "channels": 1,
    }
    assert [e["text"] for e in events if e["type"] == "segment_start"] == list(ANSWER[:2])
    assert events[-1]["type"] == "utterance_end" and events[-1]["completed"] is True
    samples = np.frombuffer(b"".join(frames), dtype="<i2").astype(np.float32) / 32768
    assert 3.0 < sig.sound_duration(samples, 24000) < 12.0  # two sentences of speech
    assert sig.first_sound_index(cap.samples()) is None, "the daemon played it as well"


def test_stop_ends_a_pcm_stream_at_once(daemon: DaemonProcess) -> None:
    with connect(
        f"ws://127.0.0.1:{daemon.port}/v1/stream",
        subprotocols=["readaloud", f"readaloud.token.{daemon.token}"],  # type: ignore[list-item]
    ) as ws:
        ws.send(json.dumps({"type": "start", "audio": "pcm"}))
        ws.recv(timeout=10), ws.recv(timeout=10)  # accepted, audio_format
        ws.send(json.dumps({"type": "text", "text": " ".join(ANSWER * 5)}))
        while not isinstance(ws.recv(timeout=10), bytes):
            pass
        ws.send(json.dumps({"type": "stop"}))
        stopped = time.monotonic()
        ended = None
        for message in ws:
            if isinstance(message, str) and json.loads(message)["type"] == "utterance_end":
                ended = json.loads(message)
    assert ended is not None and ended["completed"] is False
    assert time.monotonic() - stopped < 2.0


ALLOWED_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><script>
const ws = new WebSocket("ws://127.0.0.1:DAEMON_PORT/v1/stream",
                         ["readaloud", "readaloud.token.TOKEN"]);
const seen = [];
ws.onopen = () => {
  ws.send(JSON.stringify({type: "start"}));
  for (const word of "A page that is allowed speaks.".split(" ")) {
    ws.send(JSON.stringify({type: "text", text: word + " "}));
  }
  ws.send(JSON.stringify({type: "end"}));
};
ws.onmessage = event => seen.push(JSON.parse(event.data).type);
ws.onerror = () => seen.push("error event");
ws.onclose = event => fetch("/report", {method: "POST",
  body: JSON.stringify({protocol: ws.protocol, seen: seen, code: event.code})});
</script></body></html>"""


def test_a_page_from_an_allowed_origin_streams_in_chromium(pulse: PulseServer) -> None:
    """The other side of the Origin check: the same page, from an origin the user allowed, is
    let in by the same daemon code (so the refusal in the attack test is the Origin's doing)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Event, Thread

    from support.chromium import browsing

    report: dict = {}
    reported = Event()
    page = {"html": b""}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page["html"])))
            self.end_headers()
            self.wfile.write(page["html"])

        def do_POST(self) -> None:  # noqa: N802
            report.update(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            reported.set()
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    allowed = DaemonProcess(pulse.env, config_text=f'[server]\nallowed_origins = ["{origin}"]\n')
    allowed.start()
    try:
        page["html"] = (
            ALLOWED_PAGE.replace("DAEMON_PORT", str(allowed.port))
            .replace("TOKEN", allowed.token)
            .encode()
        )
        with browsing(origin + "/"):
            assert reported.wait(60), "the page never reported"
    finally:
        allowed.close()
        server.shutdown()
        server.server_close()
    assert report["protocol"] == "readaloud"  # the token's subprotocol is never echoed
    assert report["seen"][0] == "accepted" and "segment_start" in report["seen"], report
    assert report["seen"][-1] == "utterance_end" and report["code"] == 1000, report
