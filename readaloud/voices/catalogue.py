"""The Piper voice catalogue: ``voices.json`` of the Piper voices repository (rhasspy/piper-voices
on Hugging Face, or any server with its layout at ``[voices] piper_url``).

Each entry names a voice (``de_DE-thorsten-medium``), its language and quality, and its files by
path (``de/de_DE/thorsten/medium/de_DE-thorsten-medium.onnx``) with their size and MD5. The last
catalogue fetched is kept in the cache folder, so ``voice search`` and ``voice list`` work offline.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from readaloud import __version__
from readaloud.engines.languages import base_language
from readaloud.errors import BadInput, DownloadFailed

#: Which of a language's voices ``voice download LANG`` picks first.
QUALITY_ORDER = ("medium", "high", "low", "x_low")
TIMEOUT_S = 30.0
#: A server that cannot be reached is said so after this long, not after the whole timeout.
CONNECT_TIMEOUT_S = 5.0
USER_AGENT = f"readaloud/{__version__}"


@dataclass(frozen=True)
class VoiceFile:
    path: str  # relative to the repository's root
    size: int
    md5: str


@dataclass(frozen=True)
class CatalogueVoice:
    key: str  # de_DE-thorsten-medium
    language: str  # de_DE
    family: str  # de
    language_name: str  # German
    native_name: str  # Deutsch
    region: str  # Germany
    quality: str
    speakers: int
    model: VoiceFile
    config: VoiceFile
    aliases: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return self.model.size + self.config.size

    def describe(self) -> str:
        region = f", {self.region}" if self.region else ""
        speakers = f", {self.speakers} speakers" if self.speakers > 1 else ""
        return (
            f"{self.key}\t{self.language_name}{region} ({self.native_name}), {self.quality}"
            f"{speakers}, {self.size / 1e6:.0f} MB"
        )


class Catalogue:
    def __init__(self, voices: dict[str, CatalogueVoice], source: str, offline: str = "") -> None:
        self.voices = voices
        self.source = source
        #: Why the kept copy was used instead of a fresh one ("" when fetched now).
        self.offline = offline

    def search(self, query: str | None = None) -> list[CatalogueVoice]:
        """The voices of a language (``de``, ``pt-BR``) or whose key holds ``query``."""
        voices = sorted(self.voices.values(), key=_preference)
        if not query:
            return voices
        language = _language_query(query)
        if language is not None:
            family, code = language
            found = [v for v in voices if v.family == family and code in (None, v.language)]
            if found:
                return found
        needle = query.lower()
        return [v for v in voices if needle in v.key.lower()]

    def pick(self, query: str) -> CatalogueVoice:
        """The voice ``voice download QUERY`` installs: that voice, or a language's best."""
        for voice in self.voices.values():
            if query == voice.key or query in voice.aliases:
                return voice
        if _language_query(query) is not None:
            found = self.search(query)
            if found:
                return found[0]
            raise BadInput(
                f"The Piper voice catalogue has no voice for '{query}'. "
                "See the languages it has: readaloud voice search"
            )
        raise BadInput(
            f"No Piper voice is called '{query}'. Give a language (de, pt-BR) or a voice id "
            "from: readaloud voice search"
        )


def _preference(voice: CatalogueVoice) -> tuple[str, int, int, str]:
    quality = QUALITY_ORDER.index(voice.quality) if voice.quality in QUALITY_ORDER else 9
    return (voice.family, quality, voice.speakers, voice.key)


def _language_query(query: str) -> tuple[str, str | None] | None:
    """("pt", "pt_BR") for "pt-BR", ("de", None) for "de"; None for what is no language code."""
    if not 2 <= len(query.split("-")[0].split("_")[0]) <= 3 or len(query) > 6:
        return None
    try:
        family = base_language(query)
    except ValueError:
        return None
    rest = query[len(family) + 1 :]
    return family, (f"{family}_{rest.upper()}" if rest else None)


def parse(data: Any, source: str) -> dict[str, CatalogueVoice]:
    """The voices of a ``voices.json``; entries without a model and its config are left out."""
    if not isinstance(data, dict):
        raise DownloadFailed(f"{source} is not a Piper voice catalogue (no voices in it).")
    voices: dict[str, CatalogueVoice] = {}
    for key, entry in data.items():
        try:
            files = entry["files"]
            model = next(p for p in files if p.endswith(".onnx"))
            config = next(p for p in files if p.endswith(".onnx.json"))
            language = entry["language"]
            voices[key] = CatalogueVoice(
                key=key,
                language=language["code"],
                family=language["family"].lower(),
                language_name=language.get("name_english", language["family"]),
                native_name=language.get("name_native", ""),
                region=language.get("country_english", ""),
                quality=entry.get("quality", ""),
                speakers=int(entry.get("num_speakers", 1)),
                model=VoiceFile(model, int(files[model]["size_bytes"]), files[model]["md5_digest"]),
                config=VoiceFile(
                    config, int(files[config]["size_bytes"]), files[config]["md5_digest"]
                ),
                aliases=tuple(entry.get("aliases", ())),
            )
        except (KeyError, TypeError, ValueError, StopIteration, AttributeError):
            continue
    if not voices:
        raise DownloadFailed(f"{source} is not a Piper voice catalogue (no voices in it).")
    return voices


def file_url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}"


def load_catalogue(base_url: str, cache_path: Path) -> Catalogue:
    """The catalogue at ``base_url``, kept at ``cache_path``; the kept one when offline."""
    url = file_url(base_url, "voices.json")
    try:
        response = httpx2.get(
            url,
            timeout=httpx2.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )
        response.raise_for_status()
        data = response.json()
    except (httpx2.HTTPError, ValueError) as error:
        why = _reason(error)
        kept = _kept(cache_path, url)
        if kept is None:
            raise DownloadFailed(
                f"Cannot get the Piper voice catalogue from {url} ({why}). Check the network "
                "connection, or set [voices] piper_url."
            ) from None
        kept.offline = why
        return kept
    voices = parse(data, url)
    _keep(cache_path, data)
    return Catalogue(voices, url)


def _kept(cache_path: Path, url: str) -> Catalogue | None:
    try:
        data = json.loads(cache_path.read_text(encoding="utf-8"))
        return Catalogue(parse(data, str(cache_path)), url)
    except (OSError, ValueError, DownloadFailed):
        return None


def _keep(cache_path: Path, data: Any) -> None:
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=cache_path.parent, delete=False, suffix=".tmp", encoding="utf-8"
        ) as out:
            json.dump(data, out)
        os.replace(out.name, cache_path)
    except OSError:
        pass  # only the offline copy is lost


def _reason(error: BaseException) -> str:
    if isinstance(error, httpx2.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, httpx2.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx2.ConnectError):
        return "cannot connect"
    if isinstance(error, ValueError):
        return "not JSON"
    return type(error).__name__
