"""XTTS voices: the ones users enrol (kept under the XDG data dir) and the studio speakers.

A voice is two arrays the model computes from reference speech: ``gpt_cond_latent`` (the speaking
style, for the GPT) and ``speaker_embedding`` (the timbre, for the vocoder). Enrolled voices are
stored as ``NAME.npz`` (read with ``allow_pickle=False``: a voice file never runs code) with a
JSON note of the clips they came from and of the model that made them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from readaloud.errors import BadInput, EngineError, UnknownVoice

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_SUFFIX = ".npz"


def default_voices_dir() -> Path:
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "readaloud" / "voices" / "xtts"


def check_name(name: str) -> str:
    """A voice name as stored: lower case letters, digits, '-' and '_' (up to 40)."""
    normal = name.strip().lower()
    if not _NAME.match(normal):
        raise BadInput(
            f"'{name}' cannot be a voice name: use up to 40 letters, digits, '-' or '_', "
            "starting with a letter or digit (for example: grandma or anna-2)."
        )
    return normal


def studio_id(name: str) -> str:
    """'Claribel Dervla' → 'claribel-dervla'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass(frozen=True)
class XttsVoice:
    id: str
    #: "enrolled" (by the user) or "studio" (shipped with the model)
    kind: str
    gpt_cond_latent: np.ndarray  # [1, 32, channels] float32
    speaker_embedding: np.ndarray  # [1, 512, 1] float32
    description: str = ""
    #: The model fingerprint it was made with (enrolled voices); None: unknown or any.
    fingerprint: str | None = None
    meta: dict = field(default_factory=dict, compare=False)


class VoiceStore:
    """Enrolled voices in one folder, one file each, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}{_SUFFIX}"

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            p.name.removesuffix(_SUFFIX)
            for p in self.directory.glob(f"*{_SUFFIX}")
            if _NAME.match(p.name.removesuffix(_SUFFIX))
        )

    def __contains__(self, name: str) -> bool:
        if not _NAME.match(name.strip().lower()):
            return False  # not a name a voice could be stored under
        return self.path(name).is_file()

    def save(self, voice: XttsVoice, *, replace: bool = False) -> Path:
        target = self.path(voice.id)
        if target.exists() and not replace:
            raise BadInput(
                f"A voice named '{voice.id}' exists already; pick another name, or remove it "
                f"first: readaloud voice remove {voice.id}"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {
            **voice.meta,
            "name": voice.id,
            "fingerprint": voice.fingerprint,
            "description": voice.description,
            "created": voice.meta.get("created") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        handle, partial = tempfile.mkstemp(
            prefix=f".{voice.id}.", suffix=".partial", dir=self.directory
        )
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(
                    out,
                    gpt_cond_latent=np.asarray(voice.gpt_cond_latent, dtype=np.float32),
                    speaker_embedding=np.asarray(voice.speaker_embedding, dtype=np.float32),
                    meta=np.array(json.dumps(meta)),
                )
            os.replace(partial, target)
        finally:
            Path(partial).unlink(missing_ok=True)
        return target

    def load(self, name: str) -> XttsVoice:
        path = self.path(name)
        try:
            with np.load(path, allow_pickle=False) as data:
                latent = data["gpt_cond_latent"].astype(np.float32)
                embedding = data["speaker_embedding"].astype(np.float32)
                meta = json.loads(str(data["meta"]))
        except FileNotFoundError:
            raise UnknownVoice(
                f"Unknown voice '{name}'. Run 'readaloud voices' to list the voices."
            ) from None
        except (OSError, ValueError, KeyError) as error:
            raise EngineError(
                f"The voice file {path} is damaged ({error}); enrol it again: "
                f"readaloud voice add {name} CLIP.wav"
            ) from None
        return XttsVoice(
            id=check_name(name),
            kind="enrolled",
            gpt_cond_latent=latent,
            speaker_embedding=embedding,
            description=meta.get("description", ""),
            fingerprint=meta.get("fingerprint"),
            meta=meta,
        )

    def remove(self, name: str) -> None:
        path = self.path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise UnknownVoice(
                f"There is no enrolled voice '{name}' to remove ('readaloud voice list' shows "
                "them)."
            ) from None


def read_studio_voices(speakers_file: Path | None) -> dict[str, XttsVoice]:
    """The studio speakers in ``speakers_xtts.pth`` by id; {} when there is no such file."""
    if speakers_file is None:
        return {}
    try:
        import torch

        speakers = torch.load(speakers_file, map_location="cpu", weights_only=True)
    except ImportError:
        return {}
    except Exception as error:  # torch.load raises many kinds on a damaged file
        raise EngineError(
            f"Cannot read the studio voices in {speakers_file} ({error}); delete the file or "
            "fetch the model again."
        ) from None
    voices: dict[str, XttsVoice] = {}
    for name, arrays in speakers.items():
        voice_id = studio_id(name)
        voices[voice_id] = XttsVoice(
            id=voice_id,
            kind="studio",
            gpt_cond_latent=arrays["gpt_cond_latent"].float().numpy(),
            speaker_embedding=arrays["speaker_embedding"].float().numpy(),
            description=f"studio speaker {name}",
        )
    return voices
