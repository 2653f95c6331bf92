"""One LR-Recsys run end to end on tiny synthetic pairs: inputs, seeds, metrics, attention, the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainrec.lrrecsys.analysis import attention_histogram, keyword_report, top_keywords
from explainrec.lrrecsys.experiment import RunConfig, encode_pairs, run_experiment, train_share
from explainrec.lrrecsys.model import ModelConfig
from explainrec.lrrecsys.report import ReportConfig, efficiency_curve, paired_tests, table_markdown, paired_markdown
from explainrec.lrrecsys.train import TrainConfig

FAST = TrainConfig(epochs=8, patience=3, batch_size=16)


def synthetic(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        rating = float(rng.integers(1, 6))
        rows.append({"pair_id": f"p{k}", "split": "train" if k < 40 else "test", "user_id": f"u{k % 7}",
                     "item_id": f"i{k % 11}", "rating": rating, "timestamp": k,
                     "history": [f"i{(k + j) % 11}" for j in range(1, 1 + k % 4)]})
    pairs = pd.DataFrame(rows)
    emb = rng.normal(size=(n, 2, 8)).astype(np.float32)
    emb[:, 0, 0] += (pairs["rating"].to_numpy() >= 4) * 2.0  # the positive explanation carries the label
    return pairs, emb


def test_encode_pairs_indexes_and_pads():
    pairs, emb = synthetic()
    enc = encode_pairs(pairs, emb, history=5)
    assert len(enc.train) == 40 and len(enc.test) == 20 and enc.n_users == 7 and enc.n_items == 11
    assert enc.train.history.shape == (40, 5) and int(enc.train.history[0].count_nonzero()) == 0
    assert (enc.train.history[3, :2] == 0).all() and (enc.train.history[3, 2:] > 0).all()  # left-padded
    assert train_share(40, 0.25, 1).tolist() == train_share(40, 0.25, 1).tolist() and len(train_share(40, 0.25, 1)) == 10


def test_a_fixed_seed_reproduces_the_metrics_exactly():
    pairs, emb = synthetic()
    run = RunConfig(label="x")
    a = run_experiment(pairs, emb, run, ModelConfig(), FAST, seeds=2, seed=5, progress=False)
    b = run_experiment(pairs, emb, run, ModelConfig(), FAST, seeds=2, seed=5, progress=False)
    assert a.metrics == b.metrics
    assert a.metrics["seeds"] == [5, 6] and len(a.metrics["rmse"]["per_seed"]) == 2
    assert a.metrics["rmse_5"]["mean"] == pytest.approx(4 * a.metrics["rmse"]["mean"])
    att = a.metrics["attention"]
    assert att["all"]["rows"] == 40 and 0 < att["explanation_share"] < 1
    assert set(a.predictions["task"]) == {"regression", "classification"} and len(a.predictions) == 2 * 2 * 20
    c = run_experiment(pairs, emb, run, ModelConfig(), FAST, seeds=2, seed=9, progress=False)
    assert c.metrics["rmse"]["per_seed"] != a.metrics["rmse"]["per_seed"]


def test_free_vectors_see_no_explanation():
    pairs, emb = synthetic()
    other = np.random.default_rng(3).normal(size=emb.shape).astype(np.float32)
    free = ModelConfig(explanations="free")
    a = run_experiment(pairs, emb, RunConfig(explanations="free"), free, FAST, seeds=1, seed=1, progress=False)
    b = run_experiment(pairs, other, RunConfig(explanations="free"), free, FAST, seeds=1, seed=1, progress=False)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    g1 = run_experiment(pairs, emb, RunConfig(), ModelConfig(), FAST, seeds=1, seed=1, progress=False)
    g2 = run_experiment(pairs, other, RunConfig(), ModelConfig(), FAST, seeds=1, seed=1, progress=False)
    assert not np.allclose(g1.predictions["prediction"], g2.predictions["prediction"])


def test_report_tables_tests_and_plots():
    pairs, emb = synthetic()
    runs = {}
    for name, run, model in (("lr_recsys", RunConfig(label="LR-Recsys"), ModelConfig()),
                             ("ablation_1", RunConfig(label="free", explanations="free"),
                              ModelConfig(explanations="free")),
                             ("black_box", RunConfig(label="bb", explanations="none"), ModelConfig(explanations="none")),
                             ("train_50", RunConfig(label="half", train_fraction=0.5), ModelConfig())):
        runs[name] = run_experiment(pairs, emb, run, model, FAST, seeds=2, seed=1, progress=False).metrics
    tests = paired_tests(runs, ReportConfig())
    assert set(tests) == {"ablation_1", "black_box"} and tests["black_box"]["auc"]["n"] == 2
    md = table_markdown(runs, "machine X") + paired_markdown(tests, runs, "lr_recsys")
    assert "| LR-Recsys | 40 |" in md and "0.1673 / 0.1180 / 0.7500 (Table 2)" in md and "machine X" in md
    curve = efficiency_curve(runs)
    assert curve["train_percent"].tolist() == [50.0, 100.0] and curve["train_pairs"].tolist() == [20, 40]
    att = run_experiment(pairs, emb, RunConfig(), ModelConfig(), FAST, seeds=1, seed=1, progress=False).attention
    hist = attention_histogram(att, bins=10)
    assert len(hist) == 10 and hist["high_pos"].sum() == pytest.approx(1.0, abs=1e-3)


def test_keywords():
    texts = ["The consumer watched this movie because the movie is a thrilling heist",
             "The consumer watched this movie because heist films are thrilling"]
    assert top_keywords(texts, 2, ["consumer", "watched", "movie"]) == [("heist", 2), ("thrilling", 2)]
    pairs = pd.DataFrame({"pair_id": ["a", "b"], "item_id": ["1", "1"]})
    expl = pd.DataFrame({"pair_id": ["a", "b"], "positive": texts, "negative": ["too long", "too slow"]})
    md = keyword_report(pairs, expl, {"1": "Heat"}, 3, 3, ["consumer", "watched", "movie"])
    assert "| Heat | 2 | heist (2), thrilling (2), films (1) | long (1), slow (1) |" in md
