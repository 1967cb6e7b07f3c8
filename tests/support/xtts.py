"""Random-weight XTTS checkpoints for the tests.

The code lives in the package (``bench/xtts_stream.py`` builds the full-size model with it too).
"""

from readaloud.bench.xtts_models import (
    TOKENIZER_LANGUAGES,
    V2_ARCHITECTURE,
    build_checkpoint,
    tiny_options,
    v2_model,
    write_vocab,
)

__all__ = [
    "TOKENIZER_LANGUAGES",
    "V2_ARCHITECTURE",
    "build_checkpoint",
    "tiny_options",
    "v2_model",
    "write_vocab",
]
