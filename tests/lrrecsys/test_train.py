"""Fitting, prediction, metrics and the seed runs of the LR-Recsys recommendation model (§3.5.3, A.3, C.1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from explainrec.core.errors import ParamError
from explainrec.core.recommender import train as T
from explainrec.core.recommender.model import Inputs, ModelConfig
from explainrec.core.recommender.train import (TrainConfig, classification_metrics, fit, paired_seed_test, predict,
                                       regression_metrics, run_seeds, targets)

N_USERS, N_ITEMS = 20, 30



FAST = TrainConfig(epochs=4, patience=2)


def data(n: int, seed: int, d_in: int = 8) -> tuple[Inputs, np.ndarray]:
    """Random pairs whose rating is 5 when the positive explanation points along +1 and 1 when along -1."""
    g = torch.Generator().manual_seed(seed)
    sign = torch.randint(0, 2, (n,), generator=g).float() * 2 - 1
    explanations = torch.randn(n, 2, d_in, generator=g) * 0.5
    explanations[:, 0] += sign[:, None]
    history = torch.randint(1, N_ITEMS + 1, (n, 5), generator=g)
    lengths = torch.randint(0, 6, (n,), generator=g)
    history[torch.arange(5)[None] < (5 - lengths)[:, None]] = 0
    x = Inputs(torch.randint(0, N_USERS, (n,), generator=g), torch.randint(1, N_ITEMS + 1, (n,), generator=g),
               history, explanations)
    return x, np.where(sign.numpy() > 0, 5.0, 1.0)


def test_configs_and_targets():
    assert TrainConfig() == TrainConfig(0.01, 128, 100, 10, 0.1, "adam")
    for bad in ({"learning_rate": 0}, {"batch_size": 0}, {"patience": -1}, {"val_fraction": 1.0},
                {"optimizer": "lbfgs"}, {"device": "gpu"}):
        with pytest.raises(ParamError, match=next(iter(bad))):
            TrainConfig(**bad)
    r = np.array([1, 2, 3, 4, 5])
    np.testing.assert_array_equal(targets(r, "regression"), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(targets(r, "classification"), [0, 0, 0, 1, 1])
    assert targets(r, "regression").dtype == np.float32
    with pytest.raises(ParamError, match="ratings"):
        targets(np.array([0.0, 3]), "regression")
    with pytest.raises(ParamError, match="task"):
        targets(r, "ranking")


def test_same_seed_same_numbers_other_seed_other_numbers():
    x, r = data(120, 0)
    test, rt = data(60, 1)
    runs = []
    for seed in (3, 3, 4):
        f = fit(ModelConfig(), FAST, x, r, "classification", N_USERS, N_ITEMS, seed)
        y, a = predict(f.model, test)
        runs.append((y, a, classification_metrics(y, rt), f.train_loss, f.val_loss))
    (y1, a1, m1, t1, v1), (y2, a2, m2, t2, v2), (y3, *_rest) = runs
    assert np.array_equal(y1, y2) and np.array_equal(a1, a2) and m1 == m2 and t1 == t2 and v1 == v2
    assert not np.array_equal(y1, y3)
    assert y1.shape == (60,) and a1.shape == (60, 5, 5)


def test_early_stopping_keeps_the_best_epoch():
    x, r = data(200, 0)
    f = fit(ModelConfig(), TrainConfig(epochs=20, patience=2, learning_rate=0.05), x, r, "regression",
            N_USERS, N_ITEMS, 0)
    assert len(f.train_loss) == len(f.val_loss) == f.epochs_run and 1 <= f.best_epoch <= f.epochs_run
    assert f.val_loss[f.best_epoch - 1] == min(f.val_loss)
    if f.epochs_run < 20:
        assert f.epochs_run - f.best_epoch == 2
    _, val_rows = T.validation_split(len(x), 0.1, 0)
    assert len(val_rows) == 20
    y = torch.from_numpy(targets(r, "regression"))[val_rows]
    restored = T._mean_loss(f.model, x.subset(val_rows), y, "regression", 1024)
    assert restored == pytest.approx(f.val_loss[f.best_epoch - 1], rel=1e-6)
    g = fit(ModelConfig(), TrainConfig(epochs=3, val_fraction=0.0), x, r, "regression", N_USERS, N_ITEMS, 0)
    assert (g.epochs_run, g.best_epoch, g.val_loss) == (3, 3, [])


def test_free_vectors_learn_nothing_from_the_explanations():
    x, r = data(120, 0)
    other = Inputs(x.user, x.item, x.history, torch.randn_like(x.explanations))
    for explanations, same in (("free", True), ("given", False)):
        config = ModelConfig(explanations=explanations)
        ya, _ = predict(fit(config, FAST, x, r, "classification", N_USERS, N_ITEMS, 0).model, x)
        yb, _ = predict(fit(config, FAST, other, r, "classification", N_USERS, N_ITEMS, 0).model, other)
        assert np.array_equal(ya, yb) == same, explanations


def test_explanation_information_flows():
    x, r = data(200, 0)
    test, rt = data(100, 1)
    config = TrainConfig(epochs=20, val_fraction=0.0)  # the given model reaches AUC 1.0 by then
    auc = {}
    for explanations in ("given", "free"):
        f = fit(ModelConfig(explanations=explanations), config, x, r, "classification", N_USERS, N_ITEMS, 0)
        auc[explanations] = classification_metrics(predict(f.model, test)[0], rt)["auc"]
    assert auc["given"] > 0.9 and auc["free"] < 0.7, auc


def test_metrics():
    ratings = np.array([1.0, 2, 4, 5, 3])
    y01 = np.array([0.1, 0.3, 0.7, 0.9, 0.5])
    m = regression_metrics(y01, ratings)
    truth = (ratings - 1) / 4
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y01 - truth) ** 2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(y01 - truth)))
    assert m["rmse_5"] == pytest.approx(4 * m["rmse"]) and m["mae_5"] == pytest.approx(4 * m["mae"])
    assert classification_metrics(np.array([0.2, 0.1, 0.8, 0.9, 0.3]), ratings) == {"auc": 1.0}
    one_class = classification_metrics(np.array([0.2, 0.9]), np.array([4.0, 5.0]))
    assert one_class["auc"] is None and "undefined" in one_class["auc_reason"]


def test_run_seeds_and_summary():
    x, r = data(120, 0)
    test, rt = data(40, 1)
    runs = run_seeds(ModelConfig(), FAST, x, r, test, rt, N_USERS, N_ITEMS, seeds=[0, 1], progress=False)
    assert runs.seeds == [0, 1] and runs.tokens == ("pos", "neg", "user", "item", "seq")
    assert runs.parameter_count > 0 and len(runs.metrics) == 2
    assert [len(runs.predictions[t]) for t in T.TASKS] == [2, 2] and runs.predictions["regression"][0].shape == (40,)
    assert len(runs.attention) == 2 and runs.attention[0].shape == (40, 5, 5)
    assert all(1 <= e <= FAST.epochs for t in T.TASKS for e in runs.best_epochs[t])
    s = runs.summary()
    assert set(s) == {"rmse", "mae", "rmse_5", "mae_5", "auc"}
    auc = [m["auc"] for m in runs.metrics]
    assert s["auc"] == {"mean": pytest.approx(np.mean(auc)), "std": pytest.approx(np.std(auc, ddof=1)),
                        "per_seed": auc}
    ncf = run_seeds(ModelConfig(arch="ncf"), FAST, x, r, test, rt, N_USERS, N_ITEMS, seeds=[0], progress=False)
    assert ncf.attention == [None] and ncf.tokens == ("pos", "neg", "user", "item")
    assert all(v["std"] == 0.0 for v in ncf.summary().values())


def test_paired_seed_test():
    a, b = [0.20, 0.21, 0.19, 0.22], [0.18, 0.20, 0.18, 0.19]
    out = paired_seed_test(a, b)
    ref = stats.ttest_rel(a, b)
    assert out["n"] == 4 and out["mean_diff"] == pytest.approx(np.mean(np.subtract(a, b)))
    assert out["std_diff"] == pytest.approx(np.std(np.subtract(a, b), ddof=1))
    assert out["p_value"] == pytest.approx(ref.pvalue) and out["t"] == pytest.approx(ref.statistic)
    one = paired_seed_test([0.2], [0.1])
    assert one["p_value"] is None and one["std_diff"] == 0.0 and one["mean_diff"] == pytest.approx(0.1)
    with pytest.raises(ParamError):
        paired_seed_test([0.1, 0.2], [0.1])


def test_run_seeds_takes_one_input_set_per_seed():
    x, r = data(120, 0)
    test, rt = data(40, 1)
    shuffled = Inputs(x.user, x.item, x.history, torch.randn_like(x.explanations))
    both = run_seeds(ModelConfig(), FAST, [x, shuffled], r, [test, test], rt, N_USERS, N_ITEMS, seeds=[0, 1],
                     progress=False, checkpoint_name=None)
    one = run_seeds(ModelConfig(), FAST, shuffled, r, test, rt, N_USERS, N_ITEMS, seeds=[1], progress=False,
                    checkpoint_name=None)
    assert np.array_equal(both.predictions["regression"][1], one.predictions["regression"][0])
    with pytest.raises(ParamError, match="train_inputs"):
        run_seeds(ModelConfig(), FAST, [x], r, test, rt, N_USERS, N_ITEMS, seeds=[0, 1], progress=False)


def test_fit_and_run_seeds_log_one_row_per_epoch_per_seed(tmp_path):
    from explainrec.core.curves import curves
    from tests.core.test_curves import tsv

    x, r = data(60, 0)
    with curves(tmp_path / "one") as live:
        f = fit(ModelConfig(), FAST, x, r, "regression", N_USERS, N_ITEMS, 0, live=live)
    train_curve, val_curve = tsv(tmp_path / "one", "train/loss"), tsv(tmp_path / "one", "val/loss")
    assert train_curve["step"].tolist() == list(range(1, f.epochs_run + 1)) == val_curve["step"].tolist()
    assert train_curve["loss"].tolist() == pytest.approx(f.train_loss)
    assert val_curve["loss"].tolist() == pytest.approx(f.val_loss)
    test, rt = data(20, 1)
    with curves(tmp_path / "seeds") as live:
        runs = run_seeds(ModelConfig(), FAST, x, r, test, rt, N_USERS, N_ITEMS, seeds=[3, 4], progress=False,
                         checkpoint_name=None, live=live)
    for k, seed in enumerate([3, 4]):  # each seed and task on its own curve
        for task in T.TASKS:
            steps = tsv(tmp_path / "seeds", f"seed{seed}/{task}/train/loss")["step"].tolist()
            assert steps == list(range(1, runs.epochs_run[task][k] + 1))
