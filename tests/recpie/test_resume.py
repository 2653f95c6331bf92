"""RecPIE's GRPO step survives a kill: a rerun continues from the step's last checkpoint and ends with
the LoRA weights, soft-prompt projection and per-step log of an uninterrupted step (byte for byte);
the checkpoints go when the step ends; a changed input starts afresh. Then the same inside the round
loop."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from explainrec.core.checkpoints import last_trainer_checkpoint
from tests.killing import REPO, Interrupted, run_and_kill, stop_callback, trainer_step

from .resume_job import NAME, STEPS, add_trainer_callback, job_explainer, run_job

HERE = Path(__file__).parent
TIMING = ("step_time", "runtime", "per_second")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """Checkpoints under the test's own folder."""
    monkeypatch.setenv("EXPLAINREC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def untimed(log: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if not any(t in k for t in TIMING)} for e in log]


def assert_same_step(a, b, ma: dict, mb: dict) -> None:
    sa, sb = a.trainable_state(), b.trainable_state()
    assert sa.keys() == sb.keys() and any(k.startswith("soft_prompt.proj") for k in sa)
    assert all(torch.equal(sa[k], sb[k]) for k in sa), [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert untimed(ma["rl_log"]) == untimed(mb["rl_log"]) and ma["rl_steps"] == mb["rl_steps"]


def stop_at(monkeypatch, step: int | None) -> None:
    """Make grpo_update's trainers raise at the end of optimiser step ``step`` (None: at the end of
    training, after its last checkpoint)."""
    add_trainer_callback(stop_callback(step), monkeypatch.setattr)


def checkpoints(cache: Path, name: str = NAME) -> list[Path]:
    folder = cache / "checkpoints" / name
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted step (checkpoints on): the explainer and the metrics."""
    root = tmp_path_factory.mktemp("grpo-reference")
    env = os.environ.get("EXPLAINREC_CACHE")
    os.environ["EXPLAINREC_CACHE"] = str(root / "cache")
    try:
        explainer = job_explainer(root / "model")
        before = {k: v.clone() for k, v in explainer.trainable_state().items()}
        m = run_job(explainer)
    finally:
        if env is None:
            os.environ.pop("EXPLAINREC_CACHE")
        else:
            os.environ["EXPLAINREC_CACHE"] = env
    after = explainer.trainable_state()
    assert not torch.equal(before["soft_prompt.proj.weight"], after["soft_prompt.proj.weight"])  # it trains
    assert m["rl_steps"] == STEPS and m["resumed_from_step"] == 0
    assert not checkpoints(root / "cache")  # removed when the step ended
    return explainer, m


def assert_rerun_resumes(reference, tmp_path: Path, cache: Path, step: int) -> None:
    """A rerun of the whole step resumes from ``step`` and ends as the uninterrupted reference, its
    checkpoints gone."""
    explainer = job_explainer(tmp_path / "model2")
    m = run_job(explainer)
    assert m["resumed_from_step"] == step
    assert_same_step(reference[0], explainer, reference[1], m)
    assert not checkpoints(cache)


@pytest.mark.slow
def test_kill_9_inside_the_step_then_rerun_finishes_from_the_checkpoint(reference, tmp_path, cache):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "EXPLAINREC_CACHE": str(cache)}

    def reached() -> int:
        return max((trainer_step(f) for f in checkpoints(cache)), default=0)

    run_and_kill([sys.executable, str(HERE / "resume_job.py"), str(tmp_path / "model"), str(tmp_path / "killed"),
                  "--sleep", "0.4"], lambda: reached() >= 2, tmp_path / "job.log", env=env, poll=0.02,
                 what="checkpoint-2")
    assert not (tmp_path / "killed").exists()
    step = reached()
    assert 2 <= step < STEPS
    assert_rerun_resumes(reference, tmp_path, cache, step)


def test_a_step_that_ends_inside_an_epoch_resumes_from_its_last_checkpoint(tmp_path, monkeypatch, cache):
    clean = job_explainer(tmp_path / "model")
    m_clean = run_job(clean, steps=2, spare=4)
    with monkeypatch.context() as m, pytest.raises(Interrupted):
        stop_at(m, None)
        run_job(job_explainer(tmp_path / "model1"), steps=2, spare=4)
    explainer = job_explainer(tmp_path / "model2")
    m = run_job(explainer, steps=2, spare=4)
    assert m["resumed_from_step"] == 2 and m["rl_steps"] == 2  # not one step more
    assert_same_step(clean, explainer, m_clean, m)
    assert not checkpoints(cache)


@pytest.mark.parametrize(("stop", "resumed"), [(3, 2), (None, STEPS)])
def test_interrupted_then_resumed_equals_uninterrupted(reference, tmp_path, monkeypatch, cache, stop, resumed):
    with monkeypatch.context() as m, pytest.raises(Interrupted):
        stop_at(m, stop)
        run_job(job_explainer(tmp_path / "model"))
    [folder] = checkpoints(cache)
    assert last_trainer_checkpoint(folder).name == f"checkpoint-{resumed}"
    files = {p.name for p in last_trainer_checkpoint(folder).iterdir()}
    assert {"adapter_model.safetensors", "optimizer.pt", "rng_state.pth", "explainer.pt"} <= files
    assert_rerun_resumes(reference, tmp_path, cache, resumed)


def test_a_changed_input_starts_afresh(tmp_path, monkeypatch, cache):
    with monkeypatch.context() as m, pytest.raises(Interrupted):
        stop_at(m, 3)
        run_job(job_explainer(tmp_path / "model"), steps=4)
    [kept] = checkpoints(cache)
    assert run_job(job_explainer(tmp_path / "m1"), seed=4, steps=4)["resumed_from_step"] == 0
    assert run_job(job_explainer(tmp_path / "m2"), key="another round", steps=4)["resumed_from_step"] == 0
    changed = job_explainer(tmp_path / "m3")
    changed.soft_prompt.set_users(torch.ones(2, 4))  # another E_c: another explainer state
    assert run_job(changed, steps=4)["resumed_from_step"] == 0
    assert checkpoints(cache) == [kept]  # still there for its own rerun
    assert run_job(job_explainer(tmp_path / "m4"), steps=4)["resumed_from_step"] == 2
    assert not checkpoints(cache)


def test_the_round_loop_resumes_its_grpo_step(tmp_path, monkeypatch, cache):
    from explainrec.recpie import loop
    from tests.recpie.test_loop import _run

    def round_states(result) -> list[dict[str, torch.Tensor]]:
        return [torch.load(result.state / f"round_{r}" / "explainer.pt", weights_only=True)
                for r in range(len(result.rounds))]

    def comparable(m: dict) -> dict:
        return {k: (untimed(v) if k == "rl_log" else v) for k, v in m.items()
                if k not in ("seconds", "llm", "generated", "cached", "resumed_from_step")}

    with monkeypatch.context() as m, pytest.raises(Interrupted):
        stop_at(m, 3)  # inside round 0's step of 4, after the checkpoint of its first generation batch (2 steps)
        _run(tmp_path / "killed")
    [folder] = checkpoints(cache, loop.GRPO_CHECKPOINT)
    assert last_trainer_checkpoint(folder).name == "checkpoint-2"
    resumed = _run(tmp_path / "killed")
    assert resumed.rounds[0]["resumed_from_step"] == 2 and resumed.rounds[0]["rl_steps"] == 4
    assert not checkpoints(cache, loop.GRPO_CHECKPOINT)

    clean = _run(tmp_path / "clean")
    assert clean.rounds[0]["resumed_from_step"] == 0
    assert [comparable(m) for m in resumed.rounds] == [comparable(m) for m in clean.rounds]
    for a, b in zip(round_states(resumed), round_states(clean)):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.explanations.equals(clean.explanations)
