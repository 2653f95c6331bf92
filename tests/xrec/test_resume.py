"""XRec's adapter training interrupted (an exception, a real ``kill -9``), then resumed from its checkpoint:
the same adapters, per-step losses and test NLLs as an uninterrupted run, bit for bit."""

from __future__ import annotations

import dataclasses
import sys

import pandas as pd
import pytest
import torch

from explainrec.core.checkpoints import Checkpoint
from explainrec.xrec.moe import Adapters
from tests.killing import Interrupted, interrupt_after, run_and_kill, saved_number

from .resume_job import CONFIG, EXPLAINER, MOE, job_checkpoint, job_data, job_lm, run_job

TOTAL = 16  # CONFIG's steps: 4 epochs of 4 batches


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    return job_lm(tiny_model_dir)


@pytest.fixture(scope="module")
def data(lm):
    return job_data(lm)


@pytest.fixture(scope="module")
def fresh(lm, data):
    """The uninterrupted run, without a checkpoint."""
    return run_job(lm, data, None)


def same_run(a: tuple[Adapters, dict], b: tuple[Adapters, dict]) -> None:
    sa, sb = a[0].state_dict(), b[0].state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    strip = ("resumed_from",)
    assert {k: v for k, v in a[1].items() if k not in strip} == {k: v for k, v in b[1].items() if k not in strip}


def test_interrupted_training_resumes_to_the_same_adapters(lm, data, fresh, tmp_path):
    ckpt = job_checkpoint(lm, data, tmp_path)
    with interrupt_after(6), pytest.raises(Interrupted):  # the 7th step, in epoch 2, never happens
        run_job(lm, data, ckpt)
    assert ckpt.load()["step"] == 6
    resumed = run_job(lm, data, ckpt)
    assert (fresh[1]["resumed_from"], resumed[1]["resumed_from"]) == (0, 6)
    assert len(resumed[1]["steps"]) == TOTAL and [s["step"] for s in resumed[1]["steps"]] == list(range(1, 17))
    same_run(fresh, resumed)
    assert not ckpt.folder.exists() and not ckpt.folder.parent.exists()  # removed once training is done


def test_a_checkpoint_at_an_epoch_boundary_resumes_too(lm, data, fresh, tmp_path):
    ckpt = job_checkpoint(lm, data, tmp_path)
    with interrupt_after(8), pytest.raises(Interrupted):
        run_job(lm, data, ckpt, save_every=4)
    assert ckpt.load()["step"] == 8
    resumed = run_job(lm, data, ckpt, save_every=4)
    assert resumed[1]["resumed_from"] == 8
    same_run(fresh, resumed)


def test_a_kept_finished_checkpoint_returns_without_training(lm, data, fresh, tmp_path):
    ckpt = job_checkpoint(lm, data, tmp_path)
    first = run_job(lm, data, ckpt, keep_checkpoint=True)
    assert ckpt.load()["step"] == TOTAL and ckpt.load()["test_nll_after"] == fresh[1]["test_nll_after"]
    with interrupt_after(0):  # any step would raise
        again = run_job(lm, data, ckpt)
    assert again[1]["resumed_from"] == TOTAL
    same_run(fresh, first)
    same_run(fresh, again)
    assert not ckpt.folder.exists()


def test_a_changed_config_seed_or_data_does_not_resume(lm, data, tmp_path):
    ckpt = job_checkpoint(lm, data, tmp_path)
    with interrupt_after(3), pytest.raises(Interrupted):
        run_job(lm, data, ckpt)
    other_cfg = dataclasses.replace(CONFIG, learning_rate=0.02)
    keys = {
        "seed": job_checkpoint(lm, data, tmp_path, seed=4).key,
        "train": job_checkpoint(lm, data, tmp_path, config=other_cfg).key,
        "data": job_checkpoint(lm, job_data(lm, offset=1), tmp_path).key,
        "fewer": job_checkpoint(lm, job_data(lm, n=6), tmp_path).key,
    }
    assert len(set(keys.values()) | {ckpt.key}) == 5
    from explainrec.xrec.experiment import moe_checkpoint
    from explainrec.xrec.moe import MoEConfig

    base = moe_checkpoint("x", lm, Adapters(8, lm.hidden, MOE), data, EXPLAINER, MOE, CONFIG, 3).key
    assert base != moe_checkpoint("x", lm, Adapters(8, lm.hidden, MOE), data,
                                  dataclasses.replace(EXPLAINER, inject_all_layers=False), MOE, CONFIG, 3).key
    assert base != moe_checkpoint("x", lm, Adapters(8, lm.hidden, MOE), data, EXPLAINER,
                                  MoEConfig(dropout=0.1), CONFIG, 3).key
    other_seed = run_job(lm, data, job_checkpoint(lm, data, tmp_path, seed=4), seed=4)
    assert other_seed[1]["resumed_from"] == 0
    same_run(other_seed, run_job(lm, data, None, seed=4))
    assert run_job(lm, data, job_checkpoint(lm, data, tmp_path, config=other_cfg),
                   config=other_cfg)[1]["resumed_from"] == 0
    assert ckpt.load()["step"] == 3  # the interrupted run's checkpoint is left alone


def test_a_checkpoint_the_code_cannot_use_is_dropped_with_a_warning(lm, data, fresh, tmp_path):
    ckpt = job_checkpoint(lm, data, tmp_path)
    with interrupt_after(2), pytest.raises(Interrupted):
        run_job(lm, data, ckpt)
    state = ckpt.load()
    state["adapters"] = {k: v[..., :1] for k, v in state["adapters"].items()}  # adapters of another shape
    ckpt.save(state)
    with pytest.warns(UserWarning, match="cannot use"):
        got = run_job(lm, data, ckpt)
    assert got[1]["resumed_from"] == 0
    same_run(fresh, got)
    assert not ckpt.folder.exists()


def _pairs_and_graph():
    import numpy as np

    from explainrec.xrec.experiment import XRecPairs
    from explainrec.xrec.gnn_tables import Graph

    rng = np.random.default_rng(0)
    users, items = [f"u{k}" for k in range(6)], [f"i{k}" for k in range(6)]
    train = pd.DataFrame({"user_id": users, "item_id": items[::-1], "title": [f"film {k}" for k in range(6)],
                          "user_profile": "", "item_profile": "",
                          "target": [f"the user likes films with a {a}" for a in ("dog", "cat", "fox") * 2]})
    test = train.rename(columns={"target": "reference"}).iloc[:2].reset_index(drop=True)
    graph = Graph({u: rng.normal(size=8).astype(np.float32) for u in users},
                  {i: rng.normal(size=8).astype(np.float32) for i in items}, set(), {u: 1 for u in users}, "g")
    return XRecPairs(train, test, {"train_pairs": 6}), graph


def test_run_moe_resumes_writes_the_same_files_and_removes_its_checkpoint(tiny_model_dir, tmp_path, monkeypatch):
    from explainrec.core.curves import curves
    from explainrec.llm.spec import LLMSpec
    from explainrec.xrec.experiment import ADAPTERS_FILE, SETTINGS_FILE, run_moe
    from tests.core.test_curves import tsv

    monkeypatch.setenv("EXPLAINREC_CACHE", str(tmp_path / "cache"))
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), device="cpu", dtype="float32",
                   threads=1, prefix_cache_mb=0)
    pairs, graph = _pairs_and_graph()
    train = dataclasses.replace(CONFIG, epochs=2)  # 3 steps a epoch

    def run(out: str):
        with curves(tmp_path / f"{out}.curves") as live:
            return run_moe(pairs, graph, spec, EXPLAINER, MOE, train, "movielens", 0, tmp_path / out, progress=False,
                           variant="full", live=live)

    with interrupt_after(4), pytest.raises(Interrupted):
        run("a")
    [saved] = (tmp_path / "cache" / "checkpoints" / "xrec_moe" / "full").iterdir()
    assert torch.load(saved / "state.pt", weights_only=False)["step"] == 4
    resumed = run("a")
    assert resumed["resumed_from"] == 4
    assert not (tmp_path / "cache" / "checkpoints" / "xrec_moe" / "full").exists()
    assert not [f for f in (tmp_path / "cache").rglob("*") if f.is_file()]
    fresh = run("b")
    assert fresh["resumed_from"] == 0
    assert (tmp_path / "a" / SETTINGS_FILE).read_bytes() == (tmp_path / "b" / SETTINGS_FILE).read_bytes()
    for name in ("train/loss", "test/nll"):  # the resumed run's curves are the fresh run's: saved steps replayed
        ca, cb = (tsv(tmp_path / f"{d}.curves", name) for d in "ab")
        assert ca.equals(cb), name
    loss = tsv(tmp_path / "b.curves", "train/loss")
    assert loss["step"].tolist() == list(range(1, fresh["steps"] + 1))
    assert loss["loss"].iloc[0] == fresh["train_loss_first"] and loss["loss"].iloc[-1] == fresh["train_loss_last"]
    nll = tsv(tmp_path / "b.curves", "test/nll")
    assert nll["step"].tolist() == [0, fresh["steps"]]
    assert nll["nll"].tolist() == pytest.approx([fresh["test_nll_before"], fresh["test_nll_after"]], abs=1e-4)
    a, b = (torch.load(tmp_path / d / ADAPTERS_FILE, weights_only=True) for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    drop = ("resumed_from", "seconds")
    assert {k: v for k, v in resumed.items() if k not in drop} == {k: v for k, v in fresh.items() if k not in drop}


@pytest.mark.slow
def test_kill_9_mid_training_then_resume(tiny_model_dir, lm, data, fresh, tmp_path):
    root = tmp_path / "ck"
    ckpt = job_checkpoint(lm, data, root)
    run_and_kill([sys.executable, "-m", "tests.xrec.resume_job", str(tiny_model_dir), str(root), "--sleep", "0.2"],
                 lambda: saved_number(ckpt.path, "step") >= 3, tmp_path / "job.log", timeout=180,
                 what="saved step 3")
    killed_at = saved_number(ckpt.path, "step")
    assert 3 <= killed_at < TOTAL
    resumed = run_job(lm, data, Checkpoint(ckpt.name, ckpt.key, root))
    assert resumed[1]["resumed_from"] == killed_at
    same_run(fresh, resumed)
    assert not ckpt.folder.exists()
