"""readaloud's own GPT decode loop against coqui-tts's, on the tiny random-weight checkpoint loaded
by the production loader.

What a listener would notice if these failed: another voice or other words than coqui's model
says (the tokens), a different sound for the same tokens (the latents), a stream that changes
when someone else speaks at the same time (batching), one reader's stop cutting off another.

Tolerances: greedy tokens identical for 240 tokens; with the same seed, the sampled tokens are
identical too, and the next-token probabilities after temperature, top-k, top-p and the
repetition penalty differ from transformers' by at most 1e-5; latents by at most 1e-4 of their
scale (float32 summation order: the cache is read through a different attention call).
"""

from __future__ import annotations

import copy
import threading

import pytest
import torch
from support.threads import at_once
from support.xtts import positions_run

from readaloud.engines.xtts import XttsEngine
from readaloud.engines.xtts.batching import BatchedDecoder
from readaloud.engines.xtts.decoder import Decoding, GptDecoder

TOKENS = 240
SAMPLING = {"temperature": 0.75, "top_k": 50, "top_p": 0.85, "repetition_penalty": 10.0}
TEXTS = [
    "The harbour was quiet before the boats came back.",
    "A short one.",
    "Readers followed every word of the long letter with great care and patience.",
]


@pytest.fixture(scope="module")
def gpt(xtts: XttsEngine):
    """The session model's GPT, copied, with the stop token made unreachable so that every run
    is as long as asked (random weights stop anywhere)."""
    copied = copy.deepcopy(xtts.loaded.model.gpt)
    with torch.no_grad():
        copied.mel_head.bias[copied.stop_audio_token] = -1e4
    return copied


@pytest.fixture(scope="module")
def cond(xtts: XttsEngine) -> torch.Tensor:
    channels = xtts.loaded.model.args.gpt_n_model_channels
    return torch.randn(1, 32, channels, generator=torch.Generator().manual_seed(3))


def text_tokens(xtts: XttsEngine, text: str) -> torch.Tensor:
    return xtts._synthesizer.text_tokens(text, "en")


def alone(
    gpt, cond, tokens, decoding: Decoding, decoder: GptDecoder | None = None
) -> tuple[list[int], list[torch.Tensor]]:
    decoder = decoder or GptDecoder(gpt)
    with torch.inference_mode():
        token, latent = decoder.join(decoder.prompt(cond, tokens), decoding)
        out, latents = [token], [latent.clone()]
        while not decoder.slots[0].finished:
            [(token, latent)] = decoder.step()
            out.append(token)
            latents.append(latent.clone())
        decoder.leave(0)
    return out, latents


def test_greedy_tokens_are_coquis_for_240_tokens(xtts: XttsEngine, gpt, cond) -> None:
    tokens = text_tokens(xtts, TEXTS[0])
    with torch.inference_mode():
        theirs = gpt.generate(cond, tokens, do_sample=False, num_beams=1, max_new_tokens=TOKENS)
    ours, _ = alone(gpt, cond, tokens, Decoding(greedy=True, max_new_tokens=TOKENS))
    assert len(ours) == TOKENS
    assert ours == theirs[0].tolist()


def test_sampled_tokens_probabilities_and_latents_are_coquis(xtts: XttsEngine, gpt, cond) -> None:
    tokens = text_tokens(xtts, TEXTS[2])
    count = 80
    torch.manual_seed(21)
    with torch.inference_mode():
        generator = gpt.get_generator(
            fake_inputs=gpt.compute_embeddings(cond, tokens),
            do_sample=True,
            num_beams=1,
            output_hidden_states=True,
            output_scores=True,
            return_dict_in_generate=True,
            max_new_tokens=count,
            **SAMPLING,
        )
        theirs = [(int(t), latent[0].clone()) for t, latent in generator]
        # The first step's processed scores, from coqui's generate on the same prompt.
        torch.manual_seed(21)
        first = gpt.generate(
            cond,
            tokens,
            do_sample=True,
            num_beams=1,
            output_scores=True,
            return_dict_in_generate=True,
            max_new_tokens=1,
            **SAMPLING,
        )[1].scores[0][0]
    torch.manual_seed(21)
    decoding = Decoding.of({**SAMPLING, "max_new_tokens": count})
    ours, latents = alone(gpt, cond, tokens, decoding)
    assert ours == [t for t, _ in theirs]
    assert len(set(ours)) > 10  # sampled, not one token over and over
    difference = max((a - b[1]).abs().max() for a, b in zip(latents, theirs, strict=True))
    scale = max(latent.abs().max() for latent in latents)
    assert difference <= 1e-4 * scale

    decoder = GptDecoder(gpt)
    with torch.inference_mode():
        decoder.join(decoder.prompt(cond, tokens), decoding)
    probabilities = torch.softmax(decoder.slots[0].first_scores, dim=-1)
    assert (probabilities - torch.softmax(first, dim=-1)).abs().max() <= 1e-5
    assert (probabilities > 0).sum() <= SAMPLING["top_k"]  # top-k and top-p were applied


GREEDY = Decoding(greedy=True, max_new_tokens=TOKENS)


def test_a_streams_tokens_do_not_depend_on_the_others_in_the_batch(
    xtts: XttsEngine, gpt, cond
) -> None:
    """Three voices and texts: one alone, then a second joins after 10 tokens, a third after
    45; the second leaves (cancelled) after 30 of its own; each stream's tokens are the ones it
    makes alone."""
    voices = [cond, cond * 0.5, torch.flip(cond, dims=[1])]
    prompts = [(voices[i], text_tokens(xtts, text)) for i, text in enumerate(TEXTS)]
    solo = [alone(gpt, c, t, GREEDY) for c, t in prompts]
    # Three different streams (the tiny model's greedy tokens barely depend on the prompt; the
    # latents, what is heard, do).
    assert all((solo[0][1][5] - other[1][5]).abs().max() > 1e-3 for other in solo[1:])

    decoder = GptDecoder(gpt)
    made: list[list[int]] = [[], [], []]
    heard: list[list[torch.Tensor]] = [[], [], []]
    order: list[int] = []  # which stream each slot holds
    joins = {0: 0, 10: 1, 45: 2}
    with torch.inference_mode():
        for step in range(2 * TOKENS):
            if step in joins:
                index = joins[step]
                c, t = prompts[index]
                token, latent = decoder.join(decoder.prompt(c, t), GREEDY)
                made[index].append(token)
                heard[index].append(latent.clone())
                order.append(index)
            if not order:
                break
            for slot, (token, latent) in enumerate(decoder.step()):
                made[order[slot]].append(token)
                heard[order[slot]].append(latent.clone())
            for slot in reversed(range(len(order))):
                cancelled = order[slot] == 1 and len(made[1]) == 30
                if decoder.slots[slot].finished or cancelled:
                    decoder.leave(slot)
                    order[slot] = order[-1]
                    order.pop()
    for index, (tokens, latents) in enumerate(solo):
        kept = len(made[index])
        assert made[index] == tokens[:kept] and kept == (30 if index == 1 else TOKENS)
        assert max((a - b).abs().max() for a, b in zip(heard[index], latents, strict=False)) < 1e-5
    assert decoder.slots == [] and decoder.capacity == 1  # an idle decoder keeps one slot


def read_all(streams) -> list[tuple[list[int], list[torch.Tensor]]]:
    results: list = [None] * len(streams)

    def read(index: int) -> None:
        pairs = list(streams[index])
        results[index] = ([t for t, _ in pairs], [latent.clone() for _, latent in pairs])

    at_once(read, len(streams), timeout=120)
    return results


def same(ours, theirs) -> bool:
    """The same tokens, and latents equal to float rounding."""
    (tokens, latents), (their_tokens, their_latents) = ours, theirs
    if tokens != their_tokens[: len(tokens)]:
        return False
    return max((a - b).abs().max() for a, b in zip(latents, their_latents, strict=False)) < 1e-5


def test_streams_opened_together_share_each_step_and_keep_their_own_sound(
    xtts: XttsEngine, gpt, cond
) -> None:
    voices = [cond, cond * 0.5, torch.flip(cond, dims=[1])]
    prompts = [(voices[i], text_tokens(xtts, text)) for i, text in enumerate(TEXTS)]
    solo = [alone(gpt, c, t, GREEDY) for c, t in prompts]
    batched = BatchedDecoder(gpt, max_streams=8)
    cancel = threading.Event()
    streams = [
        batched.open(c, t, GREEDY, cancel if i == 1 else threading.Event())
        for i, (c, t) in enumerate(prompts)
    ]
    cut = iter(streams[1])
    early = [next(cut) for _ in range(5)]
    cancel.set()  # one reader stops: its stream ends at once
    rest = list(cut)
    first, third = read_all([streams[0], streams[2]])
    assert same(first, solo[0]) and same(third, solo[2])
    assert len(first[0]) == len(third[0]) == TOKENS
    assert rest == []
    assert same(([t for t, _ in early], [lat for _, lat in early]), solo[1])
    assert max(batched.step_sizes) == 3  # they did share steps
    assert batched.decoder.slots == []  # the stopped one left too


def test_more_streams_than_places_wait_their_turn(xtts: XttsEngine, gpt, cond) -> None:
    voices = [cond, cond * 0.5, torch.flip(cond, dims=[1])]
    prompts = [(voices[i], text_tokens(xtts, text)) for i, text in enumerate(TEXTS)]
    solo = [alone(gpt, c, t, GREEDY) for c, t in prompts]
    batched = BatchedDecoder(gpt, max_streams=2)
    streams = [batched.open(c, t, GREEDY, threading.Event()) for c, t in prompts]
    results = read_all(streams)
    assert all(same(ours, theirs) for ours, theirs in zip(results, solo, strict=True))
    assert max(batched.step_sizes) == 2


def test_a_voice_met_before_skips_its_part_of_the_prompt_and_sounds_the_same(
    xtts: XttsEngine, gpt, cond, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = text_tokens(xtts, TEXTS[2])
    fresh = alone(gpt, cond, tokens, GREEDY)
    decoder = GptDecoder(gpt)
    alone(gpt, cond, text_tokens(xtts, TEXTS[0]), GREEDY, decoder)  # the voice's first stream
    positions = positions_run(decoder, monkeypatch)
    again = alone(gpt, cond, tokens, GREEDY, decoder)
    voice = cond.shape[1]
    prompt = decoder.prompt(cond, tokens).length
    assert positions[0] == prompt - voice  # the text and the start token only
    assert same(again, fresh) and len(again[0]) == TOKENS
