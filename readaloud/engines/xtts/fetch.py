"""Download XTTS v2 through Coqui's model manager, after the user accepted its licence.

The licence (Coqui Public Model License, non-commercial) is shown and must be accepted
explicitly; it is never accepted on the user's behalf. The files land in a hidden staging folder
next to the target and are moved into place only when complete, so a failed or interrupted
download never leaves a half-written model where readaloud looks for one.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from readaloud.engines.xtts.checkpoint import REQUIRED_FILES, SPEAKERS_FILE, ModelFiles
from readaloud.errors import BadInput, EngineError

log = logging.getLogger(__name__)

MODEL_NAME = "tts_models/multilingual/multi-dataset/xtts_v2"
LICENSE_NAME = "Coqui Public Model License 1.0.0 (CPML)"
LICENSE_URL = "https://tts-hub.github.io/cpml"  # the maintained copy (coqui.ai is gone)

LICENSE_NOTICE = f"""\
XTTS v2 is published by Coqui under the {LICENSE_NAME}:
  {LICENSE_URL}
In short: you may use the model and its output for NON-COMMERCIAL purposes only, unless you hold
a commercial licence from Coqui. Read the licence before you accept it.
Accepting it means: "I have purchased a commercial license from Coqui, or I agree to the terms
of the non-commercial CPML."
"""

_RETRY = "Check the internet connection and run 'readaloud model fetch --accept-license' again"


class LicenseNotAccepted(BadInput):
    """The CPML was not accepted, so nothing is downloaded."""


class ModelDownloadFailed(EngineError):
    """The download did not complete; nothing was left where the model belongs."""


def fetch_model(target: Path, *, license_accepted: bool, progress: bool = True) -> ModelFiles:
    """Download XTTS v2 into ``target`` (a checkpoint directory) and return its files.

    An existing complete model in ``target`` is kept as it is.
    """
    if not license_accepted:
        raise LicenseNotAccepted(
            f"XTTS v2 comes under the {LICENSE_NAME}, non-commercial use only: read "
            f"{LICENSE_URL}, then run 'readaloud model fetch --accept-license'."
        )
    try:
        return ModelFiles.open(target)
    except EngineError:
        pass  # not there yet (or incomplete): download it
    try:
        from TTS.utils.manage import ModelManager
    except ImportError:
        raise EngineError(
            "Downloading XTTS needs coqui-tts: pip install 'readaloud[xtts]'"
        ) from None

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_downloads(target)
    staging = target.parent / f".{target.name}.download-{os.getpid()}"
    try:
        manager = ModelManager(output_prefix=staging, progress_bar=progress)
        _record_acceptance(staging / "tts" / MODEL_NAME.replace("/", "--"))
        try:
            model_path, _config_path, _item = manager.download_model(MODEL_NAME)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # requests, httpx and huggingface_hub raise many kinds
            raise ModelDownloadFailed(
                f"Could not download XTTS v2 from Hugging Face ({_short_reason(error)}). "
                f"{_RETRY}; files already downloaded are kept in the Hugging Face cache."
            ) from None
        source = Path(model_path)
        source = source if source.is_dir() else source.parent
        assembled = staging / "model"
        _assemble(source, assembled)
        ModelFiles.open(assembled)  # complete and readable, or ModelMissing
        if target.exists():
            shutil.rmtree(target)  # an incomplete leftover from an older tool
        os.replace(assembled, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("XTTS v2 is in %s", target)
    return ModelFiles.open(target)


def _remove_abandoned_downloads(target: Path) -> None:
    """Staging folders of downloads whose process is gone (killed before it could clean up)."""
    for staging in target.parent.glob(f".{target.name}.download-*"):
        pid = staging.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record_acceptance(model_dir: Path) -> None:
    """Where Coqui's manager looks for the user's agreement (it would ask on stdin instead)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "tos_agreed.txt").write_text(
        "I have read, understood and agreed to the Terms and Conditions. "
        f"(accepted in readaloud with --accept-license, {time.strftime('%Y-%m-%d %H:%M:%S')})\n",
        encoding="utf-8",
    )


def _assemble(source: Path, destination: Path) -> None:
    """Put the checkpoint's files in ``destination``: hard links when possible, else copies."""
    destination.mkdir(parents=True)
    for name in (*REQUIRED_FILES, SPEAKERS_FILE, "LICENSE.txt", "hash.md5"):
        path = source / name
        if not path.is_file():
            continue
        real = path.resolve()
        try:
            if name == "config.json":
                raise OSError  # always a private copy: readaloud never edits the cache
            os.link(real, destination / name)
        except OSError:
            shutil.copyfile(real, destination / name)


def _short_reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
