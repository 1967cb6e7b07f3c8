"""XTTS's GPT decoded by readaloud: a static KV cache, the prompt in one pass, then one step per
audio token for every open stream at once (continuous batching).

Written here because no maintained library decodes this model: coqui-tts goes through Hugging
Face's ``generate`` (one stream, a cache that grows by concatenation, a new attention mask and
many small calls per token), and the serving engines do not load XTTS's prefix-conditioned GPT.
The arithmetic is GPT-2's on the model's own modules; sampling uses transformers' own logits
processors, in the order ``generate`` applies them, so a stream draws from the same distribution.

* ``GptDecoder`` owns the cache: ``join`` runs a stream's prompt (voice latents, text, the
  start-of-audio token) into its slot; ``step`` feeds every slot's last token at once. Streams
  occupy slots ``0..n-1``; one that leaves has the last slot's cache moved into its place, so a
  step reads one contiguous view and copies nothing.
* batching.py runs that on one thread for every open stream.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from transformers import (
    LogitsProcessorList,
    MinNewTokensLengthLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


@dataclass(frozen=True)
class Decoding:
    """How one stream picks its tokens (coqui's names; None: not applied)."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    #: The most audio tokens, the stop token included (0: the model's limit).
    max_new_tokens: int = 0
    min_new_tokens: int = 0
    #: Always the likeliest token (for tests and checks): no temperature, top-k or top-p.
    greedy: bool = False

    @classmethod
    def of(cls, settings: dict) -> Decoding:
        """From the keyword arguments coqui's ``generate`` takes (unknown ones ignored)."""
        top_k = settings.get("top_k")
        return cls(
            temperature=settings.get("temperature"),
            top_k=int(top_k) if top_k is not None else None,
            top_p=settings.get("top_p"),
            repetition_penalty=settings.get("repetition_penalty"),
            max_new_tokens=int(settings.get("max_new_tokens") or 0),
            min_new_tokens=int(settings.get("min_new_tokens") or 0),
            greedy=settings.get("do_sample") is False,
        )

    def processors(self, prompt_length: int, stop_token: int) -> LogitsProcessorList:
        """transformers' processors for these settings, in ``generate``'s order."""
        chain = LogitsProcessorList()
        if self.repetition_penalty is not None and self.repetition_penalty != 1.0:
            chain.append(RepetitionPenaltyLogitsProcessor(self.repetition_penalty))
        if self.min_new_tokens > 0:
            chain.append(
                MinNewTokensLengthLogitsProcessor(prompt_length, self.min_new_tokens, stop_token)
            )
        if self.greedy:
            return chain
        if self.temperature is not None and self.temperature != 1.0:
            chain.append(TemperatureLogitsWarper(self.temperature))
        if self.top_k is not None and self.top_k != 0:
            chain.append(TopKLogitsWarper(top_k=self.top_k))
        if self.top_p is not None and self.top_p < 1.0:
            chain.append(TopPLogitsWarper(top_p=self.top_p))
        return chain


#: Voices whose part of the prompt is kept (8 MB each for XTTS v2 in fp32).
_KEPT_VOICES = 8


@dataclass(frozen=True)
class Prompt:
    """A stream's prompt: the voice's latents ``[1, V, width]``, then the text and the
    start-of-audio token ``[1, R, width]``."""

    cond: torch.Tensor
    rest: torch.Tensor

    @property
    def length(self) -> int:
        return self.cond.shape[1] + self.rest.shape[1]

    def voice_key(self) -> bytes:
        """The voice, told apart by its latents' bytes."""
        flat = self.cond.detach().float().cpu().contiguous().numpy()
        return hashlib.blake2b(flat.tobytes(), digest_size=16).digest() + bytes(
            str(flat.shape), "ascii"
        )


class _Slot:
    """One stream's place in the batch: the ids so far (the prompt's placeholders too, as
    ``generate`` keeps them for the repetition penalty), its length in the cache."""

    def __init__(self, ids: torch.Tensor, decoding: Decoding, stop_token: int, limit: int):
        self.ids = ids  # [1, length] long, on the CPU
        self.length = ids.shape[1]  # positions filled in the cache
        self.last = int(ids[0, -1])
        self.generated = 0
        self.limit = limit
        self.stop_token = stop_token
        self.greedy = decoding.greedy
        self.processors = decoding.processors(ids.shape[1], stop_token)
        #: The first token's scores after the processors (what it was drawn from).
        self.first_scores: torch.Tensor | None = None

    def choose(self, logits: torch.Tensor) -> int:
        """The next token from ``logits`` ``[vocab]`` (float32)."""
        scores = self.processors(cast(torch.LongTensor, self.ids), logits[None, :])
        if self.first_scores is None:
            self.first_scores = scores[0]
        if self.greedy:
            token = int(torch.argmax(scores, dim=-1))
        else:
            token = int(torch.multinomial(F.softmax(scores, dim=-1), num_samples=1))
        self.ids = torch.cat([self.ids, torch.tensor([[token]])], dim=1)
        self.last = token
        self.generated += 1
        return token

    @property
    def finished(self) -> bool:
        return self.last == self.stop_token or self.generated >= self.limit


class GptDecoder:
    """XTTS's GPT (``model.gpt``, coqui's ``GPT``) with a preallocated cache of ``slots``."""

    def __init__(self, gpt, max_streams: int = 8) -> None:
        self.gpt = gpt
        self.blocks = list(gpt.gpt.h)
        first = self.blocks[0].attn
        self.heads = int(first.num_heads)
        self.head_dim = int(first.head_dim)
        self.width = int(first.embed_dim)
        self.max_streams = max(1, max_streams)
        self.start_token = int(gpt.start_audio_token)
        self.stop_token = int(gpt.stop_audio_token)
        self.max_new_tokens = int(gpt.max_gen_mel_tokens)
        #: Positions a slot holds: the longest prompt (32 voice latents, the text tokens with
        #: their start and stop, the start-of-audio token) and every audio token, so that the
        #: cache is made once, at the first (warm-up) stream, and never grows under a request.
        self.length = 32 + int(gpt.max_text_tokens) + 1 + self.max_new_tokens
        self.slots: list[_Slot] = []
        # A voice's keys and values (every layer's, then every layer's values), by voice.
        self._voices: OrderedDict[bytes, list[torch.Tensor]] = OrderedDict()
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []

    @property
    def device(self) -> torch.device:
        return self.gpt.mel_embedding.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.gpt.mel_embedding.weight.dtype

    @property
    def capacity(self) -> int:
        return self._keys[0].shape[0] if self._keys else 0

    @property
    def cache_length(self) -> int:
        return self._keys[0].shape[2] if self._keys else 0

    # -- the prompt ------------------------------------------------------------------------------

    def prompt(self, cond_latent: torch.Tensor, text_tokens: torch.Tensor) -> Prompt:
        """The voice's latents, then the text with its start and stop tokens and the
        start-of-audio token at audio position 0 (as coqui's compute_embeddings and
        GPT2InferenceModel's first forward build them)."""
        gpt = self.gpt
        text = F.pad(text_tokens, (0, 1), value=gpt.stop_text_token)
        text = F.pad(text, (1, 0), value=gpt.start_text_token)
        text_emb = gpt.text_embedding(text) + gpt.text_pos_embedding(text)
        start = torch.full((1, 1), self.start_token, dtype=torch.long, device=text.device)
        audio_emb = gpt.mel_embedding(start) + gpt.mel_pos_embedding(start)
        rest = torch.cat([text_emb, audio_emb.to(text_emb.dtype)], dim=1)
        return Prompt(cond_latent.to(text_emb.dtype), rest)

    # -- joining and leaving ---------------------------------------------------------------------

    def reserve(self, streams: int) -> None:
        """Room for ``streams`` streams at once (at most ``max_streams``), made now."""
        self._make_room(min(self.max_streams, streams), self.length)

    def join(self, prompt: Prompt, decoding: Decoding) -> tuple[int, torch.Tensor]:
        """Run a new stream's prompt into the next free slot: its first ``(token, latent)``.

        A voice met before skips its part of the prompt: the keys and values of its latents
        depend on nothing after them (the attention is causal and GPT-2 here has no position
        embedding), so they are kept from its first stream and copied in."""
        if len(self.slots) >= self.max_streams:
            raise RuntimeError("no free slot")  # BatchedDecoder never asks for more
        voice, length = prompt.cond.shape[1], prompt.length
        limit = min(decoding.max_new_tokens or self.max_new_tokens, self.max_new_tokens)
        self._make_room(len(self.slots) + 1, length + limit)
        ids = torch.ones(1, length, dtype=torch.long)
        ids[0, -1] = self.start_token
        slot = _Slot(ids, decoding, self.stop_token, limit)
        index = len(self.slots)
        key = prompt.voice_key()
        known = self._voices.get(key)
        if known is None:
            hidden = torch.cat([prompt.cond, prompt.rest], dim=1).to(self.device, self.dtype)
            start = 0
        else:
            self._voices.move_to_end(key)
            for cache, held in zip((*self._keys, *self._values), known, strict=True):
                cache[index, :, :voice] = held
            hidden = prompt.rest.to(self.device, self.dtype)
            start = voice
        for layer, block in enumerate(self.blocks):
            hidden = self._block(layer, block, hidden, index=index, start=start, length=length)
        if known is None:
            self._voices[key] = [c[index, :, :voice].clone() for c in (*self._keys, *self._values)]
            while len(self._voices) > _KEPT_VOICES:
                self._voices.popitem(last=False)
        hidden = self.gpt.gpt.ln_f(hidden[:, -1])
        latent = self.gpt.final_norm(hidden)
        logits = self.gpt.mel_head(latent).float().cpu()
        self.slots.append(slot)
        return slot.choose(logits[0]), latent[0]

    def leave(self, index: int) -> None:
        """Free slot ``index``: the last slot's cache moves into it."""
        last = len(self.slots) - 1
        if index != last:
            length = self.slots[last].length
            for cache in (*self._keys, *self._values):
                cache[index, :, :length] = cache[last, :, :length]
            self.slots[index] = self.slots[last]
        self.slots.pop()
        if not self.slots and self.capacity > 1:  # idle: back to one slot's memory
            size = self.cache_length
            self._keys, self._values = [], []
            self._make_room(1, size)

    # -- one token for every stream --------------------------------------------------------------

    def step(self) -> list[tuple[int, torch.Tensor]]:
        """Each slot's last token in, each slot's next ``(token, latent)`` out, in slot order."""
        tokens = torch.tensor([s.last for s in self.slots], device=self.device)
        # Audio position of each input token: the start token was at 0.
        positions = torch.tensor([s.generated for s in self.slots], device=self.device)
        hidden = self.gpt.mel_embedding(tokens) + self.gpt.mel_pos_embedding.emb(positions)
        hidden = hidden.to(self.dtype)[:, None, :]  # [count, 1, width]
        lengths = [s.length for s in self.slots]
        longest = max(lengths) + 1
        at = torch.tensor(lengths, device=self.device)
        mask = None
        if min(lengths) != max(lengths):  # rows of different lengths: each sees its own
            reach = torch.arange(longest, device=self.device)[None, :] <= at[:, None]
            mask = reach[:, None, None, :]  # [count, 1, 1, longest]
        for layer, block in enumerate(self.blocks):
            hidden = self._block(layer, block, hidden, at=at, longest=longest, mask=mask)
        hidden = self.gpt.gpt.ln_f(hidden[:, -1])
        latents = self.gpt.final_norm(hidden)
        logits = self.gpt.mel_head(latents).float().cpu()
        out = []
        for row, slot in enumerate(self.slots):
            slot.length += 1
            out.append((slot.choose(logits[row]), latents[row]))
        return out

    # -- internals -------------------------------------------------------------------------------

    def _block(
        self,
        layer: int,
        block,
        x: torch.Tensor,
        *,
        index: int | None = None,
        start: int = 0,
        length: int = 0,
        at: torch.Tensor | None = None,
        longest: int = 0,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """GPT-2's block (``transformers``' GPT2Block in eval mode) with this cache: a prompt
        (``index``: its slot, positions ``start`` to ``length``, causal) or a step (``at``:
        where each row's token goes, attending to the first ``longest`` positions, ``mask``
        per row)."""
        rows, count, _ = x.shape
        attn = block.attn
        q, k, v = attn.c_attn(block.ln_1(x)).split(self.width, dim=2)
        shape = (rows, count, self.heads, self.head_dim)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        keys, values = self._keys[layer], self._values[layer]
        if index is not None and start == 0:
            keys[index, :, :length] = k[0]
            values[index, :, :length] = v[0]
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=attn.scaling)
        elif index is not None:  # the voice's part is in the cache: the rest sees it all
            keys[index, :, start:length] = k[0]
            values[index, :, start:length] = v[0]
            seen = torch.ones(count, length, dtype=torch.bool, device=x.device)
            seen[:, start:] = torch.ones(count, count, dtype=torch.bool, device=x.device).tril()
            out = F.scaled_dot_product_attention(
                q,
                keys[index : index + 1, :, :length],
                values[index : index + 1, :, :length],
                attn_mask=seen,
                scale=attn.scaling,
            )
        else:
            assert at is not None
            row = torch.arange(rows, device=x.device)
            keys[row, :, at] = k[:, :, 0]
            values[row, :, at] = v[:, :, 0]
            out = F.scaled_dot_product_attention(
                q,
                keys[:rows, :, :longest],
                values[:rows, :, :longest],
                attn_mask=mask,
                scale=attn.scaling,
            )
        out = attn.c_proj(out.transpose(1, 2).reshape(rows, count, self.width))
        x = x + out
        return x + block.mlp(block.ln_2(x))

    def _make_room(self, slots: int, length: int) -> None:
        """A cache of at least ``slots`` slots of ``length`` positions (grown by doubling; what
        it held is kept)."""
        capacity, size = self.capacity, self.cache_length
        if slots <= capacity and length <= size:
            return
        new_capacity = capacity
        if slots > capacity:
            new_capacity = max(slots, min(self.max_streams, capacity * 2))
        new_size = max(length, size, self.length)
        shape = (new_capacity, self.heads, new_size, self.head_dim)
        filled = max((s.length for s in self.slots), default=0)
        for caches in (self._keys, self._values):
            grown = []
            for layer in range(len(self.blocks)):
                cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
                if caches:
                    held = caches[layer][: len(self.slots), :, :filled]
                    cache[: len(self.slots), :, :filled] = held
                grown.append(cache)
            caches[:] = grown
