"""An XTTS v2 checkpoint directory on disk: which files it must hold, and where it lives."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from readaloud.errors import EngineError

#: Files a checkpoint directory must hold; ``speakers_xtts.pth`` (studio voices) is optional.
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
SPEAKERS_FILE = "speakers_xtts.pth"

_FETCH_HINT = "run 'readaloud model fetch --accept-license' or point [xtts] model_dir at one"


def default_model_dir() -> Path:
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "readaloud" / "models" / "xtts_v2"


class ModelMissing(EngineError):
    """No usable XTTS checkpoint where the config points."""


@dataclass(frozen=True)
class ModelFiles:
    """The files of one checkpoint directory, checked to exist and to look like XTTS."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "config.json"

    @property
    def weights(self) -> Path:
        return self.directory / "model.pth"

    @property
    def vocab(self) -> Path:
        return self.directory / "vocab.json"

    @property
    def speakers(self) -> Path | None:
        path = self.directory / SPEAKERS_FILE
        return path if path.is_file() else None

    @classmethod
    def open(cls, directory: Path) -> ModelFiles:
        """Check ``directory`` holds a checkpoint; ModelMissing says what is wrong, what to do."""
        if not directory.is_dir():
            raise ModelMissing(f"No XTTS model at {directory}: {_FETCH_HINT}.")
        missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
        if missing:
            raise ModelMissing(
                f"The XTTS model at {directory} lacks {', '.join(missing)}: {_FETCH_HINT}."
            )
        files = cls(directory)
        try:
            model = json.loads(files.config.read_text(encoding="utf-8")).get("model")
        except (OSError, ValueError, AttributeError) as error:
            raise ModelMissing(
                f"{files.config} is not a readable model config ({error}); {_FETCH_HINT}."
            ) from None
        if model != "xtts":
            raise ModelMissing(
                f"{files.config} describes a '{model}' model, not XTTS; {_FETCH_HINT}."
            )
        return files


def find_model(directory: Path | None) -> ModelFiles | None:
    """The checkpoint in ``directory`` (default: the data dir), or None when there is none."""
    try:
        return ModelFiles.open(directory or default_model_dir())
    except ModelMissing:
        return None
