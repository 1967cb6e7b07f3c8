"""Bare Piper, measured in the benchmark's own process in the same run as the daemon: the
baseline every daemon figure is compared with (these machines differ 2x from run to run, so only
same-run ratios mean anything)."""

from __future__ import annotations

import time

from readaloud.bench.measure import summary
from readaloud.engines.piper import PiperEngine
from readaloud.text.segment import split


def first_fragment(text: str, first_fragment_words: int) -> str:
    """Exactly the text of the daemon's first chunk for ``text`` (its first segment)."""
    return split(text, "en", first_fragment_words=first_fragment_words)[0].text


def plain_piper(texts: dict[str, str], runs: int) -> dict[str, dict[str, float]]:
    """``PiperVoice.synthesize`` to its last sample, for each text: ``{name: summary(ms)}``.

    The voice is loaded and each text synthesized once first, as the daemon warms up its own.
    """
    from piper import PiperVoice

    model = PiperEngine().resolve(None, "en")
    voice = PiperVoice.load(model.model_path, config_path=model.config_path)
    results: dict[str, dict[str, float]] = {}
    for name, text in texts.items():
        list(voice.synthesize(text))
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            list(voice.synthesize(text))
            times.append((time.perf_counter() - began) * 1000)
        results[name] = summary(times)
    return results
