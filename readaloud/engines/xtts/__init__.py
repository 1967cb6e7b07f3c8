"""XTTS v2: cloned voices in 17 languages, streamed from a GPU (or, slowly, a CPU).

One concern per module: ``checkpoint`` (finding model files), ``loader`` (device, precision,
loading), ``streaming`` (token generation and windowed vocoding), ``voices`` and ``clips``
(enrolled and studio voices), ``fetch`` (download with licence acceptance), ``engine`` (the
Engine protocol on top of them). Importing this package does not import torch.
"""

from readaloud.engines.xtts.checkpoint import ModelFiles, default_model_dir, find_model
from readaloud.engines.xtts.engine import XttsEngine
from readaloud.engines.xtts.options import XttsOptions

__all__ = ["ModelFiles", "XttsEngine", "XttsOptions", "default_model_dir", "find_model"]
