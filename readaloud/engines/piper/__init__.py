"""Piper voices on the CPU (or CUDA through onnxruntime)."""

from readaloud.engines.piper.engine import PiperEngine
from readaloud.engines.piper.models import PiperModel, bundled_model, discover_models

__all__ = ["PiperEngine", "PiperModel", "bundled_model", "discover_models"]
