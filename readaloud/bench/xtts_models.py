"""Random-weight XTTS models for tests and benchmarks (the real weights cannot be downloaded here).

``build_checkpoint`` writes a real checkpoint directory (config.json, model.pth, vocab.json and
optionally speakers_xtts.pth) that readaloud then loads through its production loader. The
tokenizer is the BPE tokenizer shipped in coqui-tts plus the ``[START]`` and ``[xx]`` language
tokens XTTS's own vocab has. ``v2_model`` builds the full-size XTTS v2 architecture in memory.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

#: The tokenizer's language tokens, as the XTTS v2 vocab spells them.
TOKENIZER_LANGUAGES = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko",
    "ja", "hi",
)  # fmt: skip

#: The released XTTS v2 architecture (the XttsArgs defaults are XTTS v1's).
V2_ARCHITECTURE = {
    "gpt_layers": 30,
    "gpt_n_model_channels": 1024,
    "gpt_n_heads": 16,
    "gpt_number_text_tokens": 6681,
    "gpt_num_audio_tokens": 1026,
    "gpt_start_audio_token": 1024,
    "gpt_stop_audio_token": 1025,
    "gpt_use_perceiver_resampler": True,
    "gpt_max_audio_tokens": 605,
    "gpt_max_text_tokens": 402,
    "gpt_max_prompt_tokens": 70,
    "decoder_input_dim": 1024,
    "d_vector_dim": 512,
}

#: A tiny GPT on the v2 layout; the HiFi-GAN vocoder and speaker encoder are always full size.
TINY_ARCHITECTURE = {
    **V2_ARCHITECTURE,
    "gpt_layers": 2,
    "gpt_n_model_channels": 64,
    "gpt_n_heads": 2,
    "decoder_input_dim": 64,
}


#: Random weights rarely sample the stop token: tests cap generation at this many tokens.
TEST_TOKENS = 16


def tiny_options(model_dir: Path, voices_dir: Path, **settings):
    """XttsOptions for a tiny checkpoint on the CPU; ``settings`` go to StreamOptions or, for
    ``precision``, ``warm_up``, ``voice`` and ``unload_after_s``, to XttsOptions."""
    from readaloud.engines.xtts.options import StreamOptions, XttsOptions

    top_keys = ("precision", "warm_up", "voice", "unload_after_s")
    top = {k: settings.pop(k) for k in top_keys if k in settings}
    stream = StreamOptions(**{"max_new_tokens": TEST_TOKENS, **settings})
    return XttsOptions(
        model_dir=model_dir, voices_dir=voices_dir, device="cpu", stream=stream, **top
    )


def write_vocab(path: Path) -> Path:
    from tokenizers import AddedToken, Tokenizer

    shipped = importlib.resources.files("TTS") / "tts/utils/assets/tortoise/tokenizer.json"
    tokenizer = Tokenizer.from_file(str(shipped))
    tokens = ["[START]", *(f"[{code}]" for code in TOKENIZER_LANGUAGES)]
    tokenizer.add_special_tokens([AddedToken(token, special=True) for token in tokens])
    tokenizer.save(str(path))
    return path


def _config(architecture: dict):
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig

    config = XttsConfig(model_args=XttsArgs(**architecture))
    # The released config's sampling settings (the XttsConfig defaults differ a little).
    config.temperature = 0.75
    config.repetition_penalty = 5.0
    config.gpt_cond_len = 30
    config.gpt_cond_chunk_len = 4
    config.max_ref_len = 30
    return config


def build_checkpoint(
    directory: Path,
    *,
    seed: int = 0,
    studio_speakers: tuple[str, ...] = ("Ana Florence", "Claribel Dervla"),
    architecture: dict | None = None,
) -> Path:
    """Write a random-weight XTTS checkpoint directory and return it."""
    import torch
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    directory.mkdir(parents=True, exist_ok=True)
    vocab = write_vocab(directory / "vocab.json")
    torch.manual_seed(seed)
    config = _config(architecture or TINY_ARCHITECTURE)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(vocab))
    model.init_models()  # the GPT sized for this vocab, as load_checkpoint will build it
    torch.save({"model": model.state_dict()}, directory / "model.pth")
    config.save_json(str(directory / "config.json"))
    if studio_speakers:
        channels = config.model_args.gpt_n_model_channels
        speakers = {}
        for name in studio_speakers:
            embedding = torch.randn(1, config.model_args.d_vector_dim, 1)
            speakers[name] = {
                "gpt_cond_latent": torch.randn(1, 32, channels),
                "speaker_embedding": embedding / embedding.norm(),
            }
        torch.save(speakers, directory / "speakers_xtts.pth")
    return directory


def v2_model(vocab: Path):
    """The full-size XTTS v2 architecture (466.9 M parameters) with random weights, in memory."""
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    model = Xtts(_config(V2_ARCHITECTURE))  # GPT built for 6681 text tokens, as released
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(vocab))  # ids < 6681: a valid subset
    model.eval()
    return model
