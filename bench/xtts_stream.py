"""XTTS streaming: coqui's stock ``inference_stream`` against readaloud's windowed streaming.

Full-size XTTS v2 architecture (466.9 M parameters) with random weights (the real ones cannot be
downloaded here), one process, one model, one text, the same sampled tokens for every run (same
seed; stop token suppressed, generation capped at --tokens). Reported per run: time to the first
audio chunk (on the host, ready to play), total time, seconds of audio, and for readaloud's stream
the largest difference from a whole-utterance decode of the same latents.

Runs:
  stock, as loaded       inference_stream on the model as Xtts.load_checkpoint leaves it
  stock, readaloud load  the same after readaloud's loader folded the vocoder's weight norm
  readaloud              readaloud's Synthesizer.stream (small first chunk, windowed vocoder)

readaloud's runs share one Synthesizer after a warm-up with the same voice, so the voice's part of
the prompt is kept (as for every sentence after a voice's first in the daemon); the stock runs and
the GPT-alone figures below make the whole prompt.

Then the GPT alone, on the same prompt: ``per_token_ms`` of coqui's generate (Hugging Face's loop)
and of readaloud's decode loop at batch 1, each the time of N tokens less that of 1, over N - 1
(the prompt pass left out); and ``batch``: B streams opened at once in readaloud's batched
decoder, ``tokens_per_s`` over all of them (B = 1, 4, 8; --batches changes them). --int8 adds
the GPT with int8 linear layers (torch's dynamic quantization) against fp32: speed, and how far
its tokens and latents are from fp32's.

  .venv/bin/python bench/xtts_stream.py [--tokens 240] [--device cpu|cuda] [--precision fp32|fp16]
                                        [--threads N] [--batches 1,4,8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

TEXT = (
    "When the library finally reopened after the long winter, the readers came back one by one, "
    "carrying borrowed books, old newspapers and stories about everything that had happened "
    "while the doors were closed."
)
#: inference_stream's own sampling defaults, given to both so they draw the same tokens.
SAMPLING = {
    "temperature": 0.75,
    "length_penalty": 1.0,
    "repetition_penalty": 10.0,
    "top_k": 50,
    "top_p": 0.85,
}
SEED = 1234


def build(device: str, precision: str):
    import torch

    from readaloud.bench.xtts_models import v2_model, write_vocab

    vocab = write_vocab(Path(tempfile.mkdtemp(prefix="xtts-bench-")) / "vocab.json")
    torch.manual_seed(0)
    model = v2_model(vocab).to(device)
    if precision != "fp32":
        from readaloud.engines.xtts.loader import reduce_precision

        reduce_precision(model, precision)
    generator = torch.Generator().manual_seed(1)
    latent = torch.randn(1, 32, 1024, generator=generator).to(device)
    embedding = torch.randn(1, 512, 1, generator=generator)
    embedding = (embedding / embedding.norm()).to(device)
    return model, latent, embedding


def run_stock(model, text, latent, embedding, tokens: int, dtype=None) -> dict:
    import contextlib

    import torch

    # inference_stream feeds the GPT's own dtype to the vocoder: with a reduced-precision GPT it
    # needs autocast (which then also runs its vocoder in that precision, to its advantage).
    reduced = dtype is not None and dtype != torch.float32
    precision = (
        torch.autocast(device_type=latent.device.type, dtype=dtype)
        if reduced
        else contextlib.nullcontext()
    )
    torch.manual_seed(SEED)
    began = time.perf_counter()
    first = None
    samples = 0
    chunks = 0
    with precision:
        stream = model.inference_stream(
            text,
            "en",
            latent.to(dtype) if reduced else latent,
            embedding,
            stream_chunk_size=20,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            **SAMPLING,
        )
        for chunk in stream:
            audio = chunk.float().cpu().numpy()  # on the host, ready to play
            if first is None:
                first = time.perf_counter() - began
                first_audio = len(audio)
            samples += len(audio)
            chunks += 1
    total = time.perf_counter() - began
    return _row(first, total, samples, chunks, first_audio)


_synthesizers: dict = {}


def run_readaloud(model, text, latent, embedding, tokens: int, dtype, first: int = 0) -> dict:
    """One Synthesizer for every readaloud run, as the daemon keeps one: a voice heard before
    skips its part of the prompt."""
    import dataclasses

    import numpy as np
    import torch

    from readaloud.engines.xtts.options import StreamOptions
    from readaloud.engines.xtts.streaming import Conditioning, Synthesizer, full_decode

    synthesizer = _synthesizers.get(id(model))
    if synthesizer is None:
        synthesizer = Synthesizer(model, dtype, StreamOptions(), SAMPLING)
        _synthesizers[id(model)] = synthesizer
    default = StreamOptions()
    synthesizer.options = dataclasses.replace(
        default, first_chunk_tokens=first or default.first_chunk_tokens
    )
    voice = Conditioning(gpt_cond_latent=latent, speaker_embedding=embedding)
    limit = {"max_new_tokens": tokens, "min_new_tokens": tokens}
    torch.manual_seed(SEED)
    began = time.perf_counter()
    first = None
    pieces = []
    for audio in synthesizer.stream(text, "en", voice, threading.Event(), generation=limit):
        if first is None:
            first = time.perf_counter() - began
        pieces.append(audio)
    total = time.perf_counter() - began
    row = _row(first, total, sum(len(p) for p in pieces), len(pieces), len(pieces[0]))

    # The same latents decoded whole: how close the stream came (not timed).
    torch.manual_seed(SEED)
    ids = synthesizer.text_tokens(text, "en")
    latents = torch.stack(
        [v.reshape(-1).float() for v in synthesizer.latents(ids, voice, threading.Event(), limit)]
    )
    with torch.inference_mode():
        full = full_decode(synthesizer.vocoder(voice), synthesizer.upsampler(), latents)
    joined = np.concatenate(pieces)
    row["max_error_of_peak"] = float(np.abs(joined - full).max() / np.abs(full).max())
    row["snr_db"] = float(10 * np.log10(np.sum(full**2) / max(np.sum((joined - full) ** 2), 1e-30)))
    return row


def per_token_ms(model, latent, tokens: int) -> dict:
    """ms per generated token after the prompt: coqui's generate and readaloud's loop."""
    import torch

    from readaloud.engines.xtts.decoder import Decoding, GptDecoder

    gpt = model.gpt
    ids = torch.IntTensor(model.tokenizer.encode(TEXT.lower(), lang="en")).unsqueeze(0)
    ids = ids.to(latent.device)
    cond = latent.to(next(gpt.parameters()).dtype)

    def coqui(count: int) -> float:
        torch.manual_seed(SEED)
        began = time.perf_counter()
        with torch.inference_mode():
            gpt.generate(
                cond, ids, do_sample=True, max_new_tokens=count, min_new_tokens=count, **SAMPLING
            )
        _sync(latent.device)
        return time.perf_counter() - began

    def ours(count: int) -> float:
        torch.manual_seed(SEED)
        decoding = Decoding.of({**SAMPLING, "max_new_tokens": count, "min_new_tokens": count})
        began = time.perf_counter()
        with torch.inference_mode():
            decoder = GptDecoder(gpt, max_streams=1)
            decoder.join(decoder.prompt(cond, ids), decoding)
            while not decoder.slots[0].finished:
                decoder.step()
        _sync(latent.device)
        return time.perf_counter() - began

    coqui(4), ours(4)  # first-call costs out of the figures
    figures = {}
    for name, run in (("coqui_generate", coqui), ("readaloud_batch_1", ours)):
        figures[name] = round((run(tokens) - run(1)) * 1000 / (tokens - 1), 2)
    figures["ratio"] = round(figures["readaloud_batch_1"] / figures["coqui_generate"], 3)
    return figures


def int8_gpt(model, latent, tokens: int) -> dict:
    """The GPT's linear layers quantized to int8 (torch's dynamic quantization, weights int8,
    activations quantized on the fly), against the fp32 GPT: ms per token and how far it is."""
    import copy

    import torch
    from transformers.pytorch_utils import Conv1D

    from readaloud.engines.xtts.decoder import Decoding, GptDecoder

    def as_linear(module) -> None:  # GPT-2's Conv1D is a Linear with its weight transposed
        for name, child in module.named_children():
            if isinstance(child, Conv1D):
                linear = torch.nn.Linear(child.weight.shape[0], child.weight.shape[1])
                linear.weight.data = child.weight.data.T.contiguous()
                linear.bias.data = child.bias.data
                setattr(module, name, linear)
            else:
                as_linear(child)

    gpt = model.gpt
    quantized = copy.deepcopy(gpt)
    as_linear(quantized.gpt)
    quantized = torch.ao.quantization.quantize_dynamic(quantized, {torch.nn.Linear}, torch.qint8)
    ids = torch.IntTensor(model.tokenizer.encode(TEXT.lower(), lang="en")).unsqueeze(0)

    def run(which):
        decoder = GptDecoder(which, max_streams=1)
        greedy = Decoding(greedy=True, max_new_tokens=tokens, min_new_tokens=tokens)
        with torch.inference_mode():
            token, latent_ = decoder.join(decoder.prompt(latent, ids), greedy)
            made, latents = [token], [latent_.clone()]
            began = time.perf_counter()
            while not decoder.slots[0].finished:
                [(token, latent_)] = decoder.step()
                made.append(token)
                latents.append(latent_.clone())
            ms = (time.perf_counter() - began) * 1000 / max(1, tokens - 1)
        return made, torch.stack(latents), ms

    exact, quick = run(gpt), run(quantized)
    pairs = enumerate(zip(exact[0], quick[0], strict=True))
    agree = next((i for i, (a, b) in pairs if a != b), tokens)
    deviation = float((exact[1][:agree] - quick[1][:agree]).abs().max())
    return {
        "fp32_ms_per_token": round(exact[2], 1),
        "int8_ms_per_token": round(quick[2], 1),
        "speed_up": round(exact[2] / quick[2], 2),
        "greedy_tokens_equal_for": agree,
        "latent_deviation_of_scale": round(deviation / float(exact[1].abs().max()), 4),
    }


def batched(model, latent, tokens: int, sizes: list[int]) -> dict:
    """B streams of ``tokens`` tokens opened at once: aggregate tokens per second."""
    import torch

    from readaloud.engines.xtts.batching import BatchedDecoder
    from readaloud.engines.xtts.decoder import Decoding

    gpt = model.gpt
    ids = torch.IntTensor(model.tokenizer.encode(TEXT.lower(), lang="en")).unsqueeze(0)
    ids = ids.to(latent.device)
    cond = latent.to(next(gpt.parameters()).dtype)
    decoding = Decoding.of({**SAMPLING, "max_new_tokens": tokens, "min_new_tokens": tokens})
    figures = {}
    for size in sizes:
        decoder = BatchedDecoder(gpt, max_streams=size)
        torch.manual_seed(SEED)
        firsts: list[float] = []
        counts: list[int] = []

        def read(stream, began: float, firsts=firsts, counts=counts) -> None:
            count = 0
            for _ in stream:
                if count == 0:
                    firsts.append(time.perf_counter() - began)
                count += 1
            counts.append(count)

        began = time.perf_counter()
        streams = [decoder.open(cond, ids, decoding, threading.Event()) for _ in range(size)]
        readers = [threading.Thread(target=read, args=(s, began)) for s in streams]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        wall = time.perf_counter() - began
        full = [
            t for n, t in zip(decoder.step_sizes, decoder.step_seconds, strict=True) if n == size
        ]
        step = sorted(full)[len(full) // 2] if full else float("nan")
        figures[str(size)] = {
            "tokens_per_s": round(sum(counts) / wall, 1),
            "wall_s": round(wall, 2),
            "step_ms_median": round(step * 1000, 1),
            "decode_tokens_per_s": round(size / step, 1),
            "first_token_s_max": round(max(firsts), 3),
            "steps_shared_max": max(decoder.step_sizes),
        }
    one = figures.get("1")
    if one:
        for row in figures.values():
            row["vs_batch_1"] = round(row["tokens_per_s"] / one["tokens_per_s"], 2)
            row["decode_vs_batch_1"] = round(
                row["decode_tokens_per_s"] / one["decode_tokens_per_s"], 2
            )
    return figures


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _row(first: float, total: float, samples: int, chunks: int, first_samples: int) -> dict:
    return {
        "first_chunk_s": round(first, 3),
        "total_s": round(total, 3),
        "audio_s": round(samples / 24000, 2),
        "chunks": chunks,
        "first_chunk_audio_s": round(first_samples / 24000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=240, help="audio tokens per run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads (0: default)")
    parser.add_argument("--skip-unfolded", action="store_true", help="skip 'stock, as loaded'")
    parser.add_argument("--batches", default="1,4,8", help="stream counts for the batch runs")
    parser.add_argument("--int8", action="store_true", help="also the GPT in int8 (CPU)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    import torch

    from readaloud.engines.xtts.loader import _quiet_libraries, fold_weight_norm
    from readaloud.engines.xtts.options import StreamOptions

    _quiet_libraries()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.precision]
    began = time.perf_counter()
    model, latent, embedding = build(args.device, args.precision)
    parameters = sum(p.numel() for p in model.parameters())
    built_s = time.perf_counter() - began
    # One short untimed pass of each, so neither pays first-call costs in the figures.
    run_stock(model, "Warm up.", latent, embedding, 4, dtype)

    results: dict = {
        "machine": _machine(args.device),
        "device": args.device,
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "parameters_m": round(parameters / 1e6, 1),
        "build_s": round(built_s, 1),
        "tokens": args.tokens,
        "text_chars": len(TEXT),
        "runs": {},
    }
    if not args.skip_unfolded:
        results["runs"]["stock, as loaded"] = run_stock(
            model, TEXT, latent, embedding, args.tokens, dtype
        )
    fold_weight_norm(model.hifigan_decoder)
    run_readaloud(model, "Warm up.", latent, embedding, 4, dtype)
    results["runs"]["stock, readaloud load"] = run_stock(
        model, TEXT, latent, embedding, args.tokens, dtype
    )
    results["runs"]["readaloud"] = run_readaloud(model, TEXT, latent, embedding, args.tokens, dtype)
    for first in (4, 8):  # the other first-chunk size than the default, to see if it pays
        if first != StreamOptions().first_chunk_tokens:
            results["runs"][f"readaloud, first chunk {first}"] = run_readaloud(
                model, TEXT, latent, embedding, args.tokens, dtype, first
            )
    ours = results["runs"]["readaloud"]
    for name, row in results["runs"].items():
        if not name.startswith("readaloud"):
            row["first_chunk_ratio"] = round(row["first_chunk_s"] / ours["first_chunk_s"], 2)
            row["total_ratio"] = round(row["total_s"] / ours["total_s"], 2)
    results["per_token_ms"] = per_token_ms(model, latent, args.tokens)
    sizes = [int(size) for size in args.batches.split(",") if size.strip()]
    results["batch"] = batched(model, latent, args.tokens, sizes)
    if args.int8:
        results["int8"] = int8_gpt(model, latent, args.tokens)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


def _machine(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"


def print_table(results: dict) -> None:
    print(
        f"XTTS v2 streaming, {results['parameters_m']} M parameters (random weights), "
        f"{results['device']} {results['precision']}, {results['machine']}, "
        f"{results['threads']} threads; {results['tokens']} audio tokens "
        f"({results['text_chars']}-character sentence)"
    )
    header = f"{'run':<24}{'first chunk':>12}{'total':>9}{'audio':>8}{'chunks':>8}"
    print(header + f"{'1st ratio':>11}{'total ratio':>13}")
    for name, row in results["runs"].items():
        print(
            f"{name:<24}{row['first_chunk_s']:>11.2f}s{row['total_s']:>8.2f}s"
            f"{row['audio_s']:>7.2f}s{row['chunks']:>8}"
            f"{row.get('first_chunk_ratio', 1.0):>10.2f}x{row.get('total_ratio', 1.0):>12.2f}x"
        )
    tokens = results["per_token_ms"]
    print(
        f"GPT per token after the prompt: coqui's generate {tokens['coqui_generate']:.1f} ms, "
        f"readaloud's loop {tokens['readaloud_batch_1']:.1f} ms ({tokens['ratio']:.2f}x)"
    )
    for size, row in results["batch"].items():
        print(
            f"batch {size:>2}: {row['tokens_per_s']:7.1f} tokens/s in all "
            f"({row.get('vs_batch_1', 1.0):.2f}x batch 1; steps alone "
            f"{row['decode_tokens_per_s']:.1f}/s, {row.get('decode_vs_batch_1', 1.0):.2f}x), "
            f"last stream's first token {row['first_token_s_max']:.2f} s"
        )
    if "int8" in results:
        q = results["int8"]
        print(
            f"GPT in int8: {q['int8_ms_per_token']:.1f} ms per token against "
            f"{q['fp32_ms_per_token']:.1f} in fp32 ({q['speed_up']:.2f}x); greedy tokens equal "
            f"for {q['greedy_tokens_equal_for']}, latents off by "
            f"{q['latent_deviation_of_scale']:.2%} of their scale"
        )
    ours = results["runs"]["readaloud"]
    print(
        f"readaloud's stream vs a whole decode of the same latents: max error "
        f"{ours['max_error_of_peak']:.1e} of peak, SNR {ours['snr_db']:.1f} dB; first chunk "
        f"{ours['first_chunk_audio_s']:.2f} s of audio"
    )


if __name__ == "__main__":
    raise SystemExit(main())
