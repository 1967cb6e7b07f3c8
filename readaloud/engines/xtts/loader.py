"""Load an XTTS checkpoint onto the chosen device in the chosen precision.

Device and precision are decided by small pure functions (tested on any machine); ``load_model``
does the heavy part and turns every failure into an EngineError that says what to do.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from readaloud.engines.xtts.checkpoint import ModelFiles
from readaloud.errors import EngineError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = ("fp32", "fp16", "bf16")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")

INSTALL_HINT = "pip install 'readaloud[xtts]'"


class XttsNotInstalled(EngineError):
    """coqui-tts or PyTorch is missing."""


@dataclass(frozen=True)
class Placement:
    """Where the model runs and at which precision, plus why (one line for logs and status)."""

    device: str  # "cpu", "cuda" or "cuda:N"
    precision: str  # one of PRECISIONS
    note: str = ""

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


def valid_device(value: str) -> bool:
    return bool(_DEVICE.match(value))


def resolve_placement(
    device: str, precision: str, *, cuda_available: bool, bf16_supported: bool
) -> Placement:
    """Decide where to run: ``device`` is auto|cpu|cuda[:N], ``precision`` fp32|fp16|bf16.

    fp16 and bf16 are GPU precisions; bf16 also runs on a CPU (slowly on older ones). With
    ``auto`` on a machine without a GPU, fp16 quietly becomes fp32 so one config fits both.
    """
    if not valid_device(device):
        raise EngineError(f"[xtts] device = '{device}' is not one of auto, cuda, cuda:N or cpu.")
    if precision not in PRECISIONS:
        raise EngineError(f"[xtts] precision = '{precision}' is not one of fp32, fp16 or bf16.")
    if device == "auto":
        chosen = "cuda" if cuda_available else "cpu"
    elif device.startswith("cuda") and not cuda_available:
        raise EngineError(
            f"[xtts] device = '{device}' but PyTorch sees no CUDA GPU. Install the NVIDIA "
            'driver and a CUDA build of PyTorch, or set device = "auto" or "cpu".'
        )
    else:
        chosen = device
    if chosen == "cpu" and precision == "fp16":
        if device == "auto":
            return Placement("cpu", "fp32", "no CUDA GPU, so fp32 on the CPU instead of fp16")
        raise EngineError(
            '[xtts] precision = "fp16" needs a CUDA GPU; on the CPU use fp32 (or bf16).'
        )
    if chosen.startswith("cuda") and precision == "bf16" and not bf16_supported:
        raise EngineError(
            'This GPU cannot compute in bfloat16; set [xtts] precision = "fp16" or "fp32".'
        )
    return Placement(chosen, precision)


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def placement_for(device: str, precision: str) -> Placement:
    import torch

    has_cuda = torch.cuda.is_available()
    return resolve_placement(
        device,
        precision,
        cuda_available=has_cuda,
        bf16_supported=has_cuda and torch.cuda.is_bf16_supported(),
    )


@dataclass
class LoadedModel:
    """A ready Xtts model and what the rest of the engine needs to know about it."""

    model: Any  # TTS.tts.models.xtts.Xtts
    placement: Placement
    #: Identifies the conditioning weights: a voice enrolled with another model sounds wrong.
    fingerprint: str

    @property
    def device(self):  # -> torch.device
        import torch

        return torch.device(self.placement.device)

    @property
    def dtype(self):  # -> torch.dtype
        import torch

        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
            self.placement.precision
        ]

    @property
    def sample_rate(self) -> int:
        return int(self.model.args.output_sample_rate)

    @property
    def inference_settings(self) -> dict[str, float]:
        """The sampling settings the checkpoint's config recommends."""
        config = self.model.config
        return {
            "temperature": float(config.temperature),
            "length_penalty": float(config.length_penalty),
            "repetition_penalty": float(config.repetition_penalty),
            "top_k": int(config.top_k),
            "top_p": float(config.top_p),
        }


def import_xtts():
    """(torch, XttsConfig, Xtts), or XttsNotInstalled saying how to install them."""
    try:
        import torch
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts
    except ImportError as error:
        raise XttsNotInstalled(
            f"The XTTS engine needs coqui-tts and PyTorch ({error.name or error} is missing): "
            f"{INSTALL_HINT}"
        ) from None
    _quiet_libraries()
    return torch, XttsConfig, Xtts


def load_model(files: ModelFiles, placement: Placement) -> LoadedModel:
    """Load the checkpoint in ``files`` for inference on ``placement``."""
    torch, XttsConfig, Xtts = import_xtts()
    refetch = "Fetch it again: readaloud model fetch --accept-license"
    try:
        config = XttsConfig()
        config.load_json(str(files.config))
        model = Xtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(files.directory), eval=True)
    except (OSError, ValueError, KeyError, RuntimeError, EOFError) as error:
        raise EngineError(
            f"Could not load the XTTS model at {files.directory}: {error}. {refetch}"
        ) from None
    except Exception as error:  # unpickling and coqpit raise many kinds
        raise EngineError(
            f"Could not load the XTTS model at {files.directory} "
            f"({type(error).__name__}: {error}). {refetch}"
        ) from error
    fold_weight_norm(model.hifigan_decoder)
    fingerprint = _fingerprint(model)
    try:
        model.to(placement.device)
        if placement.precision != "fp32":
            reduce_precision(model, placement.precision)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise EngineError(
            f"Not enough GPU memory to load XTTS on {placement.device} (it needs about 2.5 GB "
            "in fp32, 1.5 GB in fp16). Close other GPU programs or set [xtts] precision = "
            '"fp16".'
        ) from None
    log.info(
        "XTTS loaded from %s on %s (%s)%s",
        files.directory,
        placement.device,
        placement.precision,
        f"; {placement.note}" if placement.note else "",
    )
    return LoadedModel(model=model, placement=placement, fingerprint=fingerprint)


def fold_weight_norm(module: Any) -> int:
    """Bake the vocoder's weight normalisation into plain weights (for inference only).

    ``Xtts.load_checkpoint`` leaves it on, so every vocoder call recomputes the norm of every
    convolution: on a CPU that costs more than the convolutions of a short chunk. The output is
    the same. Returns how many weights were folded.
    """
    from torch.nn.utils import parametrize

    folded = 0
    for layer in module.modules():
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
            folded += 1
    return folded


def reduce_precision(model: Any, precision: str) -> None:
    """Run the GPT in fp16/bf16; voice conditioning and the vocoder stay fp32 (quality)."""
    import torch

    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    gpt = model.gpt
    gpt.to(dtype)
    gpt.conditioning_encoder.float()
    if getattr(gpt, "conditioning_perceiver", None) is not None:
        gpt.conditioning_perceiver.float()
    # The GPT's "null" position embedding makes float32 zeros, which would turn the fp16 input
    # of every layer back into float32; make them in the model's precision instead.
    gpt.gpt.wpe = functools.partial(_zero_positions, dim=gpt.model_dim, dtype=dtype)


def _zero_positions(position_ids, dim: int, dtype):  # noqa: ANN001 - torch types
    import torch

    shape = (position_ids.shape[0], position_ids.shape[1], dim)
    return torch.zeros(shape, device=position_ids.device, dtype=dtype)


def _fingerprint(model: Any) -> str:
    digest = hashlib.sha256()
    for tensor in (
        model.gpt.conditioning_encoder.init.weight,
        model.hifigan_decoder.speaker_encoder.conv1.weight,
    ):
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@functools.cache
def _quiet_libraries() -> None:
    """transformers warns about generation settings XTTS sets on purpose, once per request."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.set_verbosity_error()
