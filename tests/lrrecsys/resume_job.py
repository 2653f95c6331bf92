"""A slow LR-Recsys fit for the kill-then-resume test.

Run as a module from the repository root it fits the DNN of :func:`job` with a checkpoint
under ROOT, sleeping after every saved epoch so the test can kill it half-way::

    python -m tests.lrrecsys.resume_job ROOT --sleep 0.1
"""

from __future__ import annotations

from pathlib import Path

from explainrec.core.checkpoints import Checkpoint
from explainrec.core.recommender.model import ModelConfig
from explainrec.core.recommender.train import Fit, TrainConfig, fit, fit_checkpoint
from tests.killing import SlowCheckpoint, job_args

from .test_train import N_ITEMS, N_USERS, data

#: 60 epochs of 3 batches; patience 0 so that every epoch runs
CONFIG = TrainConfig(learning_rate=0.01, batch_size=40, epochs=60, patience=0, val_fraction=0.1)
TASK, SEED = "classification", 5


def job_checkpoint(root: str | Path) -> Checkpoint:
    inputs, ratings = data(120, 0)
    plain = fit_checkpoint("job", ModelConfig(), CONFIG, inputs, ratings, TASK, N_USERS, N_ITEMS, SEED)
    return Checkpoint(plain.name, plain.key, root)


def run_job(checkpoint: Checkpoint | None) -> Fit:
    inputs, ratings = data(120, 0)
    return fit(ModelConfig(), CONFIG, inputs, ratings, TASK, N_USERS, N_ITEMS, SEED, checkpoint=checkpoint)


def main() -> None:
    import torch

    a = job_args("root")
    torch.set_num_threads(1)  # as the tests run
    plain = job_checkpoint(a.root)
    run_job(SlowCheckpoint(plain.name, plain.key, a.root, a.sleep))


if __name__ == "__main__":
    main()
