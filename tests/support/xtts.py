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


def positions_run(decoder, monkeypatch) -> list[int]:
    """The positions each GPT block call of ``decoder`` (a GptDecoder) runs, from now on."""
    positions: list[int] = []
    block = decoder._block

    def counted(layer, module, x, **kwargs):
        positions.append(x.shape[1])
        return block(layer, module, x, **kwargs)

    monkeypatch.setattr(decoder, "_block", counted)
    return positions
