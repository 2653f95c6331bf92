"""A slow XRec adapter training on the tiny Llama for the kill-then-resume test.

Run as a module from the repository root it trains the adapters of :func:`run_job` with a
checkpoint under ROOT, sleeping after every saved step so the test can kill it half-way::

    python -m tests.xrec.resume_job MODEL_DIR ROOT --sleep 0.1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from explainrec.core.checkpoints import Checkpoint
from explainrec.llm.spec import LLMSpec
from explainrec.xrec.data import ExplainerConfig, xrec_request
from explainrec.xrec.frozen import FrozenLM, load_frozen
from explainrec.xrec.moe import Adapters, MoEConfig
from explainrec.xrec.train import Example, AdapterTrainConfig, examples, train_adapters
from tests.killing import SlowCheckpoint, job_args

EXPLAINER = ExplainerConfig(profiles=False)
#: the default dropout and noisy gates, so that torch's generator matters; 4 steps a epoch, 16 in all
MOE = MoEConfig()
CONFIG = AdapterTrainConfig(learning_rate=0.01, batch_size=2, epochs=4)
SEED = 3


def job_lm(model_dir: str | Path) -> FrozenLM:
    return load_frozen(LLMSpec(name="tiny", backend="transformers", model=str(model_dir), device="cpu",
                               dtype="float32", threads=1, prefix_cache_mb=0))


def job_data(lm: FrozenLM, n: int = 8, offset: int = 0) -> dict[str, list[Example]]:
    """``n`` train and 4 test examples with random graph vectors (``offset`` changes the vectors)."""
    rng = np.random.default_rng(offset)
    out = {}
    for split, size in (("train", n), ("test", 4)):
        reqs = [xrec_request(EXPLAINER, "movielens", f"film {k}", "", "") for k in range(size)]
        targets = [f"the user likes films with a {animal}" for animal in ("dog", "cat", "horse", "fish")] * size
        users = rng.normal(size=(size, 8)).astype(np.float32)
        items = rng.normal(size=(size, 8)).astype(np.float32)
        out[split] = examples(lm, reqs, targets[:size], users, items, 512)
    return out


def job_adapters(lm: FrozenLM, seed: int = SEED) -> Adapters:
    import torch

    torch.manual_seed(seed)
    return Adapters(8, lm.hidden, MOE)


def job_checkpoint(lm: FrozenLM, data: dict[str, list[Example]], root: str | Path | None = None,
                   seed: int = SEED, config: AdapterTrainConfig = CONFIG) -> Checkpoint:
    from explainrec.xrec.experiment import moe_checkpoint

    plain = moe_checkpoint("xrec_moe/job", lm, job_adapters(lm, seed), data, EXPLAINER, MOE, config, seed)
    return Checkpoint(plain.name, plain.key, root)


def run_job(lm: FrozenLM, data: dict[str, list[Example]], checkpoint: Checkpoint | None, seed: int = SEED,
            config: AdapterTrainConfig = CONFIG, **kw: Any) -> tuple[Adapters, dict[str, Any]]:
    adapters = job_adapters(lm, seed)
    result = train_adapters(lm, adapters, data["train"], data["test"], config, EXPLAINER.inject_all_layers, seed,
                            progress=False, checkpoint=checkpoint, **kw)
    return adapters, result


def main() -> None:
    a = job_args("model_dir", "root")
    lm = job_lm(a.model_dir)
    data = job_data(lm)
    plain = job_checkpoint(lm, data, a.root)
    run_job(lm, data, SlowCheckpoint(plain.name, plain.key, a.root, a.sleep))


if __name__ == "__main__":
    main()
