"""The OpenAI-compatible speech API of a real daemon, spoken to with the official ``openai`` client
(what Open WebUI and many tools use), the audio decoded with real decoders."""

from __future__ import annotations

import base64
import io
import json
import os
import time

import av
import openai
import pytest
import soundfile
from support.daemon import DaemonProcess
from support.pulse import PulseServer

pytestmark = pytest.mark.sound

PCM_RATE = 24_000
SENTENCE = "Reading aloud helps people who cannot see the screen."
LONG = " ".join(
    f"Sentence {n} of a long text that keeps the speech engine busy for a while."
    for n in range(1, 13)
)


@pytest.fixture(scope="module")
def daemon(pulse: PulseServer):
    process = DaemonProcess(pulse.env)
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def client(daemon: DaemonProcess) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"http://127.0.0.1:{daemon.port}/v1", api_key=daemon.token, max_retries=0
    )


@pytest.fixture(scope="module")
def pcm_seconds(client: openai.OpenAI) -> float:
    """How long SENTENCE lasts, from the headerless format (its length is its duration)."""
    data = client.audio.speech.create(
        model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm"
    ).content
    assert len(data) % 2 == 0
    return len(data) / 2 / PCM_RATE


def decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_pcm_lasts_as_long_as_the_sentence_takes_to_say(pcm_seconds: float) -> None:
    # 53 characters at a natural pace: roughly 3 seconds.
    assert 1.8 < pcm_seconds < 5.0


@pytest.mark.parametrize(
    ("response_format", "content_type"),
    [
        ("mp3", "audio/mpeg"),
        ("opus", "audio/ogg"),
        ("aac", "audio/aac"),
        ("flac", "audio/flac"),
        ("wav", "audio/wav"),
    ],
)
def test_each_format_decodes_to_the_spoken_duration(
    client: openai.OpenAI, pcm_seconds: float, response_format: str, content_type: str
) -> None:
    response = client.audio.speech.create(
        model="tts-1", voice="alloy", input=SENTENCE, response_format=response_format
    )
    assert response.response.headers["content-type"].startswith(content_type)
    # Piper samples its prosody, so the same sentence varies a little between requests; codecs
    # add up to a frame plus their encoder delay.
    assert decoded_seconds(response.content) == pytest.approx(pcm_seconds, rel=0.1, abs=0.1)


def test_mp3_is_the_default_and_wav_reads_with_libsndfile(client: openai.OpenAI) -> None:
    default = client.audio.speech.create(model="tts-1", voice="nova", input=SENTENCE)
    assert default.response.headers["content-type"] == "audio/mpeg"
    assert decoded_seconds(default.content) > 1.5
    wav = client.audio.speech.create(
        model="tts-1", voice="nova", input=SENTENCE, response_format="wav"
    ).content
    samples, rate = soundfile.read(io.BytesIO(wav))
    assert rate == PCM_RATE and len(samples) / rate > 1.5


def test_audio_streams_while_the_rest_is_synthesized(client: openai.OpenAI) -> None:
    began = time.monotonic()
    first = None
    size = 0
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=LONG, response_format="mp3"
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        for data in response.iter_bytes():
            if first is None and data:
                first = time.monotonic() - began
            size += len(data)
    total = time.monotonic() - began
    print(f"\nmp3 stream of {len(LONG)} characters: first bytes {first:.3f} s, all {total:.3f} s")
    assert first is not None and size > 0
    # The first bytes follow the first fragment, not the whole text.
    assert first < 1.5
    assert first < total / 4


def test_sse_sends_base64_deltas_then_done(client: openai.OpenAI, pcm_seconds: float) -> None:
    events = []
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="alloy",
        input=SENTENCE,
        response_format="pcm",
        stream_format="sse",
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert deltas and events[-1]["type"] == "speech.audio.done"
    assert "usage" in events[-1]
    pcm = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert len(pcm) / 2 / PCM_RATE == pytest.approx(pcm_seconds, rel=0.1, abs=0.1)


def test_voices_by_openai_name_native_id_or_object(client: openai.OpenAI) -> None:
    for voice in ("shimmer", "en_US-joe-medium", {"id": "en_US-joe-medium"}):
        data = client.audio.speech.create(
            model="tts-1-hd",
            voice=voice,  # type: ignore[arg-type]
            input="Hello.",
            response_format="pcm",
            instructions="Speak cheerfully.",  # accepted, ignored
            extra_body={"language": "en"},
        ).content
        assert 0.3 < len(data) / 2 / PCM_RATE < 3.0


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"voice": "grandma"}, "Unknown voice 'grandma'"),
        ({"voice": "../../etc/passwd"}, "Unknown voice"),
        ({"speed": 4.5}, "speed"),
        ({"speed": 0.1}, "speed"),
        ({"response_format": "ogg"}, "response_format"),
        ({"stream_format": "websocket"}, "stream_format"),
        ({"input": "x" * 4097}, "input"),
        ({"input": "   "}, "no text"),
        ({"extra_body": {"language": "not a language"}}, "language"),
    ],
)
def test_bad_fields_get_openai_errors(client: openai.OpenAI, fields: dict, said: str) -> None:
    request = {"model": "tts-1", "voice": "alloy", "input": "Hello.", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(**request)
    assert caught.value.status_code == 400
    assert said in caught.value.message
    assert isinstance(caught.value.body, dict) and said in caught.value.body["message"]


def test_a_wrong_key_is_refused(daemon: DaemonProcess) -> None:
    stranger = openai.OpenAI(
        base_url=f"http://127.0.0.1:{daemon.port}/v1", api_key="not-the-token", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError, match="token"):
        stranger.audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_models_are_listed(client: openai.OpenAI, daemon: DaemonProcess) -> None:
    ids = [model.id for model in client.models.list()]
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "readaloud"} <= set(ids)
    assert client.models.retrieve("tts-1").owned_by == "readaloud"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("whisper-1")
    # Read Aloud tests a custom server with GET {url}/models, whether or not the url has /v1.
    bare = daemon.get("/models")
    assert bare.status_code == 200 and bare.json()["data"][0]["object"] == "model"


def test_voices_are_listed(daemon: DaemonProcess) -> None:
    listed = daemon.get("/v1/audio/voices").json()["voices"]
    by_id = {v["id"]: v for v in listed}
    assert {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    } <= set(by_id)
    assert by_id["alloy"]["speaks_with"] is None  # nothing configured: the engine's default
    assert by_id["en_US-joe-medium"]["languages"] == ["en"]
    assert all(v["name"] for v in listed)


def test_a_client_that_hangs_up_stops_its_synthesis(
    client: openai.OpenAI, daemon: DaemonProcess
) -> None:
    pid = daemon.process.pid
    text = LONG + " " + LONG
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=text, response_format="pcm"
    ) as response:
        chunks = response.iter_bytes()
        next(chunks)
        busy_from = cpu_seconds(pid)
        deadline = time.monotonic() + 1.0
        for _ in chunks:  # keep reading: the engine keeps working
            if time.monotonic() > deadline:
                break
        busy = cpu_seconds(pid) - busy_from
    # Hung up with most of the text unsaid. The sentence in the engine's hands is finished
    # (engines check for cancellation between chunks), nothing after it.
    time.sleep(1.5)
    idle_from = cpu_seconds(pid)
    time.sleep(1.0)
    idle = cpu_seconds(pid) - idle_from
    print(f"\ndaemon CPU: {busy:.2f} s per second while streaming, {idle:.2f} s after hang-up")
    assert busy > 0.1
    assert idle < 0.06
    # And the daemon still answers.
    assert client.audio.speech.create(
        model="tts-1", voice="alloy", input="Still here.", response_format="pcm"
    ).content
