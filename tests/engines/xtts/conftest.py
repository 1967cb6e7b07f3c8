"""A tiny random-weight XTTS checkpoint, built once per session and loaded like the real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import torch
    import TTS  # noqa: F401
except ImportError as error:  # the test extra includes the XTTS stack: say how to get it
    raise ImportError(f"{error}: install the test extra: scripts/setup.sh test") from None

from support.xtts import build_checkpoint, tiny_options  # noqa: E402

from readaloud.engines.xtts import XttsEngine  # noqa: E402

# The tiny models gain nothing from a second thread, and on a shared 2-core machine the OpenMP
# workers of two threads spin against everything else running (measured: 4x the wall time).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("xtts") / "model")


@pytest.fixture(scope="session")
def xtts(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XttsEngine]:
    """A loaded, warmed-up engine shared by the session (voices in a private folder)."""
    engine = XttsEngine(tiny_options(tiny_model_dir, tmp_path_factory.mktemp("voices")))
    engine.load()
    yield engine
