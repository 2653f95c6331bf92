"""The local backend's batched decoding loop: prefix reuse, and no work for rows that are done.

One call decodes a batch of tokenised prompts with one :class:`GenerationConfig`:

1. **Prefix reuse.** Each prompt takes the longest opening it shares with an
   entry of the :class:`PrefixStore` (when the batch's common opening is longer
   than any stored one, it is computed once, batch of one, and stored). Only the
   rest of each prompt is prefilled. The cache is laid out as ``[stored opening |
   gap | left padding | rest]`` per row; the attention mask hides gap and padding
   and the position ids count real tokens only, so every row computes what it
   would alone. Each prompt's full KV is stored afterwards, which is what a CPEG
   retry (the first prompt plus error examples) reuses.
2. **Finished rows leave.** A row that emitted an end-of-sequence token or a
   stop string, or reached ``max_new_tokens``, is dropped from the batch (its
   cache rows too) once a quarter of the batch is done, instead of decoding
   padding until the longest row ends as ``model.generate`` does.

:func:`next_token_logprobs` runs steps 1 and 2 only, for the option scoring of
:mod:`explainrec.llm.options`. It calls the model's own ``forward`` with a cache that grows in place (:mod:`explainrec.llm.kvcache`);
greedy decoding picks the argmax, sampling uses transformers' temperature and
top-p warpers with a seeded generator. :class:`DecodeProfile` counts where the
time goes (``bench/llm_profile.py`` prints it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from explainrec.llm.kvcache import new_cache
from explainrec.llm.prefix import PrefixStore, common_prefix_len
from explainrec.llm.types import GenerationConfig

#: drop finished rows once at least this share of the rows still in the batch is done
DROP_SHARE = 0.25
#: a batch's common opening is computed once (and stored) when it is at least this many tokens
MIN_SHARED = 16


@dataclass
class DecodeProfile:
    """Running totals of one backend's decoding work.

    ``prompt_tokens`` are the prompts' real tokens; ``reused_tokens`` of them came
    from the prefix store, ``prefix_tokens`` were computed once as a batch's common
    opening, ``prefill_tokens`` were computed in the batched prefill and
    ``pad_tokens`` is the padding computed with them. ``row_steps`` counts
    (row, decode step) forwards; ``finished_row_steps`` of them were for rows that
    had already finished.
    """

    calls: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    prefix_tokens: int = 0
    prefill_tokens: int = 0
    pad_tokens: int = 0
    new_tokens: int = 0
    row_steps: int = 0
    finished_row_steps: int = 0
    prefix_s: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0

    def add(self, other: "DecodeProfile") -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)

    def as_metrics(self) -> dict[str, Any]:
        d = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}
        total = self.prefix_s + self.prefill_s + self.decode_s
        d["reused_share"] = round(self.reused_tokens / self.prompt_tokens, 4) if self.prompt_tokens else 0.0
        d["prefill_share_of_time"] = round((self.prefix_s + self.prefill_s) / total, 4) if total else 0.0
        return d


@dataclass
class Decoded:
    """One row's result: its new token ids (no end-of-sequence token)."""

    ids: list[int]


def _select(logits: Any, params: GenerationConfig, generator: Any, warpers: list[Any]) -> Any:
    import torch

    if params.greedy:
        return logits.argmax(dim=-1)
    scores = logits.float()
    for w in warpers:
        scores = w(None, scores)
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _warpers(params: GenerationConfig) -> list[Any]:
    if params.greedy:
        return []
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

    ws: list[Any] = [TemperatureLogitsWarper(params.temperature)]
    if params.top_p < 1.0:
        ws.append(TopPLogitsWarper(params.top_p))
    return ws


def _kv_layers(cache: Any) -> list[tuple[Any, Any]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _prefill(model: Any, ids: list[list[int]], pad_id: int, store: PrefixStore | None,
             prof: DecodeProfile) -> tuple[Any, Any, Any]:
    """Steps 1 and 2: reuse stored openings, prefill the rest in one batch, store each prompt's KV.
    Returns the last position's logits, the cache and the attention mask."""
    import torch

    device = model.device
    n = len(ids)
    lens = [len(p) for p in ids]
    if min(lens) < 1:
        raise ValueError("every prompt needs at least one token")
    prof.prompt_tokens += sum(lens)

    # -- 1. which opening each row reuses -------------------------------------------------------
    entries: list[Any] = [None] * n
    reuse = [0] * n
    if store is not None and store.max_bytes > 0:
        matches = [store.match(p) for p in ids]
        entries = [e for e, _ in matches]
        reuse = [k for _, k in matches]
        first = np.asarray(ids[0])  # the batch's common opening, leaving every row a token to compute
        common = min([n_ - 1 for n_ in lens] + [common_prefix_len(first, np.asarray(p)) for p in ids[1:]])
        if n > 1 and common >= MIN_SHARED and common > min(reuse):
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = model(input_ids=torch.tensor([ids[0][:common]], device=device), use_cache=True,
                            logits_to_keep=1)
            kv = [(k[0].clone(), v[0].clone()) for k, v in _kv_layers(out.past_key_values)]
            prof.prefix_s += time.perf_counter() - t0
            prof.prefix_tokens += common
            shared = store.add(ids[0][:common], kv)
            for i in range(n):
                if reuse[i] < common:
                    entries[i], reuse[i] = shared, common
    prof.reused_tokens += sum(reuse)

    # -- 2. batched prefill of the rest ----------------------------------------------------------
    p_max = max(reuse)
    rest = [lens[i] - reuse[i] for i in range(n)]
    r_max = max(rest)
    input_ids = torch.full((n, r_max), pad_id, dtype=torch.long)
    position_ids = torch.zeros((n, r_max), dtype=torch.long)
    mask = torch.zeros((n, p_max + r_max), dtype=torch.long)
    for i in range(n):
        input_ids[i, r_max - rest[i]:] = torch.tensor(ids[i][reuse[i]:])
        position_ids[i, r_max - rest[i]:] = torch.arange(reuse[i], lens[i])
        mask[i, : reuse[i]] = 1
        mask[i, p_max + r_max - rest[i]:] = 1
    layers = None
    if p_max:
        layers = []
        for li, (k0, v0) in enumerate(next(e for e in entries if e is not None).kv):
            k = k0.new_zeros((n, k0.shape[0], p_max, k0.shape[2]))
            v = v0.new_zeros((n, v0.shape[0], p_max, v0.shape[2]))
            for i, e in enumerate(entries):
                if reuse[i]:
                    k[i, :, : reuse[i]] = e.kv[li][0][:, : reuse[i]]
                    v[i, :, : reuse[i]] = e.kv[li][1][:, : reuse[i]]
            layers.append((k, v))
    cache = new_cache(model.config, layers)
    prof.prefill_tokens += sum(rest)
    prof.pad_tokens += n * r_max - sum(rest)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                    position_ids=position_ids.to(device), past_key_values=cache, use_cache=True, logits_to_keep=1)
    logits = out.logits[:, -1]
    if store is not None and store.max_bytes > 0:
        for i in range(n):
            lo = p_max + r_max - rest[i]
            store.add(ids[i], [(torch.cat([k[i, :, : reuse[i]], k[i, :, lo:]], dim=1),
                                torch.cat([v[i, :, : reuse[i]], v[i, :, lo:]], dim=1))
                               for k, v in _kv_layers(cache)])
    prof.prefill_s += time.perf_counter() - t0
    return logits, cache, mask


def next_token_logprobs(model: Any, prompts: Sequence[Sequence[int]], *, pad_id: int,
                        store: PrefixStore | None, profile: DecodeProfile | None = None) -> Any:
    """The log-softmax of the next token after each prompt (float32, one row per prompt),
    with the same prefix reuse as :func:`decode_batch` (each prompt's KV is stored too)."""
    import torch

    prof = DecodeProfile(calls=1)
    logits, _, _ = _prefill(model, [list(p) for p in prompts], pad_id, store, prof)
    if profile is not None:
        profile.add(prof)
    return torch.log_softmax(logits.float(), dim=-1)


def decode_batch(model: Any, prompts: Sequence[Sequence[int]], params: GenerationConfig, *, pad_id: int,
                 eos_ids: set[int], store: PrefixStore | None, drop_finished: bool = True,
                 stop_hit: Callable[[list[int]], bool] | None = None,
                 profile: DecodeProfile | None = None) -> list[Decoded]:
    """Decode ``prompts`` (token ids, no padding) with ``params``; one :class:`Decoded` per prompt, in order.

    ``stop_hit(new_ids)`` says whether a row's new tokens contain a stop string.
    ``store`` (None: no reuse) is read and extended; ``profile`` is added to.
    """
    import torch

    prof = DecodeProfile(calls=1)
    device = model.device
    n = len(prompts)
    ids = [list(p) for p in prompts]
    lens = [len(p) for p in ids]
    logits, cache, mask = _prefill(model, ids, pad_id, store, prof)

    # -- 3. decode, dropping rows that are done -------------------------------------------------
    t0 = time.perf_counter()
    warpers = _warpers(params)
    generator = None
    if not params.greedy:
        generator = torch.Generator(device=device).manual_seed(params.seed)
    new: list[list[int]] = [[] for _ in range(n)]
    rows = list(range(n))  # batch position -> prompt index
    done = [False] * n
    next_pos = torch.tensor(lens, dtype=torch.long)
    mask = mask.to(device)
    with torch.inference_mode():
        while True:
            picked = _select(logits, params, generator, warpers).tolist()
            for b, i in enumerate(rows):
                if done[i]:
                    continue
                t = picked[b]
                if t in eos_ids:
                    done[i] = True
                    continue
                new[i].append(t)
                if len(new[i]) >= params.max_new_tokens or (stop_hit is not None and stop_hit(new[i])):
                    done[i] = True
            n_done = sum(done[i] for i in rows)
            if n_done == len(rows):
                break
            if drop_finished and n_done >= max(1, DROP_SHARE * len(rows)):
                keep = [b for b, i in enumerate(rows) if not done[i]]
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                mask = mask[index]
                next_pos = next_pos[keep]
                picked = [picked[b] for b in keep]
                rows = [rows[b] for b in keep]
            step_ids = torch.tensor([[pad_id if done[i] else t] for i, t in zip(rows, picked)], device=device)
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            prof.row_steps += len(rows)
            prof.finished_row_steps += sum(done[i] for i in rows)
            out = model(input_ids=step_ids, attention_mask=mask, position_ids=next_pos[:, None].to(device),
                        past_key_values=cache, use_cache=True)
            logits = out.logits[:, -1]
            next_pos = next_pos + 1
    prof.decode_s = time.perf_counter() - t0
    prof.new_tokens = sum(len(x) for x in new)
    if profile is not None:
        profile.add(prof)
    return [Decoded(x) for x in new]

