"""Training XRec's adapters on a frozen LLM (paper 001 Eq. 13) and scoring the test NLL.

Each training sequence is the Fig. 2 prompt (ending with ``<EXPLAIN_POS>``) followed by
the target explanation and the end-of-turn token; the loss is the mean negative
log-likelihood of those explanation tokens only (the prompt and the padding are masked).
Only the two adapters train (Adam, ``learning_rate`` 1e-4 as in XRec's code); the LLM
is frozen and in eval mode, the adapters in train mode (dropout 0.2, noisy gates). The
same loss on the test pairs, before and after training, says whether the adapters
learnt anything the references reward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from explainrec.config import check_int, check_number
from explainrec.llm.types import ChatRequest
from explainrec.xrec.frozen import FrozenLM
from explainrec.xrec.inject import Injector
from explainrec.xrec.moe import Adapters


@dataclass(frozen=True)
class TrainConfig:
    """``xrec.train``: Adam on the adapters."""

    learning_rate: float = 1e-4
    batch_size: int = 4
    epochs: int = 1
    max_length: int = 512

    def __post_init__(self) -> None:
        check_number(self.learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        check_int(self.batch_size, "batch_size")
        check_int(self.epochs, "epochs")
        check_int(self.max_length, "max_length", 8)


@dataclass
class Example:
    """One sequence: token ids, the index where the explanation starts, graph vectors."""

    ids: list[int]
    start: int
    user: np.ndarray
    item: np.ndarray


def examples(lm: FrozenLM, requests: Sequence[ChatRequest], targets: Sequence[str], users: np.ndarray,
             items: np.ndarray, max_length: int) -> list[Example]:
    """Prompt + target token sequences (cut to ``max_length``; a prompt that leaves no room
    for its target keeps its first target token)."""
    out = []
    for r, t, u, i in zip(requests, targets, users, items):
        prompt = lm.prompt_ids(r)
        ids = (prompt + lm.text_ids(t))[:max(max_length, len(prompt) + 1)]
        out.append(Example(ids, len(prompt), np.asarray(u, np.float32), np.asarray(i, np.float32)))
    return out


def _batch(batch: Sequence[Example], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, attention mask and labels (-100 outside the explanations)."""
    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for r, e in enumerate(batch):
        n = len(e.ids)
        ids[r, :n] = torch.tensor(e.ids)
        mask[r, :n] = 1
        labels[r, e.start:n] = torch.tensor(e.ids[e.start:])
    return ids, mask, labels


def batch_loss(lm: FrozenLM, injector: Injector, adapters: Adapters, batch: Sequence[Example]) -> torch.Tensor:
    """Mean NLL of the explanation tokens of ``batch`` with the adapted vectors injected."""
    ids, mask, labels = _batch(batch, int(lm.tokenizer.pad_token_id))
    user, item = adapters(torch.from_numpy(np.stack([e.user for e in batch])),
                          torch.from_numpy(np.stack([e.item for e in batch])))
    with injector.vectors(user, item):
        logits = lm.model(input_ids=ids, attention_mask=mask).logits
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


def mean_loss(lm: FrozenLM, injector: Injector, adapters: Adapters, data: Sequence[Example],
              batch_size: int) -> float | None:
    """Token-weighted mean NLL over ``data`` (adapters in eval mode, no gradient)."""
    if not data:
        return None
    was = adapters.training
    adapters.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(data), batch_size):
            batch = data[s:s + batch_size]
            n = sum(len(e.ids) - e.start for e in batch)
            total += float(batch_loss(lm, injector, adapters, batch)) * n
            tokens += n
    adapters.train(was)
    return total / max(tokens, 1)


def _step(lm: FrozenLM, injector: Injector, adapters: Adapters, batch: Sequence[Example]) -> float:
    """Backpropagate ``batch``'s loss into the adapters' gradients; returns the loss.

    With several processes (:mod:`explainrec.launch`) each takes its shard of the batch, weights its
    mean by its share of the batch's explanation tokens and the gradients are summed: the batch's
    gradient and loss, as one process computes them, up to float order."""
    from explainrec import launch

    if launch.world_size() == 1:
        loss = batch_loss(lm, injector, adapters, batch)
        loss.backward()
        return loss.item()
    mine = launch.shard(batch)
    share = sum(len(e.ids) - e.start for e in mine) / sum(len(e.ids) - e.start for e in batch)
    part = 0.0
    if mine:
        loss = batch_loss(lm, injector, adapters, mine) * share
        loss.backward()
        part = loss.item()
    launch.sum_gradients([p for p in adapters.parameters() if p.requires_grad])
    return launch.all_sum(part)


def train_adapters(lm: FrozenLM, adapters: Adapters, train: Sequence[Example], test: Sequence[Example],
                   config: TrainConfig, all_layers: bool, seed: int, progress: bool = True) -> dict[str, Any]:
    """Fit ``adapters`` in place; returns per-step losses and the test NLL before and after."""
    from tqdm.auto import tqdm

    from explainrec import launch

    launch.init_process_group()  # several processes under `accelerate launch`; nothing with one
    torch.manual_seed(seed)
    order_rng = np.random.default_rng(seed)
    injector = Injector(lm.model, lm.token_ids, all_layers=all_layers)
    opt = torch.optim.Adam(adapters.parameters(), lr=config.learning_rate)
    steps: list[dict[str, Any]] = []
    with injector:
        before = mean_loss(lm, injector, adapters, test, config.batch_size)
        adapters.train()
        n_batches = -(-len(train) // config.batch_size)
        bar = tqdm(total=config.epochs * n_batches, desc="xrec adapters", unit="step", disable=not progress)
        for epoch in range(1, config.epochs + 1):
            order = order_rng.permutation(len(train))
            for s in range(0, len(train), config.batch_size):
                batch = [train[j] for j in order[s:s + config.batch_size]]
                opt.zero_grad(set_to_none=True)
                step_loss = _step(lm, injector, adapters, batch)
                opt.step()
                steps.append({"step": len(steps) + 1, "epoch": epoch, "train_loss": round(step_loss, 5)})
                bar.update(1)
                bar.set_postfix(loss=f"{steps[-1]['train_loss']:.3f}")
        bar.close()
        after = mean_loss(lm, injector, adapters, test, config.batch_size)
    base_grads = sum(p.grad is not None for p in lm.model.parameters())
    return {"steps": steps, "test_nll_before": before, "test_nll_after": after,
            "base_parameters_with_grad": int(base_grads)}
