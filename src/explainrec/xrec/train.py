"""Training XRec's adapters on a frozen LLM (paper 001 Eq. 13) and scoring the test NLL.

Each training sequence is the Fig. 2 prompt (ending with ``<EXPLAIN_POS>``) followed by
the target explanation and the end-of-turn token; the loss is the mean negative
log-likelihood of those explanation tokens only (the prompt and the padding are masked).
Only the two adapters train (Adam; ``learning_rate`` 1e-4 in XRec's code, 1e-3 by default here); the LLM
is frozen and in eval mode, the adapters in train mode (dropout 0.2, noisy gates). The
same loss on the test pairs, before and after training, says whether the adapters
learnt anything the references reward.

Resume after a kill: given a :class:`~explainrec.core.checkpoints.Checkpoint` (keyed by the caller on
everything the result depends on, :func:`examples_digest` for the data), :func:`train_adapters`
saves after every ``save_every`` steps (default: each) the adapters, Adam's state, the epoch's
batch order and its numpy generator, torch's global generators (dropout, noisy gates; one state
per process under a launcher), the per-step losses and the test NLL before training. A rerun
continues after the last saved step and ends with the weights, losses and NLLs of an
uninterrupted run, bit for bit on one machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from explainrec.core.checkpoints import Checkpoint, rng_state, set_rng_state
from explainrec.core.config import check_int, check_number
from explainrec.core.curves import log_step
from explainrec.core.seeding import deterministic_torch
from explainrec.llm.types import ChatRequest
from explainrec.xrec.frozen import FrozenLM
from explainrec.xrec.inject import Injector
from explainrec.xrec.moe import Adapters

#: the layout of :func:`train_adapters`'s checkpoints (part of their key)
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class AdapterTrainConfig:
    """``xrec.train``: Adam on the adapters (XRec's code: lr 1e-4, batch 1, 1 epoch; docs/xrec.md says why
    the default run takes lr 1e-3 and 2 epochs of batch 4)."""

    learning_rate: float = 1e-3
    batch_size: int = 4
    epochs: int = 2
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
    ids, mask, labels = (t.to(lm.device) for t in _batch(batch, int(lm.tokenizer.pad_token_id)))
    # the adapters take the graph vectors on their own device; the hooks move their output to the LLM's
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

    With several processes (:mod:`explainrec.core.launch`) each takes its shard of the batch, weights its
    mean by its share of the batch's explanation tokens and the gradients are summed: the batch's
    gradient and loss, as one process computes them, up to float order."""
    from explainrec.core import launch

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


def examples_digest(data: Sequence[Example]) -> str:
    """sha256 of ``data`` in order: each example's token ids, explanation start and graph vectors."""
    from explainrec.core.checkpoints import array_digest

    return array_digest(*(a for e in data for a in (np.asarray(e.ids, dtype=np.int64), np.asarray(e.start),
                                                     np.asarray(e.user, dtype=np.float32),
                                                     np.asarray(e.item, dtype=np.float32))))


def _rng_states() -> list[dict[str, Any]]:
    """Every process's global generators (rank order); the one process's alone without a launcher."""
    from explainrec.core import launch

    mine = rng_state()
    if launch.world_size() == 1:
        return [mine]
    states: list[Any] = [None] * launch.world_size()
    torch.distributed.all_gather_object(states, mine)
    return states


def train_adapters(lm: FrozenLM, adapters: Adapters, train: Sequence[Example], test: Sequence[Example],
                   config: AdapterTrainConfig, all_layers: bool, seed: int, progress: bool = True,
                   checkpoint: Checkpoint | None = None, save_every: int = 1,
                   keep_checkpoint: bool = False, live: Any = None) -> dict[str, Any]:
    """Fit ``adapters`` in place; returns per-step losses, the test NLL before and after, and
    ``resumed_from`` (the step a checkpoint gave, 0 for a fresh run). They train, in float32, on the
    LLM's input device, and are moved back to the device they came on before it returns.

    ``live`` (a :class:`dvclive.Live`, :mod:`explainrec.core.curves`; pass it on process 0 only): each
    step's ``train/loss`` at its step, the test NLL as ``test/nll`` at step 0 (before) and at the last
    step (after); a resumed run logs the saved steps first.

    ``checkpoint``: the training state is saved there every ``save_every`` steps and after the last
    one (by process 0), a saved state is continued from, and the checkpoint is removed when training
    is done, unless ``keep_checkpoint`` (the caller then clears it once its outputs are written; a
    rerun before that returns the finished result at once). Its key must cover everything the
    result depends on (the adapters' initial weights included): a saved state is used as it is.
    """
    from tqdm.auto import tqdm

    from explainrec.core import launch

    check_int(save_every, "save_every")
    launch.init_process_group()  # several processes under `accelerate launch`; nothing with one
    deterministic_torch()
    torch.manual_seed(seed)
    order_rng = np.random.default_rng(seed)
    injector = Injector(lm.model, lm.token_ids, all_layers=all_layers)
    home = adapters.device  # the adapters train on the LLM's device (NCCL sums CUDA gradients) and go back here
    adapters.to(lm.device)
    opt = torch.optim.Adam(adapters.parameters(), lr=config.learning_rate)
    steps: list[dict[str, Any]] = []
    n_batches = -(-len(train) // config.batch_size)
    total = config.epochs * n_batches
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None and saved.get("world_size") != launch.world_size():
        saved = None  # the key covers the processes; this only guards a hand-made key
    order: np.ndarray | None = None
    before: float | None = None
    after: float | None = None
    done = 0
    if saved is not None:  # the state after step saved["step"]
        initial = {k: v.clone() for k, v in adapters.state_dict().items()}
        try:
            adapters.load_state_dict(saved["adapters"])
            opt.load_state_dict(saved["optimizer"])
            order_rng.bit_generator.state = saved["order_rng"]
            order = saved["order"]
            set_rng_state(saved["rng"][launch.rank()])
            steps, before, done = list(saved["steps"]), saved["test_nll_before"], saved["step"]
            after = saved["test_nll_after"]
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
            # a state this code cannot use (say, adapters it now builds otherwise): train from the given adapters
            checkpoint.discard(exc, clear=launch.is_main())
            adapters.load_state_dict(initial)
            torch.manual_seed(seed)
            order_rng = np.random.default_rng(seed)
            opt = torch.optim.Adam(adapters.parameters(), lr=config.learning_rate)
            saved, order, steps, before, after, done = None, None, [], None, None, 0
    with injector:
        if saved is None:
            before = mean_loss(lm, injector, adapters, test, config.batch_size)

        def save(step: int) -> None:
            rngs = _rng_states()  # a collective: every process calls it
            if launch.is_main():
                checkpoint.save({"step": step, "adapters": adapters.state_dict(), "optimizer": opt.state_dict(),
                                 "order_rng": order_rng.bit_generator.state, "order": order, "rng": rngs,
                                 "steps": steps, "test_nll_before": before, "test_nll_after": after,
                                 "world_size": launch.world_size()})

        log_step(live, {"test/nll": before}, 0)
        for s in steps:  # the steps a checkpoint gave
            log_step(live, {"train/loss": s["train_loss"]}, s["step"])
        adapters.train()
        bar = tqdm(total=total, initial=done, desc="xrec adapters", unit="step", disable=not progress)
        for k in range(done, total):
            epoch, b = divmod(k, n_batches)
            if b == 0:
                order = order_rng.permutation(len(train))
            batch = [train[j] for j in order[b * config.batch_size:(b + 1) * config.batch_size]]
            opt.zero_grad(set_to_none=True)
            step_loss = _step(lm, injector, adapters, batch)
            opt.step()
            steps.append({"step": k + 1, "epoch": epoch + 1, "train_loss": round(step_loss, 5)})
            log_step(live, {"train/loss": steps[-1]["train_loss"]}, k + 1)
            bar.update(1)
            bar.set_postfix(loss=f"{steps[-1]['train_loss']:.3f}")
            if checkpoint is not None and ((k + 1) % save_every == 0 or k + 1 == total):
                save(k + 1)
        bar.close()
        if after is None:
            after = mean_loss(lm, injector, adapters, test, config.batch_size)
            if checkpoint is not None and keep_checkpoint:
                save(total)  # finished: a rerun before the outputs are written returns this at once
        log_step(live, {"test/nll": after}, total)
    if checkpoint is not None and not keep_checkpoint and launch.is_main():
        checkpoint.clear()
    base_grads = sum(p.grad is not None for p in lm.model.parameters())
    adapters.to(home)
    return {"steps": steps, "test_nll_before": before, "test_nll_after": after,
            "base_parameters_with_grad": int(base_grads), "resumed_from": done}
