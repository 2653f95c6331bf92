"""XRec's explanations for the test pairs: greedy decoding with the adapted vectors injected.

Prompts are left-padded into batches; ``model.generate`` decodes them with the
injection hooks attached, so the user's and the item's vectors enter at the prefill
(the decoding steps' new tokens are never reserved ones: generation suppresses
them). Stops at the end-of-turn token or ``max_new_tokens`` (128, as in XRec's code).

Every answer is stored in the project's response cache under the base model, the
adapters' and the graph embeddings' content hashes, the injection switch and the pair, so
a killed run repeats no finished batch and a rerun with the same weights generates
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explainrec.core.config import check_int
from explainrec.llm.types import ChatRequest, Completion
from explainrec.xrec.frozen import FrozenLM
from explainrec.xrec.inject import Injector
from explainrec.xrec.moe import Adapters


@dataclass(frozen=True)
class GenerateConfig:
    """``xrec.generate``: new tokens per explanation and prompts per batch."""

    max_new_tokens: int = 128
    batch_size: int = 16

    def __post_init__(self) -> None:
        check_int(self.max_new_tokens, "max_new_tokens")
        check_int(self.batch_size, "batch_size")


def state_hash(module: torch.nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, shapes and bytes)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _left_pad(rows: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, width - len(r):] = torch.tensor(r)
        mask[k, width - len(r):] = 1
    return ids, mask


def generate_ids(lm: FrozenLM, injector: Injector, user: torch.Tensor, item: torch.Tensor,
                 prompts: Sequence[list[int]], max_new_tokens: int) -> torch.Tensor:
    """Greedy new token ids ([B, <= max_new_tokens], on the CPU) after the left-padded ``prompts``, with
    ``user``/``item`` ([B, hidden], on any device) injected; XRec's reserved tokens are suppressed."""
    ids, mask = _left_pad(prompts, int(lm.tokenizer.pad_token_id))
    ids, mask = ids.to(lm.device), mask.to(lm.device)
    with torch.no_grad(), injector.vectors(user, item):
        out = lm.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                                suppress_tokens=lm.suppressed(), pad_token_id=int(lm.tokenizer.pad_token_id),
                                eos_token_id=sorted(lm.backend.eos_ids), num_beams=1,
                                temperature=None, top_p=None, top_k=None)
    return out[:, ids.shape[1]:].cpu()


def decode(lm: FrozenLM, injector: Injector, user: torch.Tensor, item: torch.Tensor, prompts: Sequence[list[int]],
           max_new_tokens: int) -> list[tuple[str, int]]:
    """Greedy continuations of ``prompts`` with ``user``/``item`` ([B, hidden]) injected: (text, new tokens)."""
    new = generate_ids(lm, injector, user, item, prompts, max_new_tokens)
    texts = []
    for row in new.tolist():
        n = next((k for k, t in enumerate(row) if t in lm.backend.eos_ids), len(row))
        texts.append((" ".join(lm.tokenizer.decode(row[:n], skip_special_tokens=True).split()), n))
    return texts


def generate_explanations(lm: FrozenLM, adapters: Adapters, users: np.ndarray, items: np.ndarray,
                          requests: Sequence[ChatRequest], pair_keys: Sequence[str], all_layers: bool,
                          config: GenerateConfig, graph_hash: str, cache_path: str | Path | None = None,
                          progress: bool = True) -> tuple[list[str], dict[str, Any]]:
    """One explanation per request (``pair_keys`` name the pairs, e.g. ``user|item``), cached; and the
    counts of generated and cached answers and new tokens."""
    from tqdm.auto import tqdm

    from explainrec.llm.cache import ResponseCache, cache_key, default_cache_path

    base = f"xrec|{lm.identity}|adapters:{state_hash(adapters)}|graph:{graph_hash}|all_layers:{all_layers}"
    idents = [f"{base}|{k}" for k in pair_keys]
    keys = [cache_key(i, r) for i, r in zip(idents, requests)]
    stats = {"generated": 0, "cached": 0, "new_tokens": 0}
    texts: list[str | None] = [None] * len(requests)
    with ResponseCache(cache_path or default_cache_path()) as cache:
        found = cache.get_many(keys)
        todo = []
        for k, key in enumerate(keys):
            if key in found:
                texts[k] = found[key].text
                stats["cached"] += 1
            else:
                todo.append(k)
        adapters.eval()
        injector = Injector(lm.model, lm.token_ids, all_layers=all_layers)
        prompts = {k: lm.prompt_ids(requests[k]) for k in todo}
        todo.sort(key=lambda k: len(prompts[k]))
        bar = tqdm(total=len(todo), desc="xrec generate", unit="pair", disable=not progress)
        with injector:
            for s in range(0, len(todo), config.batch_size):
                chunk = todo[s:s + config.batch_size]
                with torch.no_grad():  # on the adapters' device; the hooks move the vectors to the LLM's
                    u, i = adapters(torch.from_numpy(users[chunk]), torch.from_numpy(items[chunk]))
                outs = decode(lm, injector, u, i, [prompts[k] for k in chunk], config.max_new_tokens)
                cache.put_many([(keys[k], Completion(t, len(prompts[k]), n)) for k, (t, n) in zip(chunk, outs)],
                               identity=base, requests=[requests[k] for k in chunk])
                for k, (t, n) in zip(chunk, outs):
                    texts[k] = t
                    stats["generated"] += 1
                    stats["new_tokens"] += n
                bar.update(len(chunk))
        bar.close()
    return [t or "" for t in texts], stats
