"""The explainer's RL step: reward r(e) = 1 / (1 + |y - f(x, e)|) (paper 002 Eq. 1) through trl's GRPOTrainer.

The paper updates the LLM with PPO. trl 1.x has no PPOTrainer in its main API: its PPO lives in
``trl.experimental`` and needs a separate reward model and a value model, and this reward is
neither (it is a Python function of the text, through the recommender). ``GRPOTrainer`` takes a
plain Python reward function and optimises the same PPO-style clipped objective (ratio clipped
at 1 +- ``epsilon``), with the advantage of a completion taken relative to the other completions
of its prompt instead of a learned value baseline. That is the substitution made here.

:func:`grpo_update` trains the explainer's LoRA weights and soft-prompt projection in place for
``steps`` optimiser steps; trl tokenises the rendered prompt texts itself, and the soft prompt
(a hook on the input embeddings keyed by the reserved tokens) acts in its generation and in its
log-probability forwards alike.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from explainrec.recpie.config import RLConfig
from explainrec.recpie.explainer import Explainer


def reward(y: np.ndarray | Sequence[float], y_hat: np.ndarray | Sequence[float]) -> np.ndarray:
    """Eq. 1: ``1 / (1 + |y - y_hat|)`` elementwise (float64; in (0, 1], 1 for an exact prediction)."""
    from explainrec.errors import ParamError

    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    if y.shape != y_hat.shape:
        raise ParamError("y_hat", f"an array of the shape of y {y.shape}", y_hat.shape)
    if not (np.isfinite(y).all() and np.isfinite(y_hat).all()):
        raise ParamError("y_hat", "finite values", "nan or inf")
    return 1.0 / (1.0 + np.abs(y - y_hat))


def grpo_update(explainer: Explainer, dataset: dict[str, list[Any]], reward_fn: Callable[..., list[float]],
                config: RLConfig, seed: int, progress: bool = False) -> dict[str, Any]:
    """``config.steps`` GRPO steps on ``explainer`` (in place).

    ``dataset`` holds the column ``prompt`` (rendered prompt texts) and any columns the reward
    function reads: trl calls ``reward_fn(prompts=..., completions=..., **columns)`` with the
    columns of the rows it sampled. Returns the mean of trl's logged ``reward`` (and ``kl`` when
    ``beta`` > 0) over the steps, the per-step log and the step count.
    """
    import torch
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from explainrec.errors import ParamError

    if not dataset.get("prompt"):
        raise ParamError("dataset.prompt", "at least one prompt for the RL step", 0)
    cuda = torch.cuda.is_available()
    batch = config.num_generations * config.prompts_per_step
    model = explainer.model
    with tempfile.TemporaryDirectory(prefix="recpie-grpo-") as work, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        args = GRPOConfig(
            output_dir=work, max_steps=config.steps, per_device_train_batch_size=batch,
            gradient_accumulation_steps=1, num_generations=config.num_generations,
            max_completion_length=config.max_completion_length, temperature=config.temperature,
            learning_rate=config.learning_rate, lr_scheduler_type="constant", warmup_steps=0,
            beta=config.beta, epsilon=config.epsilon, loss_type=config.loss_type, num_iterations=1,
            use_vllm=False, bf16=False, fp16=False, use_cpu=not cuda, report_to="none", push_to_hub=False,
            save_strategy="no", logging_steps=1, disable_tqdm=not progress, seed=seed, data_seed=seed,
            remove_unused_columns=False, dataloader_num_workers=0, dataloader_pin_memory=False,
            generation_kwargs={"suppress_tokens": list(explainer.user_ids)},
            activation_checkpointing=False, shuffle_dataset=True, log_completions=False,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=[reward_fn], args=args,
                              train_dataset=Dataset.from_dict(dataset), processing_class=explainer.tokenizer)
        trainer.remove_callback(PrinterCallback)  # the per-step log dicts go to the metrics, not stdout
        trainer.train()
    model.eval()  # the explainer generates greedily between RL steps
    log = [e for e in trainer.state.log_history if "reward" in e]

    def mean(key: str) -> float | None:
        values = [float(e[key]) for e in log if key in e]
        return round(float(np.mean(values)), 6) if values else None

    return {"rl_steps": int(trainer.state.global_step), "rl_reward": mean("reward"),
            "rl_reward_std": mean("reward_std"), "rl_kl": mean("kl"),
            "rl_log": [{k: (round(float(v), 6) if isinstance(v, (int, float)) else v) for k, v in e.items()}
                       for e in log]}
