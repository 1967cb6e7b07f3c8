"""An engine that speaks through another machine's OpenAI-compatible speech endpoint, so a
household or office can share one GPU box (another readaloud, or any compatible server).

It asks for streamed ``pcm`` (24 kHz, 16-bit mono) and yields a chunk about every 100 ms of audio
as the bytes arrive. When the remote is down, answers with an error, or sends no audio within
``first_byte_timeout_s``, it raises EngineError at once, so the routing engine
(engines/routing.py) lets the local engine speak instead.

The HTTP exchange runs on a thread of its own: waiting for the remote never blocks a stop, and
a stalled connection is abandoned, not waited for.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx2
import numpy as np

from readaloud.engines.base import AudioChunk, SynthesisRequest, Voice
from readaloud.engines.languages import base_language
from readaloud.errors import EngineError, UnknownVoice, UnsupportedLanguage

log = logging.getLogger(__name__)

#: OpenAI's ``pcm`` response format: 24 kHz signed 16-bit little-endian mono.
SAMPLE_RATE = 24_000
_BYTES_PER_SAMPLE = 2
#: Audio handed on per chunk, and a tail always held back so the last chunk (the one that
#: claims the whole text span) is never empty.
_CHUNK_S = 0.1
_TAIL_S = 0.01
#: Voice sent when neither the request nor the config names one (every OpenAI server has it).
FALLBACK_VOICE = "alloy"

_END = object()


class RemoteUnavailable(EngineError):
    """The remote is down, unreachable or too slow (as opposed to refusing one request)."""


class RemoteEngine:
    name = "remote"

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        voice: str | None = None,
        timeout_s: float = 30.0,
        first_byte_timeout_s: float = 3.0,
        *,
        retry_after_s: float = 30.0,
        model: str = "tts-1",
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        """``base_url`` is the API root as the ``openai`` client takes it (``http://box:7412/v1``);
        ``timeout_s`` bounds each later wait for audio, ``first_byte_timeout_s`` the wait for
        the first audio (a connection that is refused fails at once). After the remote was
        unavailable, requests fail at once for ``retry_after_s``, so each sentence does not
        wait for a dead box again."""
        self.base_url = base_url.rstrip("/")
        self.voice = voice or None
        self.model = model
        self.timeout_s = timeout_s
        self.first_byte_timeout_s = first_byte_timeout_s
        self.retry_after_s = retry_after_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx2.Client(
            headers=headers,
            timeout=httpx2.Timeout(timeout_s, connect=first_byte_timeout_s),
            transport=transport,
        )
        self._voices: list[Voice] | None = None
        self._host = urlsplit(self.base_url).netloc or self.base_url
        self._down_until = 0.0
        self._down_because = ""

    # -- Engine protocol ------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def load(self) -> None:
        """Learn the remote's voices. A remote that is down now is not an error: it may be up
        by the time something is read, and the local engine speaks meanwhile."""
        try:
            self._voices = self._fetch_voices()
        except EngineError as error:
            log.warning("%s", error)

    def voices(self) -> list[Voice]:
        return list(self._voices or [])

    def languages(self) -> list[str]:
        return sorted({code for v in self._voices or [] for code in v.languages})

    def has_voice(self, voice: str) -> bool:
        return any(v.id == voice for v in self._voices or [])

    def default_voice(self) -> str | None:
        return self.voice

    def validate(self, voice: str | None, language: str | None) -> None:
        """Checked against the voice list from ``load`` (no network here: the routing engine
        asks often). Unknown lists accept everything; the remote then has the last word."""
        if language:
            try:
                code = base_language(language)
            except ValueError:
                raise UnsupportedLanguage(
                    f"'{language}' is not a language code; use one like en, de or pt-BR."
                ) from None
            known = self.languages()
            if known and code not in known:
                raise UnsupportedLanguage(
                    f"The remote speech server {self._host} does not speak '{language}' "
                    f"(it speaks: {', '.join(known)})."
                )
        if voice and self._voices and not self.has_voice(voice):
            raise UnknownVoice(
                f"The remote speech server {self._host} has no voice '{voice}'. "
                "Run 'readaloud voices' to list the voices."
            )

    def stream(
        self,
        request: SynthesisRequest,
        cancel: threading.Event,
    ) -> Iterator[AudioChunk]:
        text, voice, language = request.text, request.voice, request.language
        if cancel.is_set():
            return
        if time.monotonic() < self._down_until:
            raise RemoteUnavailable(self._down_because)
        body: dict[str, object] = {
            "model": self.model,
            "input": text,
            "voice": voice or self.voice or FALLBACK_VOICE,
            "response_format": "pcm",
            "speed": request.rate,
        }
        if language:
            body["language"] = language  # readaloud's extension; other servers ignore it
        arrived: queue.Queue[object] = queue.Queue()
        stop = threading.Event()
        threading.Thread(
            target=self._receive, args=(body, arrived, stop), name="readaloud-remote", daemon=True
        ).start()
        try:
            yield from self._chunks(text, arrived, cancel)
        except RemoteUnavailable as error:
            self._down_until = time.monotonic() + self.retry_after_s
            self._down_because = (
                f"{error} Trying it again in {self.retry_after_s:g} s; the local engine speaks."
            )
            raise
        finally:
            stop.set()  # done, failed, cancelled or abandoned: the receiver hangs up

    # -- the exchange ---------------------------------------------------------------------------

    def _chunks(
        self, text: str, arrived: queue.Queue[object], cancel: threading.Event
    ) -> Iterator[AudioChunk]:
        chunk_bytes = int(_CHUNK_S * SAMPLE_RATE) * _BYTES_PER_SAMPLE
        tail_bytes = int(_TAIL_S * SAMPLE_RATE) * _BYTES_PER_SAMPLE
        pending = bytearray()
        deadline = time.monotonic() + self.first_byte_timeout_s
        got_audio = False
        while True:
            if cancel.is_set():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RemoteUnavailable(self._too_slow(got_audio))
            try:
                item = arrived.get(timeout=min(0.05, remaining))  # short: notice cancel soon
            except queue.Empty:
                continue
            if item is _END:
                break
            if isinstance(item, EngineError):
                raise item
            assert isinstance(item, bytes)
            got_audio = got_audio or bool(item)
            deadline = time.monotonic() + self.timeout_s
            pending += item
            while len(pending) - tail_bytes >= chunk_bytes:
                # Only the last chunk claims the text: if the remote fails halfway, the local
                # engine says the whole segment again rather than skipping its second half.
                yield AudioChunk(_samples(pending[:chunk_bytes]), SAMPLE_RATE, 0, 0)
                del pending[:chunk_bytes]
                if cancel.is_set():
                    return
        usable = len(pending) - len(pending) % _BYTES_PER_SAMPLE
        if usable and not cancel.is_set():
            yield AudioChunk(_samples(pending[:usable]), SAMPLE_RATE, 0, len(text))

    def _receive(
        self, body: dict[str, object], arrived: queue.Queue[object], stop: threading.Event
    ) -> None:
        """Runs on its own thread: POST, then pass on each piece of the body as it arrives."""
        url = f"{self.base_url}/audio/speech"
        try:
            with self._client.stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    # A 5xx is the box failing; a 4xx is this one request (or the key).
                    failure = RemoteUnavailable if response.status_code >= 500 else EngineError
                    arrived.put(failure(self._refused(response)))
                    return
                for data in response.iter_bytes():
                    if stop.is_set():
                        return  # leaving the block closes the connection: the remote stops
                    arrived.put(data)
            arrived.put(_END)
        except httpx2.HTTPError as error:
            arrived.put(
                RemoteUnavailable(
                    f"The remote speech server {self._host} cannot be reached "
                    f"({type(error).__name__}: {error or 'no answer'})."
                )
            )

    def _fetch_voices(self) -> list[Voice]:
        """The remote's voices from ``/audio/voices`` (readaloud, Open WebUI's shape)."""
        try:
            response = self._client.get(
                f"{self.base_url}/audio/voices", timeout=self.first_byte_timeout_s
            )
        except httpx2.HTTPError as error:
            raise EngineError(
                f"The remote speech server {self._host} cannot be reached "
                f"({type(error).__name__}); the local engine speaks until it can."
            ) from None
        if response.status_code == 404:
            return []  # a server without a voice list (OpenAI itself): any voice may work
        if response.status_code >= 400:
            raise EngineError(self._refused(response))
        try:
            listed = response.json().get("voices", [])
        except (ValueError, AttributeError):
            return []
        voices = []
        for item in listed:
            if isinstance(item, str):
                item = {"id": item}
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            languages = tuple(str(code) for code in item.get("languages") or ())
            description = str(item.get("name") or "")
            voices.append(Voice(item["id"], self.name, languages, f"{description} on {self._host}"))
        return voices

    # -- messages -------------------------------------------------------------------------------

    def _too_slow(self, got_audio: bool) -> str:
        if got_audio:
            return (
                f"The remote speech server {self._host} stopped sending audio for "
                f"{self.timeout_s:g} s."
            )
        return (
            f"The remote speech server {self._host} sent no audio within "
            f"{self.first_byte_timeout_s:g} s."
        )

    def _refused(self, response: httpx2.Response) -> str:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200] or response.reason_phrase
        if response.status_code == 401:
            message += " Set the remote's token as the remote engine's api key."
        return f"The remote speech server {self._host} answered {response.status_code}: {message}"

    def close(self) -> None:
        self._client.close()


def _samples(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float32) / 32768.0
