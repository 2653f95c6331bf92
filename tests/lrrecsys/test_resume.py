"""LR-Recsys's fits (the DNN, the text autoencoder, the seed runs, RecPIE's recommender) interrupted, then
resumed from their checkpoints: the same weights and loss curves as an uninterrupted fit, bit for bit."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from explainrec.core.checkpoints import Checkpoint
from explainrec.core.recommender.autoencoder import autoencoder_checkpoint, embed, train_autoencoder
from explainrec.core.recommender.model import ModelConfig
from explainrec.core.recommender.train import Fit, TrainConfig, fit, fit_checkpoint, run_seeds

from tests.killing import Interrupted, interrupt_after, run_and_kill, saved_number
from .resume_job import job_checkpoint, run_job
from .test_autoencoder import SMALL, corpus
from .test_train import N_ITEMS, N_USERS, data

#: 3 batches of 40 a epoch (108 train rows, 12 validation rows)
CFG = TrainConfig(batch_size=40, epochs=12, patience=3)
TASK = "regression"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPLAINREC_CACHE", str(tmp_path))
    return tmp_path / "checkpoints"


def same_fit(a: Fit, b: Fit) -> None:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert (a.train_loss, a.val_loss, a.best_epoch, a.epochs_run) == (b.train_loss, b.val_loss, b.best_epoch,
                                                                      b.epochs_run)


def _fit(x, r, seed=5, config=CFG, **kw) -> Fit:
    return fit(ModelConfig(), config, x, r, TASK, N_USERS, N_ITEMS, seed, **kw)


def test_fit_interrupted_mid_epoch_resumes_to_the_same_weights(cache: Path):
    x, r = data(120, 0)
    fresh = _fit(x, r)
    ckpt = fit_checkpoint("fit", ModelConfig(), CFG, x, r, TASK, N_USERS, N_ITEMS, 5)
    with interrupt_after(3 * 4 + 1), pytest.raises(Interrupted):  # in epoch 5, after epoch 4's save
        _fit(x, r, checkpoint=ckpt)
    assert ckpt.load()["epoch"] == 4
    resumed = _fit(x, r, checkpoint=ckpt)
    assert (fresh.resumed_from, resumed.resumed_from) == (0, 4)
    same_fit(fresh, resumed)
    assert fresh.epochs_run > 4
    assert not ckpt.folder.exists() and not (cache / "fit").exists()  # removed once the fit is done


def test_an_early_stop_and_the_best_weights_survive_the_checkpoint(cache: Path):
    x, r = data(120, 0)
    config = TrainConfig(batch_size=40, epochs=200, patience=2, learning_rate=0.05)
    fresh = _fit(x, r, config=config)
    assert fresh.epochs_run < 200 and fresh.best_epoch < fresh.epochs_run  # it stopped early, on an older epoch
    ckpt = fit_checkpoint("fit", ModelConfig(), config, x, r, TASK, N_USERS, N_ITEMS, 5)
    with interrupt_after(3 * (fresh.epochs_run - 1) + 1), pytest.raises(Interrupted):
        _fit(x, r, config=config, checkpoint=ckpt)
    resumed = _fit(x, r, config=config, checkpoint=ckpt, keep_checkpoint=True)
    assert resumed.resumed_from == fresh.epochs_run - 1
    same_fit(fresh, resumed)
    # a kept, finished checkpoint: the rerun takes no step at all and returns the same fit
    with interrupt_after(0):
        again = _fit(x, r, config=config, checkpoint=ckpt)
    assert again.resumed_from == fresh.epochs_run
    same_fit(fresh, again)
    assert not ckpt.folder.exists()


def test_a_warm_start_resumes_too_and_is_part_of_the_key():
    x, r = data(120, 0)
    start = {k: v + 0.01 for k, v in _fit(x, r, seed=1).model.state_dict().items()}
    config = TrainConfig(batch_size=40, epochs=6, patience=0)
    fresh = _fit(x, r, config=config, initial_state=start)
    ckpt = fit_checkpoint("fit", ModelConfig(), config, x, r, TASK, N_USERS, N_ITEMS, 5, start)
    assert ckpt.key != fit_checkpoint("fit", ModelConfig(), config, x, r, TASK, N_USERS, N_ITEMS, 5).key
    with interrupt_after(7), pytest.raises(Interrupted):
        _fit(x, r, config=config, initial_state=start, checkpoint=ckpt)
    resumed = _fit(x, r, config=config, initial_state=start, checkpoint=ckpt)
    assert resumed.resumed_from == 2
    same_fit(fresh, resumed)


def test_a_changed_config_seed_or_data_does_not_resume(cache: Path):
    x, r = data(120, 0)
    ckpt = fit_checkpoint("fit", ModelConfig(), CFG, x, r, TASK, N_USERS, N_ITEMS, 5)
    with interrupt_after(7), pytest.raises(Interrupted):
        _fit(x, r, checkpoint=ckpt)
    assert ckpt.load()["epoch"] == 2
    x2, r2 = data(120, 1)
    others = {
        "seed": fit_checkpoint("fit", ModelConfig(), CFG, x, r, TASK, N_USERS, N_ITEMS, 6),
        "train": fit_checkpoint("fit", ModelConfig(), TrainConfig(batch_size=40, epochs=12, patience=4), x, r, TASK,
                                N_USERS, N_ITEMS, 5),
        "model": fit_checkpoint("fit", ModelConfig(dim=4), CFG, x, r, TASK, N_USERS, N_ITEMS, 5),
        "task": fit_checkpoint("fit", ModelConfig(), CFG, x, r, "classification", N_USERS, N_ITEMS, 5),
        "inputs": fit_checkpoint("fit", ModelConfig(), CFG, x2, r, TASK, N_USERS, N_ITEMS, 5),
        "ratings": fit_checkpoint("fit", ModelConfig(), CFG, x, r2, TASK, N_USERS, N_ITEMS, 5),
    }
    assert len({c.key for c in others.values()} | {ckpt.key}) == len(others) + 1
    other_seed = _fit(x, r, seed=6, checkpoint=others["seed"])
    assert other_seed.resumed_from == 0
    same_fit(other_seed, _fit(x, r, seed=6))
    other_cfg = TrainConfig(batch_size=40, epochs=12, patience=4)
    assert _fit(x, r, config=other_cfg, checkpoint=others["train"]).resumed_from == 0
    assert ckpt.load()["epoch"] == 2  # the first one is left alone


def test_a_checkpoint_the_code_cannot_use_is_dropped_with_a_warning(cache: Path):
    x, r = data(120, 0)
    ckpt = fit_checkpoint("fit", ModelConfig(), CFG, x, r, TASK, N_USERS, N_ITEMS, 5)
    other = _fit(x, r, seed=6, config=TrainConfig(batch_size=40, epochs=2, patience=0), keep_checkpoint=True,
                 checkpoint=Checkpoint("other", "k"))
    state = Checkpoint("other", "k").load()
    state["model"] = {k: v[:1] for k, v in state["model"].items()}  # weights of another shape
    ckpt.save(state)
    with pytest.warns(UserWarning, match="cannot use"):
        got = _fit(x, r, checkpoint=ckpt)
    assert got.resumed_from == 0 and other.resumed_from == 0
    same_fit(got, _fit(x, r))
    ae = autoencoder_checkpoint("ae", corpus(), SMALL, 0)
    ae.save({"epoch": 3})
    with pytest.warns(UserWarning, match="cannot use"):
        fit_ae = train_autoencoder(corpus(), dataclasses.replace(SMALL, epochs=2), 0, progress=False, checkpoint=ae)
    assert fit_ae.resumed_from == 0 and len(fit_ae.losses) == 2
    assert not ckpt.folder.exists() and not ae.folder.exists()


def test_run_seeds_redoes_only_the_interrupted_fit_and_leaves_no_checkpoint(cache: Path):
    x, r = data(120, 0)
    test_x, test_r = data(40, 1)
    config = TrainConfig(batch_size=40, epochs=4, patience=0)
    args = (ModelConfig(), config, x, r, test_x, test_r, N_USERS, N_ITEMS, [0, 1])
    fresh = run_seeds(*args, progress=False, checkpoint_name=None)
    assert not cache.exists()
    # each fit takes 4 x 3 steps; seed 1's regression fit is interrupted in its second epoch
    with interrupt_after(2 * 12 + 4), pytest.raises(Interrupted):
        run_seeds(*args, progress=False)
    assert len(list((cache / "lrrecsys_train").iterdir())) == 3  # two finished fits and the interrupted one
    resumed = run_seeds(*args, progress=False)
    assert resumed.resumed_from == {"regression": [4, 1], "classification": [4, 0]}
    assert fresh.resumed_from == {"regression": [0, 0], "classification": [0, 0]}
    assert resumed.metrics == fresh.metrics
    for task in fresh.predictions:
        assert all(np.array_equal(a, b) for a, b in zip(fresh.predictions[task], resumed.predictions[task]))
    assert not (cache / "lrrecsys_train").exists()


def test_autoencoder_interrupted_resumes_to_the_same_weights(cache: Path):
    texts = corpus()
    config = dataclasses.replace(SMALL, epochs=12)  # 4 batches of 8 a epoch
    fresh = train_autoencoder(texts, config, seed=0, progress=False)
    ckpt = autoencoder_checkpoint("ae", texts, config, 0)
    assert ckpt.key != autoencoder_checkpoint("ae", texts[::-1], config, 0).key
    assert ckpt.key != autoencoder_checkpoint("ae", texts, config, 1).key
    assert ckpt.key != autoencoder_checkpoint("ae", texts, SMALL, 0).key
    with interrupt_after(4 * 5 + 2), pytest.raises(Interrupted):
        train_autoencoder(texts, config, seed=0, progress=False, checkpoint=ckpt)
    resumed = train_autoencoder(texts, config, seed=0, progress=False, checkpoint=ckpt)
    assert (fresh.resumed_from, resumed.resumed_from) == (0, 5)
    sa, sb = fresh.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert resumed.losses == fresh.losses and len(fresh.losses) == 12
    assert resumed.token_accuracy == fresh.token_accuracy
    assert np.array_equal(embed(fresh, None, texts), embed(resumed, None, texts))
    assert not ckpt.folder.exists() and not (cache / "ae").exists()
    # a different seed finds no checkpoint of its own
    with interrupt_after(6), pytest.raises(Interrupted):
        train_autoencoder(texts, config, seed=0, progress=False, checkpoint=ckpt)
    other = train_autoencoder(texts, config, seed=1, progress=False,
                              checkpoint=autoencoder_checkpoint("ae", texts, config, 1))
    assert other.resumed_from == 0 and ckpt.load()["epoch"] == 1


def test_recpie_recommender_fits_resume_and_clean_up(cache: Path):
    from explainrec.recpie.recommender import fit_recommender

    x, r = data(120, 0)
    config = TrainConfig(batch_size=40, epochs=5, patience=0)
    fresh = fit_recommender(ModelConfig(), config, x, r, N_USERS, N_ITEMS, 3)
    assert not cache.exists() or not any(cache.iterdir())
    with interrupt_after(8), pytest.raises(Interrupted):
        fit_recommender(ModelConfig(), config, x, r, N_USERS, N_ITEMS, 3)
    [folder] = (cache / "recpie_recommender").iterdir()
    assert torch.load(folder / "state.pt", weights_only=False)["epoch"] == 2
    resumed = fit_recommender(ModelConfig(), config, x, r, N_USERS, N_ITEMS, 3)
    assert all(torch.equal(v, resumed.model.state_dict()[k]) for k, v in fresh.model.state_dict().items())
    assert not (cache / "recpie_recommender").exists()


@pytest.mark.slow
def test_kill_9_mid_fit_then_resume(tmp_path: Path):
    root = tmp_path / "ck"
    ckpt = job_checkpoint(root)
    run_and_kill([sys.executable, "-m", "tests.lrrecsys.resume_job", str(root), "--sleep", "0.05"],
                 lambda: saved_number(ckpt.path, "epoch") >= 5, tmp_path / "job.log", what="saved epoch 5")
    killed_at = saved_number(ckpt.path, "epoch")
    assert 5 <= killed_at < 60
    resumed = run_job(Checkpoint(ckpt.name, ckpt.key, root))
    assert resumed.resumed_from == killed_at
    same_fit(run_job(None), resumed)
    assert resumed.epochs_run == 60
    assert not ckpt.folder.exists()


def test_a_run_with_per_seed_autoencoders_resumes_every_fit_and_leaves_no_checkpoint(cache: Path):
    from explainrec.lrrecsys.experiment import RunConfig, run_experiment

    from .test_experiment import synthetic, texts_for

    pairs, _ = synthetic()
    texts = texts_for(pairs)  # 40 train pairs: 80 texts, 3 autoencoder batches of 32 a epoch, 5 epochs
    config = TrainConfig(batch_size=16, epochs=3, patience=0)  # 36 rows after validation: 3 batches a epoch

    def go():
        return run_experiment(pairs, texts, RunConfig(), ModelConfig(), config, seeds=2, seed=5, progress=False)

    def without_resume(metrics):
        ae = metrics["autoencoder"]
        return {**metrics, "autoencoder": {**ae, "per_seed": [{k: v for k, v in m.items() if k != "resumed_from_epoch"}
                                                              for m in ae["per_seed"]]}}

    fresh = go()
    assert not cache.exists() or not any(cache.iterdir())
    # in seed 6's autoencoder (its third epoch), then in seed 5's classification fit (its second epoch)
    for steps, resumed_from in ((15 + 7, [5, 2]), (2 * 15 + 9 + 4, [5, 5])):
        with interrupt_after(steps), pytest.raises(Interrupted):
            go()
        assert len(list((cache / "lrrecsys_autoencoder").iterdir())) == 2
        again = go()
        assert [m["resumed_from_epoch"] for m in again.metrics["autoencoder"]["per_seed"]] == resumed_from
        assert without_resume(again.metrics) == without_resume(fresh.metrics)
        pd.testing.assert_frame_equal(again.predictions, fresh.predictions)
        assert not (cache / "lrrecsys_autoencoder").exists() and not (cache / "lrrecsys_train").exists()
