"""One LR-Recsys run end to end on tiny synthetic pairs: inputs, seeds, metrics, attention, the report."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import root_mean_squared_error

from explainrec.lrrecsys.analysis import (attention_histogram, attention_summary, attention_table, keyword_report,
                                          top_keywords)
from explainrec.core.recommender.autoencoder import AutoencoderConfig, train_autoencoder
from explainrec.core.recommender.encoded import encode_pairs
from explainrec.core.recommender.model import ModelConfig
from explainrec.core.recommender.train import TrainConfig
from explainrec.lrrecsys.embeddings import AutoencoderTexts, autoencoder_embeddings
from explainrec.lrrecsys.experiment import RunConfig, run_experiment, train_share
from explainrec.lrrecsys.report import LRRecsysReportConfig, efficiency_curve, paired_tests, runs_table_markdown, paired_markdown

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
    by_hand = (a.attention["alpha_pos"] + a.attention["alpha_neg"]).mean()  # 20 test pairs x 2 seeds
    assert att["all"]["rows"] == 40 and att["explanation_share"] == pytest.approx(by_hand, abs=5e-5)
    assert set(a.predictions["task"]) == {"regression", "classification"} and len(a.predictions) == 2 * 2 * 20
    c = run_experiment(pairs, emb, run, ModelConfig(), FAST, seeds=2, seed=9, progress=False)
    assert c.metrics["rmse"]["per_seed"] != a.metrics["rmse"]["per_seed"]


def texts_for(pairs: pd.DataFrame) -> AutoencoderTexts:
    """Explanations naming the rating band and, with a word of their own (w<k>, n<k>), their pair."""
    pos = [f"The consumer watched this movie because it is {'great' if r >= 4 else 'poor'} w{k}"
           for k, r in enumerate(pairs["rating"])]
    neg = [f"The consumer did not watch this movie because n{k}" for k in range(len(pairs))]
    return AutoencoderTexts(pos, neg, AutoencoderConfig(epochs=5, batch_size=32))


def own_words(words) -> set[str]:
    return {w for w in words if w[0] in "wn" and w[1:].isdigit()}


def test_each_seed_and_share_fits_its_own_autoencoder_on_its_train_pairs_only():
    pairs, _ = synthetic()  # the first 40 pairs are the train pairs
    texts = texts_for(pairs)
    part = run_experiment(pairs, texts, RunConfig(train_fraction=0.25), ModelConfig(), FAST, seeds=2, seed=5,
                          progress=False)
    keep = train_share(40, 0.25, 5)
    assert len(keep) == 10 and len(part.autoencoders) == 2 and part.metrics["autoencoder"]["texts"] == 20
    for k, fit in enumerate(part.autoencoders):  # seed 5 + k, on the 10 kept pairs' 20 texts, nothing else
        assert own_words(fit.vocab.words) == {f"{c}{i}" for i in keep for c in "wn"}
        direct = train_autoencoder([texts.positive[i] for i in keep] + [texts.negative[i] for i in keep],
                                   texts.config, 5 + k, progress=False)
        assert fit.losses == direct.losses
    assert part.autoencoders[0].losses != part.autoencoders[1].losses
    assert [m["seed"] for m in part.metrics["autoencoder"]["per_seed"]] == [5, 6]

    # the recommender of seed 6 reads seed 6's autoencoder: the same predictions as a run on those vectors
    full = run_experiment(pairs, texts, RunConfig(), ModelConfig(), FAST, seeds=2, seed=5, progress=False)
    assert own_words(full.autoencoders[0].vocab.words) == {f"{c}{i}" for i in range(40) for c in "wn"}
    vectors = autoencoder_embeddings(texts, range(40), 6, checkpoint_name=None).vectors
    fixed = run_experiment(pairs, vectors, RunConfig(), ModelConfig(), FAST, seeds=1, seed=6, progress=False)
    pd.testing.assert_frame_equal(full.predictions[full.predictions.seed == 6].reset_index(drop=True),
                                  fixed.predictions)
    # positives only for n_explanations 1; no autoencoder for a model that reads no explanation vector
    pos = run_experiment(pairs, texts, RunConfig(n_explanations=1), ModelConfig(n_explanations=1), FAST, seeds=1,
                         seed=5, progress=False)
    assert pos.metrics["autoencoder"]["texts"] == 40 and not any(w.startswith("n") for w in
                                                                  own_words(pos.autoencoders[0].vocab.words))
    for kind in ("free", "none"):
        r = run_experiment(pairs, texts, RunConfig(explanations=kind), ModelConfig(explanations=kind), FAST, seeds=1,
                           seed=5, progress=False)
        assert r.autoencoders == [] and r.metrics["autoencoder"] is None


def test_the_dnn_beats_the_mean_rating_on_a_planted_task():
    pairs, _ = synthetic(n=300)
    pairs["split"] = ["train" if k < 240 else "test" for k in range(300)]
    emb = np.random.default_rng(1).normal(scale=0.1, size=(300, 2, 8)).astype(np.float32)
    emb[:, 0, 0] += pairs["rating"].to_numpy() - 3  # the positive explanation carries the rating
    train = TrainConfig(epochs=25, patience=10, batch_size=32)
    res = run_experiment(pairs, emb, RunConfig(), ModelConfig(), train, seeds=2, seed=0, progress=False)
    truth = (pairs["rating"].to_numpy()[240:] - 1) / 4
    mean_rmse = root_mean_squared_error(truth, np.full(60, ((pairs["rating"][:240] - 1) / 4).mean()))
    reg = res.predictions[res.predictions.task == "regression"]
    for k, s in enumerate((0, 1)):  # the metric is sklearn's RMSE of the written predictions
        assert res.metrics["rmse"]["per_seed"][k] == pytest.approx(
            root_mean_squared_error(truth, reg[reg.seed == s]["prediction"]), rel=1e-6)
    assert res.metrics["rmse"]["mean"] < 0.5 * mean_rmse, (res.metrics["rmse"], mean_rmse)
    assert res.metrics["auc"]["mean"] > 0.9


def test_attention_values_and_shares_by_hand():
    tokens = ("pos", "neg", "user", "item", "seq")
    att = np.zeros((2, 5, 5))
    att[0, :, 0] = 1.0  # every token attends to the positive explanation only
    att[1] = 0.2  # uniform
    runs = SimpleNamespace(seeds=[7], attention=[att], tokens=tokens)
    table = attention_table(runs, ["a", "b"], np.array([5.0, 2.0]))
    assert table["alpha_pos"].tolist() == pytest.approx([1.0, 0.2]) and table["alpha_user"].tolist() == \
        pytest.approx([0.0, 0.2])
    s = attention_summary(table, tokens)
    assert s["explanation_share"] == pytest.approx((1.0 + 0.4) / 2)
    assert s["high"]["pos"] == 1.0 and s["high"]["pos_minus_neg"] == 1.0 and s["high"]["rows"] == 1
    assert s["low"]["neg"] == 0.2 and s["low"]["pos_minus_neg"] == 0.0 and s["all"]["item"] == 0.1


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
    tests = paired_tests(runs, LRRecsysReportConfig())
    assert set(tests) == {"ablation_1", "black_box"} and tests["black_box"]["auc"]["n"] == 2
    md = runs_table_markdown(runs, "machine X") + paired_markdown(tests, runs, "lr_recsys")
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
