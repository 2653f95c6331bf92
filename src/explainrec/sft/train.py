"""Supervised fine-tuning of the explanation generator (paper 000 §3.3).

trl's ``SFTTrainer`` on a prompt-completion dataset: the prompt is the Fig. 4
user turn rendered with the base model's chat template, the completion the
normalised target explanation (see :mod:`explainrec.sft.prompt`), and the
token-level cross-entropy is computed on the completion only (trl's
``completion_only_loss``; prompt tokens carry the label -100).

``method: lora`` (default) trains a LoRA adapter (peft) and merges it into the
weights with ``merge_and_unload()``; ``method: full`` updates every parameter
as the paper does (it used 1e-5 with Qwen2.5-7B-Instruct). Either way the
result is a plain transformers folder that ``AutoModelForCausalLM`` and the
project's LLM layer load like any other model.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.errors import LLMUnavailable, ParamError
from explainrec.sft.params import SFTParams

def to_trl_dataset(pairs: pd.DataFrame, tokenizer: Any) -> Any:
    """A trl prompt-completion ``Dataset`` for a pair table (columns ``prompt``, ``target``).

    With a chat template the examples are conversational (the user turn, then
    the assistant turn), so trl renders them with the template; a tokenizer
    without one gets the LLM layer's plain ``User:/Assistant:`` fallback, the
    same text the generate stage feeds it.
    """
    from datasets import Dataset

    from explainrec.llm.render import plain_prompt
    from explainrec.sft.prompt import prompt_messages

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


def make_trainer(train: pd.DataFrame, test: pd.DataFrame | None, base: str | Path, params: SFTParams, seed: int,
                 work_dir: str | Path, progress: bool = False) -> Any:
    """A ready ``SFTTrainer`` (model, tokenised datasets, LoRA when ``params.method == 'lora'``)."""
    import torch
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    if params.threads:
        torch.set_num_threads(params.threads)
    set_seed(seed)  # before the model exists: LoRA's initial weights depend on it
    tok, model = load_base(base)
    cuda = torch.cuda.is_available()
    has_eval = test is not None and len(test) > 0
    from explainrec.launch import world_size

    world = world_size()  # processes started by `accelerate launch` (explainrec.launch); 1 without
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
        eval_on_start=bool(has_eval and params.eval_on_start),
        save_strategy="no",
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
            return SFTTrainer(model=model, args=args, train_dataset=to_trl_dataset(train, tok),
                              eval_dataset=to_trl_dataset(test, tok) if has_eval else None,
                              processing_class=tok, peft_config=peft_config)
    except ValueError as e:
        if "target modules" in str(e).lower() or "target_modules" in str(e):
            raise ParamError("sft.target_modules", f"module names of the base model ({str(e).splitlines()[0][:160]})",
                             list(params.target_modules)) from e
        raise


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


def write_loss_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "epoch", "train_loss", "eval_loss"])
        w.writeheader()
        w.writerows(rows)


def save_model(trainer: Any, folder: Path) -> None:
    """Save a plain transformers folder: LoRA merged into the weights, plus the tokenizer."""
    from peft import PeftModel

    model = trainer.model
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    model.save_pretrained(folder)
    trainer.processing_class.save_pretrained(folder)


def train_sft(train: pd.DataFrame, test: pd.DataFrame | None, base: str | Path, out: str | Path,
              params: SFTParams, seed: int, progress: bool = False) -> dict[str, Any]:
    """Fine-tune ``base`` on the pair table ``train`` (columns ``prompt``, ``target``),
    evaluating the loss on ``test`` (before training and after each epoch).

    Writes ``out/model/`` (plain, merged transformers folder) and ``out/loss.csv``;
    returns the metrics. The trainer's own scratch folder is a deleted temporary one.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if train.empty:
        raise ParamError("train", "at least one training pair", 0)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sft-trainer-") as work, warnings.catch_warnings():
        # raised inside transformers/peft for a deprecated alias they read themselves; nothing to act on here
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        trainer = make_trainer(train, test, base, params, seed, work, progress)
        n_trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        n_total = sum(p.numel() for p in trainer.model.parameters())
        examples = len(trainer.train_dataset)
        eval_examples = len(trainer.eval_dataset) if trainer.eval_dataset is not None else 0
        t_train = time.perf_counter()
        result = trainer.train()
        train_seconds = time.perf_counter() - t_train  # optimiser steps plus the per-epoch evaluations
        evaluated = [e["step"] for e in trainer.state.log_history if "eval_loss" in e]
        if eval_examples and (not evaluated or evaluated[-1] != trainer.state.global_step):
            trainer.evaluate()  # a fractional last epoch ends without the per-epoch evaluation
        save_model(trainer, out / "model")
    rows = loss_rows(trainer.state.log_history)
    write_loss_csv(rows, out / "loss.csv")
    train_losses = [r["train_loss"] for r in rows if r["train_loss"] != ""]
    eval_losses = [(r["step"], r["eval_loss"]) for r in rows if r["eval_loss"] != ""]
    metrics: dict[str, Any] = {
        "method": params.method,
        "examples": examples,
        "examples_dropped_too_long": len(train) - examples,
        "eval_examples": eval_examples,
        "train_loss": train_losses[-1] if train_losses else None,
        "train_loss_first": train_losses[0] if train_losses else None,
        "train_loss_mean": round(float(result.training_loss), 6),
        "eval_loss": eval_losses[-1][1] if eval_losses else None,
        "eval_loss_before": eval_losses[0][1] if eval_losses and eval_losses[0][0] == 0 else None,
        "trainable_params": int(n_trainable),
        "total_params": int(n_total),
        "learning_rate": params.lr,
        "epochs": params.epochs,
        "steps": int(trainer.state.global_step),
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 2),
        "train_seconds": round(train_seconds, 2),
        "threads": params.threads or os.cpu_count(),
    }
    return metrics


def sample_pairs(pairs: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of ``n`` rows (all rows when ``n`` is None or not smaller), in the original order."""
    if n is None or len(pairs) <= n:
        return pairs.reset_index(drop=True)
    return pairs.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


def run_sft(profiles: str | Path, targets: str | Path, base: str | Path, out: str | Path,
            params: SFTParams, seed: int, progress: bool = True, items: str | Path | None = None) -> dict[str, Any]:
    """The sft stage: build the pairs from the profiles and the targets folder (the stage
    that ``params.targets`` names), with the titles of the ``items`` table in the prompts
    when ``params.item_title`` (no items table: Fig. 4's prompt), sample ``max_train_pairs`` / ``max_eval_pairs`` (seeded),
    fine-tune ``base`` and write ``out/model/`` and ``out/loss.csv``; return the metrics.

    ``out`` should be a temporary folder that the caller renames into place.
    """
    from explainrec.sft.data import load_sft_data

    if not progress:
        import datasets

        datasets.disable_progress_bars()
    data = load_sft_data(profiles, targets, params.targets, params.include_unverified,
                         params.user_layer, params.item_layer, params.item_names(items), params.target_form)
    train = sample_pairs(data.train, params.max_train_pairs, seed)
    test = sample_pairs(data.test, params.max_eval_pairs, seed)
    metrics = train_sft(train, test, base, out, params, seed, progress)
    metrics.update({"targets": params.targets, "include_unverified": params.include_unverified,
                    "user_layer": params.user_layer, "item_layer": params.item_layer,
                    "train_pairs_available": len(data.train), "test_pairs_available": len(data.test),
                    "data": data.stats})
    return metrics
