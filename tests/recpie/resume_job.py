"""A small GRPO step of the tiny explainer for the kill-then-resume tests.

Run as a script it builds the explainer on a fresh tiny model in MODEL_DIR and runs
:func:`run_job` (checkpoints under ``$EXPLAINREC_CACHE/checkpoints``), sleeping after every
optimiser step so the test can kill it half-way, then saves the explainer's state in OUT::

    python tests/recpie/resume_job.py MODEL_DIR OUT --sleep 0.4
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.killing import job_args, sleep_callback

STEPS = 6
NAME = "test_grpo"


def job_explainer(model_dir: str | Path) -> Any:
    """The tiny explainer with a non-zero E_c, so the projection gets a gradient."""
    import torch

    from explainrec.recpie.config import RecPIEExplainerConfig
    from explainrec.recpie.explainer import build_explainer
    from tests.recpie.conftest import tiny_backend

    torch.set_num_threads(1)
    explainer = build_explainer(tiny_backend(Path(model_dir)), 2, 4, RecPIEExplainerConfig(lora_r=4), 0)
    explainer.soft_prompt.set_users(torch.arange(8, dtype=torch.float32).reshape(2, 4) / 8)
    return explainer


def job_dataset(explainer: Any, steps: int = STEPS, spare: int = 0) -> dict[str, list[Any]]:
    """Two prompts per generation batch (``steps / num_iterations`` batches: the round loop's shape, one
    epoch), and ``spare`` more (the step then ends inside the epoch)."""
    from explainrec.core.domain_prompts import DOMAINS
    from explainrec.recpie.config import RecPIEExplainerConfig
    from explainrec.recpie.explainer import explanation_request, render

    requests = [explanation_request(["fun drama"], "dark comedy", u, True, DOMAINS["movie"], "zero_shot",
                                    "contrastive", RecPIEExplainerConfig()) for u in (0, 1)]
    n = 2 * job_config(steps).generation_batches + spare
    return {"prompt": [render(explainer, requests[i % 2]) for i in range(n)], "user": [i % 2 for i in range(n)]}


def likes_funny(prompts: list[Any], completions: list[Any], user: list[int], **_: Any) -> list[float]:
    return [c.split().count("funny") + 0.1 * len(c.split()) + 0.05 * u for c, u in zip(completions, user)]


def job_config(steps: int = STEPS) -> Any:
    from explainrec.recpie.config import RLConfig

    return RLConfig(steps=steps, num_generations=4, prompts_per_step=2, max_completion_length=8, learning_rate=0.05)


def run_job(explainer: Any, seed: int = 3, key: Any = "run", steps: int = STEPS, spare: int = 0) -> dict[str, Any]:
    from explainrec.recpie.rl import grpo_update

    return grpo_update(explainer, job_dataset(explainer, steps, spare), likes_funny, job_config(steps), seed,
                       checkpoint=NAME, checkpoint_key=key)


def add_trainer_callback(callback: Any, patch: Callable[[Any, str, Any], None] = setattr) -> None:
    """Give the GRPO trainers of :mod:`explainrec.recpie.rl` ``callback``; ``patch`` replaces its
    ``_trainer_class`` (a test passes ``monkeypatch.setattr``, to undo that)."""
    from explainrec.recpie import rl

    make_class = rl._trainer_class

    def class_with_callback() -> type:
        class WithCallback(make_class()):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.add_callback(callback)

        return WithCallback

    patch(rl, "_trainer_class", class_with_callback)


def slowed(sleep_s: float) -> None:
    """Make the GRPO trainers of :mod:`explainrec.recpie.rl` sleep after each optimiser step."""
    add_trainer_callback(sleep_callback(sleep_s))


def main() -> None:
    a = job_args("model_dir", "out")
    if a.sleep:
        slowed(a.sleep)
    explainer = job_explainer(a.model_dir)
    run_job(explainer)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    explainer.save(a.out)


if __name__ == "__main__":
    main()
