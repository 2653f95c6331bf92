"""A small SFT run for the kill-then-resume tests.

Run as a script it fine-tunes the tiny model on :func:`job_pairs` with :data:`JOB_PARAMS`
into OUT (checkpoints under ``$EXPLAINREC_CACHE/checkpoints``), sleeping after every
optimiser step so the test can kill it half-way, and writes the metrics to
``OUT/metrics.json``::

    python tests/sft/resume_job.py MODEL_DIR OUT --sleep 0.4
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from tests.killing import job_args, sleep_callback

#: 8 pairs, batches of 2: 4 steps an epoch, 12 in all; a checkpoint every 2 steps; a loss every 2
#: steps (and the first); the test loss before training and after each epoch
JOB_PARAMS = dict(epochs=3, batch_size=2, eval_batch_size=8, logging_steps=2, max_length=256, threads=1,
                  warmup=0.1, learning_rate=3e-2, lora_r=8, lora_dropout=0.1, checkpoint_steps=2)
STEPS = 12


def job_pairs() -> tuple[pd.DataFrame, pd.DataFrame]:
    from explainrec.core.explanation_pairs import build_pairs, split_targets
    from tests.sft import ITEMS, USERS, pair_rows

    by_split = split_targets(pd.DataFrame(pair_rows("train", 8) + pair_rows("test", 4, start=8)))
    return build_pairs(by_split["train"], USERS, ITEMS)[0], build_pairs(by_split["test"], USERS, ITEMS)[0]


def job_params(**overrides: Any) -> Any:
    from explainrec.core.config import from_section
    from explainrec.sft.params import SFTTrainConfig

    return from_section(SFTTrainConfig, {**JOB_PARAMS, **overrides}, "sft")


def add_trainer_callback(callback: Any, patch: Callable[[Any, str, Any], None] = setattr) -> None:
    """Give every trainer that :mod:`explainrec.sft.train` builds ``callback``; ``patch`` replaces its
    ``make_trainer`` (a test passes ``monkeypatch.setattr``, to undo that)."""
    from explainrec.sft import train

    make = train.make_trainer

    def make_with_callback(*args: Any, **kwargs: Any) -> Any:
        trainer = make(*args, **kwargs)
        trainer.add_callback(callback)
        return trainer

    patch(train, "make_trainer", make_with_callback)


def slowed(sleep_s: float) -> None:
    """Make every trainer that :mod:`explainrec.sft.train` builds sleep after each optimiser step
    (a stand-in for a slow model)."""
    add_trainer_callback(sleep_callback(sleep_s))


def run_job(model_dir: str | Path, out: str | Path, seed: int = 0, **overrides: Any) -> dict[str, Any]:
    from explainrec.core.curves import curves
    from explainrec.sft.train import train_sft

    train, test = job_pairs()
    with curves(Path(f"{out}.curves")) as live:  # DVCLive's folder beside the output, as the stage's is
        return train_sft(train, test, model_dir, out, job_params(**overrides), seed=seed, progress=False, live=live)


def main() -> None:
    a = job_args("model_dir", "out")
    if a.sleep:
        slowed(a.sleep)
    metrics = run_job(a.model_dir, a.out)
    (Path(a.out) / "metrics.json").write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
