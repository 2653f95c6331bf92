"""Supervised fine-tuning of the explanation generator (paper 000 §3.3).

trl's ``SFTTrainer`` on a prompt-completion dataset: the prompt is the Fig. 4
user turn rendered with the base model's chat template, the completion the
normalised target explanation (see :mod:`explainrec.core.explanation_prompt`), and the
token-level cross-entropy is computed on the completion only (trl's
``completion_only_loss``; prompt tokens carry the label -100).

``method: lora`` (default) trains a LoRA adapter (peft) and merges it into the
weights with ``merge_and_unload()``; ``method: full`` updates every parameter
as the paper does (it used 1e-5 with Qwen2.5-7B-Instruct). Either way the
result is a plain transformers folder that ``AutoModelForCausalLM`` and the
project's LLM layer load like any other model.

Checkpoints (``checkpoint_steps``): the trainer's ``output_dir`` is the training's
:class:`~explainrec.core.checkpoints.Checkpoint` folder, outside DVC's outputs, keyed on
the pairs, the params, the seed and the base model folder's content. Every
``checkpoint_steps`` optimiser steps and at the end, transformers writes a
``checkpoint-<step>`` (adapter or weights, optimiser, scheduler, RNG states,
trainer state; the newest kept). A rerun after a kill resumes from the newest
complete one (:func:`~explainrec.core.checkpoints.last_trainer_checkpoint`) and ends
with the same weights and logged losses as an uninterrupted run; the checkpoints are
removed once ``model/`` is written.

Curves: given a :class:`dvclive.Live` (``live``, see :mod:`explainrec.core.curves`), transformers'
``DVCLiveCallback`` logs every entry of the trainer's log (the training loss as ``loss``, ``eval/loss``,
``grad_norm``, ``learning_rate``, ``epoch``, ...) at the trainer's global step (the run's closing summary
entry left out); a resumed run first logs the entries its
checkpoint carries, so the curves are those of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.errors import LLMUnavailable, ParamError
from explainrec.llm.machine import machine_facts
from explainrec.sft.params import SFTTrainConfig

#: the checkpoint name of the sft stage (an ablation's fine-tune passes its own)
CHECKPOINT_NAME = "sft"


def to_trl_dataset(pairs: pd.DataFrame, tokenizer: Any) -> Any:
    """A trl prompt-completion ``Dataset`` for a pair table (columns ``prompt``, ``target``).

    With a chat template the examples are conversational (the user turn, then
    the assistant turn), so trl renders them with the template; a tokenizer
    without one gets the LLM layer's plain ``User:/Assistant:`` fallback, the
    same text the generate stage feeds it.
    """
    from datasets import Dataset

    from explainrec.core.explanation_prompt import prompt_messages
    from explainrec.llm.render import plain_prompt

    if getattr(tokenizer, "chat_template", None):
        prompts = [prompt_messages(p) for p in pairs["prompt"]]
        completions = [[{"role": "assistant", "content": t}] for t in pairs["target"]]
    else:
        prompts = [plain_prompt([("user", p)]) for p in pairs["prompt"]]
        completions = [" " + t for t in pairs["target"]]
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


def load_base(base: str | Path) -> tuple[Any, Any]:
    """Tokenizer and float32 model of a local transformers folder (fails clearly when absent)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = Path(base)
    if not (base / "config.json").exists():
        raise LLMUnavailable(f"{base}: not a transformers model folder (no config.json); "
                             "the base model comes from the assets stage: run `dvc repro assets_sft_base`")
    try:
        tok = AutoTokenizer.from_pretrained(base)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise LLMUnavailable(f"cannot load the model folder {base}: {str(e).strip().splitlines()[0][:160]}") from e
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise LLMUnavailable(f"the tokenizer of {base} has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    return tok, model


def make_trainer(train: pd.DataFrame, test: pd.DataFrame | None, base: str | Path, params: SFTTrainConfig, seed: int,
                 work_dir: str | Path, progress: bool = False, resume: str | Path | None = None,
                 live: Any = None) -> Any:
    """A ready ``SFTTrainer`` (model, tokenised datasets, LoRA when ``params.method == 'lora'``); with
    ``live`` (a :class:`dvclive.Live`) its curves go there (:func:`curves_callback`).

    With ``params.checkpoint_steps`` it saves ``checkpoint-<step>`` folders in ``work_dir``; ``resume``
    is the checkpoint that ``trainer.train(resume_from_checkpoint=...)`` will continue from (the loss
    before training is then already in its log, so it is not measured again)."""
    import torch
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    if params.threads:
        torch.set_num_threads(params.threads)
    from explainrec.core.seeding import deterministic_torch

    deterministic_torch()
    set_seed(seed)  # before the model exists: LoRA's initial weights depend on it
    tok, model = load_base(base)
    cuda = torch.cuda.is_available()
    has_eval = test is not None and len(test) > 0
    from explainrec.core.launch import world_size

    world = world_size()  # processes started by `accelerate launch` (explainrec.core.launch); 1 without
    if params.batch_size % world:
        raise ParamError("launch.processes", f"a divisor of sft.batch_size ({params.batch_size}): each process "
                         "takes an equal share of the batch", world)
    steps_per_epoch = math.ceil(len(train) / (params.batch_size * params.grad_accum))
    total_steps = max(1, math.ceil(steps_per_epoch * params.epochs))
    args = SFTConfig(
        output_dir=str(work_dir),
        num_train_epochs=float(params.epochs),
        per_device_train_batch_size=params.batch_size // world,  # the global batch stays params.batch_size
        per_device_eval_batch_size=params.eval_batch_size,
        gradient_accumulation_steps=params.grad_accum,
        learning_rate=params.lr,
        lr_scheduler_type="linear",
        warmup_steps=int(round(params.warmup * total_steps)),
        max_length=params.max_length,
        completion_only_loss=True,
        logging_strategy="steps",
        logging_steps=params.logging_steps,
        logging_first_step=True,
        eval_strategy="epoch" if has_eval else "no",
        eval_on_start=bool(has_eval and params.eval_on_start and resume is None),
        save_strategy="steps" if params.checkpoint_steps else "no",
        save_steps=params.checkpoint_steps or 500,  # (500: transformers' default, unused without saves)
        save_total_limit=1,  # the newest; transformers deletes the older one once the new one is complete
        report_to="none",
        seed=seed,
        data_seed=seed,
        use_cpu=not cuda,
        bf16=bool(cuda and torch.cuda.is_bf16_supported()),
        fp16=False,
        activation_checkpointing=False,  # (was gradient_checkpointing) small models on CPU: recomputing only costs time
        optim="adamw_torch",
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
        disable_tqdm=not progress,
        dataset_num_proc=None,
    )
    peft_config = None
    if params.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=params.lora_r, lora_alpha=params.lora_alpha, lora_dropout=params.lora_dropout,
                                 target_modules=list(params.target_modules), bias="none", task_type="CAUSAL_LM")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            trainer = SFTTrainer(model=model, args=args, train_dataset=to_trl_dataset(train, tok),
                                 eval_dataset=to_trl_dataset(test, tok) if has_eval else None,
                                 processing_class=tok, peft_config=peft_config)
    except ValueError as e:
        if "target modules" in str(e).lower() or "target_modules" in str(e):
            raise ParamError("sft.target_modules", f"module names of the base model ({str(e).splitlines()[0][:160]})",
                             list(params.target_modules)) from e
        raise
    if params.checkpoint_steps:
        for callback in _resume_callbacks(trainer, resume):
            trainer.add_callback(callback)
    if live is not None:
        trainer.add_callback(curves_callback(live))  # report_to stays "none": the callback is passed explicitly
    return trainer


def _resume_callbacks(trainer: Any, resume: str | Path | None) -> list[Any]:
    """What a resumed run needs to end exactly as an uninterrupted one, beyond transformers' own checkpoint:

    * the trainer's running loss sums (the loss since the last logged step, the total over the run and
      that step) go into each checkpoint's trainer state and come back on resume, so the first loss
      logged after it and the mean training loss cover the steps before the kill too (transformers
      restarts both from zero, ``_inner_training_loop``; with several processes each one gets process
      0's, so only a loss logged right after a resume from a step that logged none can differ);
    * a save at the last step of an epoch waits for the epoch's end, after the per-epoch evaluation:
      transformers saves first, so a run resumed from there would never log that evaluation, and its
      RNG state would be the one from before it.
    """
    import torch
    from transformers import TrainerCallback
    from transformers.trainer_callback import ExportableState

    class SFTLossCarry(TrainerCallback, ExportableState):
        def __init__(self) -> None:
            self.saved: dict[str, Any] | None = None

        def state(self) -> dict[str, Any]:  # also asked for before training, when the sums do not exist yet
            tr_loss = getattr(trainer, "_tr_loss", None)
            return {"args": {}, "attributes": {"tr_loss": float(tr_loss.item()) if tr_loss is not None else 0.0,
                                               "total_loss": float(getattr(trainer, "_total_loss_scalar", 0.0)),
                                               "last_logged": int(getattr(trainer, "_globalstep_last_logged", 0))}}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.saved is None:
                return
            trainer._tr_loss = torch.tensor(self.saved["tr_loss"], device=args.device)
            trainer._total_loss_scalar = self.saved["total_loss"]
            trainer._globalstep_last_logged = self.saved["last_logged"]
            trainer._initial_global_step = 0  # the mean training loss covers the whole run

    class SFTSaveAfterEpochEnd(TrainerCallback):
        def __init__(self) -> None:
            self.pending = False

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            epoch_end = state.epoch is not None and float(state.epoch).is_integer()
            if control.should_save and (epoch_end or state.global_step >= state.max_steps):
                control.should_save, self.pending = False, True

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.pending:
                control.should_save, self.pending = True, False

    carry = SFTLossCarry()
    if resume is not None:
        saved = json.loads((Path(resume) / "trainer_state.json").read_text(encoding="utf-8"))
        carry.saved = saved.get("stateful_callbacks", {}).get(type(carry).__name__, {}).get("attributes")
    return [carry, SFTSaveAfterEpochEnd()]


def curves_callback(live: Any) -> Any:
    """transformers' ``DVCLiveCallback`` on ``live``, logging at the trainer's global step (the callback
    counts log calls, so an evaluation and a loss logged at one step would land on two) and without
    ``TrainingArguments`` (their temporary folders change every run; the stage's params are in params.yaml).
    On a resumed run the entries of the restored log come first."""
    from transformers.integrations import DVCLiveCallback

    class StepDVCLiveCallback(DVCLiveCallback):
        def __init__(self, live: Any) -> None:
            super().__init__(live=live)
            self._logged = 0  # entries of the trainer's log_history logged so far

        def setup(self, args: Any, state: Any, model: Any) -> None:
            self._initialized = True

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            super().on_train_begin(args, state, control, model, **kwargs)
            self.replay(args, state, control)

        def replay(self, args: Any, state: Any, control: Any) -> None:
            """Log the entries of ``state.log_history`` not logged yet (a resumed or restored run's)."""
            for entry in state.log_history[self._logged:]:
                self._log(args, state, control, entry)

        def on_log(self, args: Any, state: Any, control: Any, model: Any = None, logs: Any = None,
                   **kwargs: Any) -> None:
            if not self._initialized:
                self.setup(args, state, model)
            self.replay(args, state, control)  # (the entry of this call is in log_history already)

        def _log(self, args: Any, state: Any, control: Any, entry: dict[str, Any]) -> None:
            self._logged += 1
            if not state.is_world_process_zero or "train_runtime" in entry:  # (the run's summary: not a curve point)
                return
            if not self._initialized:
                self.setup(args, state, None)
            self.live.step = int(entry.get("step", state.global_step))
            super().on_log(args, state, control, logs={k: v for k, v in entry.items() if k != "step"})

    return StepDVCLiveCallback(live=live)


def loss_rows(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per logged step: ``step, epoch, train_loss, eval_loss`` (empty where not logged).

    The trainer's final summary entry (``train_loss`` over the whole run) is left out.
    """
    rows: dict[int, dict[str, Any]] = {}
    for e in log_history:
        if "train_runtime" in e:
            continue
        step = int(e.get("step", 0))
        row = rows.setdefault(step, {"step": step, "epoch": "", "train_loss": "", "eval_loss": ""})
        if "loss" in e:
            row["train_loss"] = float(e["loss"])
        if "eval_loss" in e:
            row["eval_loss"] = float(e["eval_loss"])
        if "epoch" in e and row["epoch"] == "":
            row["epoch"] = round(float(e["epoch"]), 4)
    return [rows[s] for s in sorted(rows)]


def save_model(trainer: Any, folder: Path) -> None:
    """Save a plain transformers folder: LoRA merged into the weights, plus the tokenizer."""
    from peft import PeftModel

    model = trainer.model
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    model.save_pretrained(folder)
    trainer.processing_class.save_pretrained(folder)


def sft_checkpoint(name: str, train: pd.DataFrame, test: pd.DataFrame | None, base: str | Path, params: SFTTrainConfig,
                   seed: int) -> Any:
    """The :class:`~explainrec.core.checkpoints.Checkpoint` of a fine-tune: ``name``, keyed on the pairs' text,
    every param but ``checkpoint_steps`` (a new save period may go on from an older checkpoint), the
    seed, the base model folder's content, the number of processes and the library versions."""
    import peft
    import torch
    import transformers
    import trl

    from explainrec.assets.models import folder_identity
    from explainrec.core.checkpoints import Checkpoint, fingerprint
    from explainrec.core.launch import world_size

    def texts(pairs: pd.DataFrame | None) -> list[list[str]]:
        return [] if pairs is None else [[str(p), str(t)] for p, t in zip(pairs["prompt"], pairs["target"])]

    settings = {k: v for k, v in params.to_dict().items() if k != "checkpoint_steps"}
    base = Path(base)
    key = fingerprint("sft-trainer-1", texts(train), texts(test), settings, seed,
                      folder_identity(base) if base.is_dir() else str(base), world_size(),
                      [m.__version__ for m in (torch, transformers, trl, peft)])
    return Checkpoint(name, key)


def train_sft(train: pd.DataFrame, test: pd.DataFrame | None, base: str | Path, out: str | Path,
              params: SFTTrainConfig, seed: int, progress: bool = False, checkpoint: str | None = CHECKPOINT_NAME,
              keep_checkpoint: bool = False, live: Any = None) -> dict[str, Any]:
    """Fine-tune ``base`` on the pair table ``train`` (columns ``prompt``, ``target``),
    evaluating the loss on ``test`` (before training and after each epoch).

    Writes ``out/model/`` (plain, merged transformers folder); returns the metrics. With ``live``
    (a :class:`dvclive.Live`, see :mod:`explainrec.core.curves`) the trainer's log goes there per step.
    With ``params.checkpoint_steps`` the trainer's folder is the
    checkpoint ``checkpoint`` (a name, see :func:`sft_checkpoint`): an earlier run of the
    same training that was killed is resumed from its newest complete checkpoint
    (``resumed_from_step`` in the metrics, 0 when it starts afresh), and the checkpoints
    are removed once the outputs are written, unless ``keep_checkpoint``: the
    :class:`~explainrec.core.checkpoints.Checkpoint` is then returned under ``_checkpoint`` for
    the caller to clear. Otherwise the trainer's folder is a deleted temporary one.
    """
    from explainrec.core.checkpoints import last_trainer_checkpoint
    from explainrec.core.launch import is_main, world_size

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if train.empty:
        raise ParamError("train", "at least one training pair", 0)
    t0 = time.perf_counter()
    ckpt = None
    if checkpoint and params.checkpoint_steps:
        ckpt = sft_checkpoint(checkpoint, train, test, base, params, seed)
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        # raised inside transformers/peft for a deprecated alias they read themselves; nothing to act on here
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        if ckpt is None:
            work, resume = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sft-trainer-"))), None
        else:
            work, resume = ckpt.folder, last_trainer_checkpoint(ckpt.folder, world_size(), prune=is_main())
        trainer = make_trainer(train, test, base, params, seed, work, progress, resume, live)
        n_trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        n_total = sum(p.numel() for p in trainer.model.parameters())
        examples = len(trainer.train_dataset)
        eval_examples = len(trainer.eval_dataset) if trainer.eval_dataset is not None else 0
        t_train = time.perf_counter()
        if resume is not None and _finished(resume):
            training_loss = _restore_finished(trainer, resume)
        else:
            training_loss = trainer.train(resume_from_checkpoint=None if resume is None else str(resume)).training_loss
        train_seconds = time.perf_counter() - t_train  # optimiser steps plus the per-epoch evaluations
        evaluated = [e["step"] for e in trainer.state.log_history if "eval_loss" in e]
        if eval_examples and (not evaluated or evaluated[-1] != trainer.state.global_step):
            trainer.evaluate()  # a fractional last epoch ends without the per-epoch evaluation
        for callback in trainer.callback_handler.callbacks:  # a restored run logged nothing: its log goes now
            if hasattr(callback, "replay"):
                callback.replay(trainer.args, trainer.state, trainer.control)
        save_model(trainer, out / "model")
    rows = loss_rows(trainer.state.log_history)
    train_losses = [r["train_loss"] for r in rows if r["train_loss"] != ""]
    eval_losses = [(r["step"], r["eval_loss"]) for r in rows if r["eval_loss"] != ""]
    metrics: dict[str, Any] = {
        "method": params.method,
        "examples": examples,
        "examples_dropped_too_long": len(train) - examples,
        "eval_examples": eval_examples,
        "train_loss": train_losses[-1] if train_losses else None,
        "train_loss_first": train_losses[0] if train_losses else None,
        "train_loss_mean": round(float(training_loss), 6),
        "eval_loss": eval_losses[-1][1] if eval_losses else None,
        "eval_loss_before": eval_losses[0][1] if eval_losses and eval_losses[0][0] == 0 else None,
        "trainable_params": int(n_trainable),
        "total_params": int(n_total),
        "learning_rate": params.lr,
        "epochs": params.epochs,
        "steps": int(trainer.state.global_step),
        "resumed_from_step": _step_of(resume),
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 2),
        "train_seconds": round(train_seconds, 2),
        "threads": params.threads or os.cpu_count(),
        # where and in what dtype it trained (float32 on a CPU; bfloat16 mixed precision on a CUDA GPU that has it)
        "machine": machine_facts(str(trainer.args.device), "bfloat16" if trainer.args.bf16 else "float32"),
    }
    if ckpt is not None:
        if keep_checkpoint:
            metrics["_checkpoint"] = ckpt
        elif is_main():  # the outputs are written: nothing left to resume
            ckpt.clear()
    return metrics


def _finished(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` is the run's last step."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state["global_step"]) >= int(state.get("max_steps") or 0) > 0


def _restore_finished(trainer: Any, checkpoint: Path) -> float:
    """Load the weights and the state of a run's last checkpoint into ``trainer`` without training;
    return the run's mean training loss (as ``Trainer.train`` computes it).

    ``trainer.train(resume_from_checkpoint=...)`` would train one step more when the run ends
    inside an epoch (transformers 5.23, ``_run_epoch`` does not check ``max_steps`` before a step).
    """
    from transformers.trainer_callback import TrainerState

    trainer._load_from_checkpoint(str(checkpoint))
    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    sums = trainer.state.stateful_callbacks.get("SFTLossCarry", {}).get("attributes", {})
    total = float(sums.get("total_loss", 0.0)) + float(sums.get("tr_loss", 0.0))
    return total / max(trainer.state.global_step, 0.001)


def _step_of(checkpoint: Path | None) -> int:
    """The step of a ``checkpoint-<step>`` folder; 0 for none."""
    return int(checkpoint.name.rsplit("-", 1)[1]) if checkpoint is not None else 0


def sample_pairs(pairs: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of ``n`` rows (all rows when ``n`` is None or not smaller), in the original order."""
    if n is None or len(pairs) <= n:
        return pairs.reset_index(drop=True)
    return pairs.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


def run_sft(profiles: str | Path, targets: str | Path, base: str | Path, out: str | Path,
            params: SFTTrainConfig, seed: int, progress: bool = True, items: str | Path | None = None,
            checkpoint: str | None = CHECKPOINT_NAME, keep_checkpoint: bool = False,
            live: Any = None) -> dict[str, Any]:
    """The sft stage: build the pairs from the profiles and the targets folder (the stage
    that ``params.targets`` names), with the titles of the ``items`` table in the prompts
    when ``params.item_title`` (no items table: Fig. 4's prompt), sample ``max_train_pairs`` / ``max_eval_pairs`` (seeded),
    fine-tune ``base`` and write ``out/model/``; return the metrics (the curves go to ``live``, when given).

    ``out`` should be a temporary folder that the caller renames into place. ``checkpoint`` names the
    training's checkpoints and ``keep_checkpoint`` keeps them (see :func:`train_sft`).
    """
    from explainrec.core.explanation_pairs import load_sft_data

    if not progress:
        import datasets

        datasets.disable_progress_bars()
    data = load_sft_data(profiles, targets, params.targets, params.include_unverified,
                         params.user_layer, params.item_layer, params.item_names(items), params.target_form)
    train = sample_pairs(data.train, params.max_train_pairs, seed)
    test = sample_pairs(data.test, params.max_eval_pairs, seed)
    metrics = train_sft(train, test, base, out, params, seed, progress, checkpoint, keep_checkpoint, live)
    metrics.update({"targets": params.targets, "include_unverified": params.include_unverified,
                    "user_layer": params.user_layer, "item_layer": params.item_layer,
                    "train_pairs_available": len(data.train), "test_pairs_available": len(data.test),
                    "data": data.stats})
    return metrics
