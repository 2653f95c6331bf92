"""The explainer's RL step: reward r(e) = 1 / (1 + |y - f(x, e)|) (paper 002 Eq. 1) through trl's GRPOTrainer.

The paper updates the LLM with PPO. trl 1.x has no PPOTrainer in its main API: its PPO lives in
``trl.experimental`` and needs a separate reward model and a value model, and this reward is
neither (it is a Python function of the text, through the recommender). ``GRPOTrainer`` takes a
plain Python reward function and optimises the same PPO-style clipped objective (ratio clipped
at 1 +- ``epsilon``), with the advantage of a completion taken relative to the other completions
of its prompt instead of a learned value baseline. That is the substitution made here.

The clip only acts when the ratio can differ from 1. trl 1.16 computes the old log-probabilities
(``old_per_token_logps``, those of the policy that sampled the batch) only when a generation
batch serves more than one optimiser step (``num_iterations`` > 1 or gradient accumulation);
otherwise it sets them to the current ones, detached, the ratio is 1 and nothing is clipped (a
plain policy gradient). So, as PPO does, every generation batch here is optimised
``num_iterations`` times (``recpie.rl.num_iterations``, 2 by default): the passes after the first
see a ratio to the sampling policy, clipped at 1 +- ``epsilon``. trl logs the clipped shares
(``clip_ratio/region_mean``, ``/low_mean``, ``/high_mean``), returned per step and as means.

:func:`grpo_update` trains the explainer's LoRA weights and soft-prompt projection in place for
``steps`` optimiser steps (``steps / num_iterations`` generation batches); trl tokenises the
rendered prompt texts itself, and the soft prompt (a hook on the input embeddings keyed by the
reserved tokens) acts in its generation and in its log-probability forwards alike. The trainer
runs where the model is (CPU, or the GPU a CUDA model sits on).

With a checkpoint name, the step survives a kill: the trainer's ``output_dir`` is a
:class:`~explainrec.core.checkpoints.Checkpoint` folder (outside DVC's outputs) keyed on the caller's
key, the explainer's state before the step, the prompts, the RL settings and the seed, and
transformers writes a ``checkpoint-<step>`` every ``checkpoint_steps`` generation batches, i.e.
every ``checkpoint_steps * num_iterations`` optimiser steps, and at the end: only where a
generation batch's passes end, since trl keeps the batch in memory and a resume inside it would
sample anew. A checkpoint holds the LoRA adapter, optimiser, scheduler, RNG states and trainer
state; the soft prompt's projection, which peft's adapter file leaves out, goes in as the
explainer's state file. A rerun of the same
step resumes from the newest complete one and ends with the same weights and per-step log as an
uninterrupted step; the checkpoints are removed when the step ends.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from explainrec.recpie.config import RLConfig
from explainrec.recpie.explainer import Explainer

#: generation batches between two checkpoints of the RL step: a save (LoRA adapter, explainer state and
#: optimiser state, a few MB) took 0.06 s with SmolLM2-135M on CPU, a step (generation included) ~7 s
CHECKPOINT_STEPS = 1


def reward(y: np.ndarray | Sequence[float], y_hat: np.ndarray | Sequence[float]) -> np.ndarray:
    """Eq. 1: ``1 / (1 + |y - y_hat|)`` elementwise (float64; in (0, 1], 1 for an exact prediction)."""
    from explainrec.core.errors import ParamError

    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    if y.shape != y_hat.shape:
        raise ParamError("y_hat", f"an array of the shape of y {y.shape}", y_hat.shape)
    if not (np.isfinite(y).all() and np.isfinite(y_hat).all()):
        raise ParamError("y_hat", "finite values", "nan or inf")
    return 1.0 / (1.0 + np.abs(y - y_hat))


def grpo_update(explainer: Explainer, dataset: dict[str, list[Any]], reward_fn: Callable[..., list[float]],
                config: RLConfig, seed: int, progress: bool = False, checkpoint: str | None = None,
                checkpoint_key: Any = None, checkpoint_steps: int = CHECKPOINT_STEPS) -> dict[str, Any]:
    """``config.steps`` GRPO optimiser steps on ``explainer`` (in place), ``config.num_iterations`` per
    generation batch.

    ``dataset`` holds the column ``prompt`` (rendered prompt texts; ``prompts_per_step`` of them per
    generation batch, in the trainer's seeded order) and any columns the reward function reads:
    trl calls ``reward_fn(prompts=..., completions=..., **columns)`` with the columns of the rows
    it sampled. Returns the mean of trl's logged ``reward`` (and ``kl`` when ``beta`` > 0) and of
    its clipped shares over the steps, the per-step log, the step count and ``resumed_from_step``.

    ``checkpoint`` (a name; None: no checkpoints) makes the step resumable: a checkpoint every
    ``checkpoint_steps`` generation batches (``checkpoint_steps * num_iterations`` optimiser steps),
    keyed on ``checkpoint_key`` (what the caller knows the reward function depends on, e.g. its run
    and round), the explainer's state hash, ``dataset``, ``config``, ``seed`` and the library
    versions; removed when the step ends.

    The per-step log (``rl_log``) becomes curves through :func:`log_rl_steps` once the whole run
    is done (:func:`explainrec.recpie.loop.write_outputs`), so a rerun after a kill logs the steps
    of the rounds it found done too.
    """
    import torch
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig

    from explainrec.core.checkpoints import Checkpoint, fingerprint, last_trainer_checkpoint
    from explainrec.core.config import check_int
    from explainrec.core.errors import ParamError
    from explainrec.core.seeding import deterministic_torch

    if not dataset.get("prompt"):
        raise ParamError("dataset.prompt", "at least one prompt for the RL step", 0)
    check_int(checkpoint_steps, "checkpoint_steps", 0)
    deterministic_torch()
    batch = config.num_generations * config.prompts_per_step
    model = explainer.model
    cuda = model.get_input_embeddings().weight.device.type == "cuda"  # train where the model is
    ckpt = None
    if checkpoint and checkpoint_steps:
        import peft
        import transformers
        import trl

        ckpt = Checkpoint(checkpoint, fingerprint("recpie-grpo-1", checkpoint_key, explainer.base_identity,
                                                  explainer.state_hash(), dataset, config, seed,
                                                  [m.__version__ for m in (torch, transformers, trl, peft)]))
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        if ckpt is None:
            work, resume = stack.enter_context(tempfile.TemporaryDirectory(prefix="recpie-grpo-")), None
        else:
            work, resume = str(ckpt.folder), last_trainer_checkpoint(ckpt.folder, prune=True)
        args = GRPOConfig(
            output_dir=work, max_steps=config.steps, per_device_train_batch_size=batch,
            gradient_accumulation_steps=1, num_generations=config.num_generations,
            max_completion_length=config.max_completion_length, temperature=config.temperature,
            learning_rate=config.learning_rate, lr_scheduler_type="constant", warmup_steps=0,
            beta=config.beta, epsilon=config.epsilon, loss_type=config.loss_type,
            num_iterations=config.num_iterations,
            use_vllm=False, bf16=False, fp16=False, use_cpu=not cuda, report_to="none", push_to_hub=False,
            save_strategy="steps" if ckpt is not None else "no",
            save_steps=(checkpoint_steps or 500) * config.num_iterations,
            save_total_limit=1, logging_steps=1, disable_tqdm=not progress, seed=seed, data_seed=seed,
            remove_unused_columns=False, dataloader_num_workers=0, dataloader_pin_memory=False,
            generation_kwargs={"suppress_tokens": list(explainer.user_ids)},
            activation_checkpointing=False, shuffle_dataset=True, log_completions=False,
        )
        trainer = _trainer_class()(explainer, model=model, reward_funcs=[reward_fn], args=args,
                                   train_dataset=Dataset.from_dict(dataset), processing_class=explainer.tokenizer)
        trainer.remove_callback(PrinterCallback)  # the per-step log dicts go to the metrics, not stdout
        if resume is not None and _finished(resume):
            # killed after its last checkpoint: Trainer.train would run one step more when the last
            # step falls inside an epoch (transformers 5.23 _run_epoch), so only load it
            from transformers.trainer_callback import TrainerState

            trainer._load_from_checkpoint(str(resume))
            trainer.state = TrainerState.load_from_json(str(resume / "trainer_state.json"))
        else:
            trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    model.eval()  # the explainer generates greedily between RL steps
    if ckpt is not None:
        ckpt.clear()
    # one entry per optimiser step (the last, trl's run summary, has "train_loss"); "reward" only in the
    # steps that sampled a batch, the clipped shares in every step
    log = [e for e in trainer.state.log_history if "loss" in e]

    def mean(key: str) -> float | None:
        values = [float(e[key]) for e in log if key in e]
        return round(float(np.mean(values)), 6) if values else None

    rl_log = [{k: (round(float(v), 6) if isinstance(v, (int, float)) else v) for k, v in e.items()} for e in log]
    return {"rl_steps": int(trainer.state.global_step), "rl_reward": mean("reward"),
            "rl_reward_std": mean("reward_std"), "rl_kl": mean("kl"),
            "rl_clip_ratio": mean("clip_ratio/region_mean"), "rl_clip_ratio_low": mean("clip_ratio/low_mean"),
            "rl_clip_ratio_high": mean("clip_ratio/high_mean"),
            "rl_log": rl_log,
            "resumed_from_step": int(resume.name.rsplit("-", 1)[1]) if resume is not None else 0}


#: trl's per-step log entries drawn as curves, and their names there
CURVES = {"loss": "rl/loss", "reward": "rl/reward", "reward_std": "rl/reward_std", "kl": "rl/kl",
          "clip_ratio/region_mean": "rl/clip_ratio"}


def log_rl_steps(live: Any, rl_log: Sequence[dict[str, Any]], first_step: int = 1,
                 extra: dict[str, Any] | None = None) -> int:
    """Log each entry of a GRPO step's log (``rl_log`` of :func:`grpo_update`) at steps ``first_step``,
    ``first_step + 1``, ...: ``rl/loss``, ``rl/reward``, ``rl/reward_std``, ``rl/kl``, ``rl/clip_ratio``
    where the entry has them, and ``extra`` (e.g. the round). Returns the next step; nothing is logged
    for ``live`` None."""
    from explainrec.core.curves import log_step

    for k, entry in enumerate(rl_log):
        values = {name: entry[key] for key, name in CURVES.items() if isinstance(entry.get(key), (int, float))}
        log_step(live, {**values, **(extra or {})}, first_step + k)
    return first_step + len(rl_log)


def _finished(checkpoint: Any) -> bool:
    """Whether a ``checkpoint-<step>`` folder is its run's last step."""
    import json

    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state["global_step"]) >= int(state.get("max_steps") or 0) > 0


def _trainer_class() -> type:
    """trl's ``GRPOTrainer``, whose checkpoints hold the explainer's trainable state.

    Trainer saves a peft model as its adapter: the LoRA weights, and (peft's ``auto``) the whole
    input and output embeddings, since the user tokens resized them: 2 x vocabulary x width
    (229 MB for SmolLM2-135M), though they are frozen and every run rebuilds them alike. It also
    leaves out the soft prompt's projection, a submodule the optimiser trains too. A checkpoint
    here holds the adapter without the embeddings and the explainer's state file (LoRA, projection
    and E_c), written before the trainer state that marks the checkpoint complete; resuming loads
    the adapter, then that file.
    """
    from trl import GRPOTrainer

    class ExplainerGRPOTrainer(GRPOTrainer):
        def __init__(self, explainer: Explainer, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.explainer = explainer

        def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
            if not self.args.should_save:
                return
            folder = Path(output_dir or self.args.output_dir)
            folder.mkdir(parents=True, exist_ok=True)
            self.model.save_pretrained(folder, save_embedding_layers=False)
            self.explainer.save(folder)

        def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            self.explainer.load(resume_from_checkpoint)

    return ExplainerGRPOTrainer
