"""A tiny random-weight XTTS checkpoint, built once per session and loaded like the real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("TTS", reason="the XTTS tests need: pip install -e '.[test,xtts]'")

from support.xtts import build_checkpoint, tiny_options  # noqa: E402

from readaloud.engines.xtts import XttsEngine  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("xtts") / "model")


@pytest.fixture(scope="session")
def xtts(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XttsEngine]:
    """A loaded, warmed-up engine shared by the session (voices in a private folder)."""
    engine = XttsEngine(tiny_options(tiny_model_dir, tmp_path_factory.mktemp("voices")))
    engine.load()
    yield engine
