"""A training run for tests/launch/test_launch.py, started as a stage starts: ``python tests/launch/worker.py``.

    python tests/launch/worker.py {sft,xrec} MODEL_DIR OUT_JSON --processes N

It calls :func:`explainrec.core.launch.relaunch` first (as the sft and xrec_moe stages do), so with
``--processes 2`` it runs again under ``accelerate launch`` on 2 processes (gloo on CPU); process 0
writes the per-step train losses and the world size to OUT_JSON.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click


@click.command()
@click.argument("method", type=click.Choice(["sft", "xrec"]))
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out_json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--processes", type=int, default=1)
def main(method: str, model_dir: Path, out_json: Path, processes: int) -> None:
    from explainrec.core import launch

    launch.relaunch(launch.LaunchConfig("accelerate" if processes > 1 else "python", processes))
    losses = sft_losses(model_dir) if method == "sft" else xrec_losses(model_dir)
    if launch.is_main():
        out_json.write_text(json.dumps({"world_size": launch.world_size(), "losses": losses}))


def sft_losses(model_dir: Path) -> list[float]:
    import pandas as pd

    from explainrec.core.config import from_section
    from explainrec.core.explanation_pairs import build_pairs, split_targets
    from explainrec.sft.params import SFTTrainConfig
    from explainrec.sft.train import train_sft
    from tests.sft import ITEMS, USERS, pair_rows

    by_split = split_targets(pd.DataFrame(pair_rows("train", 8) + pair_rows("test", 4, start=8)))
    train, test = build_pairs(by_split["train"], USERS, ITEMS)[0], build_pairs(by_split["test"], USERS, ITEMS)[0]
    params = from_section(SFTTrainConfig, {"epochs": 6, "batch_size": 4, "eval_batch_size": 8, "logging_steps": 1,
                                      "max_length": 256, "threads": 1, "warmup": 0.0, "method": "lora",
                                      "lora_r": 8, "learning_rate": 3e-2, "eval_on_start": False}, "sft")
    from explainrec.core.curves import curves
    from explainrec.core.launch import is_main

    with tempfile.TemporaryDirectory() as out:
        with curves(Path(out) / "curves" if is_main() else None) as live:  # process 0 logs, as in the stage
            train_sft(train, test, model_dir, Path(out) / "sft", params, seed=0, progress=False, live=live)
        if not is_main():
            return []
        return pd.read_csv(Path(out) / "curves" / "plots" / "metrics" / "loss.tsv", sep="\t")["loss"].tolist()


def xrec_losses(model_dir: Path) -> list[float]:
    import numpy as np
    import torch

    from explainrec.llm.spec import LLMSpec
    from explainrec.xrec.data import ExplainerConfig, xrec_request
    from explainrec.xrec.frozen import load_frozen
    from explainrec.xrec.moe import Adapters, MoEConfig
    from explainrec.xrec.train import AdapterTrainConfig, examples, train_adapters

    lm = load_frozen(LLMSpec(name="tiny", backend="transformers", model=str(model_dir), device="cpu",
                             dtype="float32", threads=1, prefix_cache_mb=0))
    rng = np.random.default_rng(0)
    n = 8
    reqs = [xrec_request(ExplainerConfig(profiles=False), "movielens", f"film {k}", "", "") for k in range(n)]
    targets = ["the user likes films with a dog", "the user likes films with a cat and a long story"] * (n // 2)
    ex = examples(lm, reqs, targets, rng.normal(size=(n, 8)).astype(np.float32),
                  rng.normal(size=(n, 8)).astype(np.float32), 512)
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig(dropout=0.0, noisy_gating=False))
    out = train_adapters(lm, adapters, ex, ex, AdapterTrainConfig(learning_rate=0.3, batch_size=4, epochs=8), True,
                         seed=0, progress=False)
    return [s["train_loss"] for s in out["steps"]]


if __name__ == "__main__":
    sys.exit(main())
