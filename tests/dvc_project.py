"""Run the real dvc.yaml and stages in a temporary git repo, as a user would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO


def run(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, "-m", "dvc", *args, check=check)


def ran(proc: subprocess.CompletedProcess) -> set[str]:
    """The stages a ``dvc repro`` / ``dvc exp run`` executed."""
    return set(re.findall(r"Running stage '([\w@.-]+)'", proc.stdout + proc.stderr))


def read_params(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "params.yaml").read_text())


def write_params(root: Path, params: dict[str, Any]) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))


def set_param(root: Path, dotted: str, value: object) -> None:
    params = read_params(root)
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    write_params(root, params)


def make_project(root: Path, tiny_model: Path, overrides: dict[str, Any]) -> Path:
    """Copy the pipeline into ``root``, point every model at ``tiny_model``, apply ``overrides`` (top-level keys)."""
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "stages", root / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    params = read_params(root)
    entry = {"backend": "transformers", "model": str(tiny_model), "device": "cpu", "dtype": "float32", "batch_size": 8}
    params["llms"] = {"tiny-a": entry, "tiny-b": {**entry, "temperature": 0.7}}
    params["llm"] = "tiny-a"
    params["sft"]["base_model"] = str(tiny_model)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(params.get(key), dict) and key not in ("datasets", "explainers"):
            params[key] = {**params[key], **value}
        else:
            params[key] = value
    write_params(root, params)
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "ci@example.invalid")
    run(root, "git", "config", "user.name", "ci")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    return root


#: tiny sizes for every LLM stage (the tiny model never solves CPEG, so unverified pairs are kept for SFT)
TINY = {
    "profiles": {"layers": 1, "neighbors": 2, "max_new_tokens": 12},
    "negatives": {"k": 1, "m": 2, "max_train": 6, "max_test": 3},
    "cpeg": {"max_retries": 1, "max_new_tokens": 12},
    "sft": {"epochs": 1.0, "batch_size": 4, "max_train_pairs": 6, "max_eval_pairs": 3, "include_unverified": True,
            "logging_steps": 1},
    "generate": {"max_new_tokens": 12},
    "evaluate": {"judge": "tiny-a"},
    "ground_truth": {"max_pairs": 2, "include_unverified": True, "rewrite_max_new_tokens": 12,
                     "variants": {"k1_m1": {"k": 1, "m": 1}, "k0_m2": {"k": 0, "m": 2}}},
    # LR-Recsys: one explanation set, the autoencoder, the model and the two runs the report tests it against
    "lrrecsys": {
        "seeds": 2,
        "pairs": {"history": 5, "max_train": 8, "max_test": 4},
        "explain": {"style": "zero_shot", "prompt": "contrastive", "profile_augmentation": True, "domain": "auto",
                    "profile_layer": 0, "max_profile_chars": 60, "max_new_tokens": 8},
        "explanation_sets": {"main": {}},
        "autoencoder": {"max_len": 50, "word_dim": 8, "hidden": 64, "bottleneck": 8, "epochs": 3, "batch_size": 128,
                        "learning_rate": 0.1, "optimizer": "adagrad", "min_count": 1},
        "embeddings": {"main": {"explanations": "main", "encoder": "autoencoder"}},
        "model": {"dim": 8, "mlp": [64, 8], "ncf_mlp": [32, 16, 8]},
        "train": {"learning_rate": 0.01, "batch_size": 128, "epochs": 3, "patience": 10, "val_fraction": 0.25,
                  "optimizer": "adam"},
        "runs": {"lr_recsys": {"label": "LR-Recsys", "embeddings": "main"},
                 "ablation_1": {"label": "free", "embeddings": "main", "explanations": "free"},
                 "black_box": {"label": "black box", "embeddings": "main", "explanations": "none"}},
        "report": {"baseline": "lr_recsys", "compare": ["ablation_1", "black_box"], "keyword_items": 2, "keywords": 3},
    },
    # XRec: the full variant only (its explainers entry below), a few epochs of a small graph
    "xrec": {
        "gnn": {"dim": 8, "layers": 2, "combine": "sum", "reg_weight": 1e-6, "reg_on": "batch", "learning_rate": 0.01,
                "batch_size": 1024, "max_epochs": 5, "patience": 10, "val_fraction": 0.1, "resample_negatives": False,
                "top_k": 5, "splits": ["profile", "train"]},
        "sparsity": {"zero_shot": "held_out", "zero_shot_users": 0.2, "buckets": 2, "buckets_by": "users"},
        "moe": {"experts": 2, "dropout": 0.2, "noise_epsilon": 0.01, "noisy_gating": True},
        "train": {"learning_rate": 1e-3, "batch_size": 4, "epochs": 1, "max_length": 256},
        "generate": {"max_new_tokens": 8, "batch_size": 4},
        "explainer": {"targets": "auto", "domain": "auto", "profiles": True, "inject_all_layers": True,
                      "max_profile_chars": 60},
        "variants": {"full": {}},
    },
    # RecPIE: two rounds (one generation batch, optimised twice: 2 GRPO steps, between them) on a few of the LR-Recsys pairs
    "recpie": {"rounds": 2, "warm_start": True, "encoder": "sentence", "max_train_pairs": 4, "max_test_pairs": 2,
               "kl_pairs": 2, "aspects": 2, "aspect_max_new_tokens": 6, "rl_on_last_round": False,
               "explainer": {"lora_r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
                             "max_new_tokens": 6, "person": "user"},
               "rl": {"steps": 2, "num_generations": 2, "prompts_per_step": 1, "learning_rate": 1e-4, "beta": 0.0,
                      "temperature": 1.0, "max_completion_length": 6, "epsilon": 0.2, "num_iterations": 2,
                      "loss_type": "grpo"}},
    # every explainer evaluate@ scores (replaced whole, so the XRec ablations not run here are not listed)
    "explainers": {"full": "data/generate/explanations.parquet",
                   **{a: f"data/ablations/{a}/explanations.parquet"
                      for a in ("wo_sft", "wo_pghis")},
                   "xrec": "data/xrec/generate/full/explanations.parquet"},
}


def tiny_amazon(path: Path, n_users: int = 12, n_items: int = 10) -> None:
    lines = []
    for u in range(n_users):
        for i in range(n_items):
            if (u + i) % 3 == 0 or (u * i) % 4 == 1:
                lines.append(json.dumps({"reviewerID": f"U{u}", "asin": f"B{i:03d}", "overall": float(1 + (u + i) % 5),
                                         "reviewText": f"review of item {i} by user {u}", "summary": "ok",
                                         "unixReviewTime": 1_300_000_000 + 86400 * (u * n_items + i)}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def make_tiny_project(root: Path, tiny_model: Path) -> Path:
    """The whole pipeline on a tiny Amazon-format file and :data:`TINY` sizes, ready for ``dvc repro``.

    The reviews file sits in ``inputs/``, which git tracks (``data/external/`` is ignored), so a
    ``git clone`` of the project, or a queued experiment's copy, has it too."""
    tiny_amazon(root / "inputs" / "tiny.json")
    return make_project(root, tiny_model, {
        "datasets": {"tiny": {"format": "amazon", "reviews": "inputs/tiny.json"}},
        "dataset": "tiny",
        "filter": {"user_core": 2, "item_core": 2, "max_users": None, "max_items": None},
        **TINY,
    })
