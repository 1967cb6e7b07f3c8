"""Write speech to an audio file as it is synthesized (``readaloud say --out``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile

from readaloud.errors import BadInput

#: File extensions soundfile writes without extra tools, and the format it uses for each.
FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


def check_output_path(path: Path) -> str:
    """Return the soundfile format for ``path`` or raise BadInput saying what would work."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadInput(
            f"Cannot write '{path.name}': use a file name ending in "
            f"{', '.join(FORMATS)} (for example speech.wav)."
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"Cannot write '{path}': folder {parent} does not exist.")
    return fmt


def write_audio(path: Path, sample_rate: int, blocks: Iterable[np.ndarray]) -> float:
    """Write float32 mono blocks to ``path`` as they arrive; return the seconds written.

    The file appears under its final name only when complete, so a failure or Ctrl+C never
    leaves a truncated file that looks finished.
    """
    fmt = check_output_path(path)
    partial = path.with_name(f".{path.name}.partial")
    frames = 0
    try:
        with soundfile.SoundFile(
            partial, mode="w", samplerate=sample_rate, channels=1, format=fmt
        ) as out:
            for block in blocks:
                out.write(block)
                frames += len(block)
        partial.replace(path)
    except (OSError, soundfile.LibsndfileError) as error:
        reason = getattr(error, "strerror", None) or error
        raise BadInput(f"Cannot write '{path}': {reason}.") from None
    finally:
        partial.unlink(missing_ok=True)
    return frames / sample_rate
