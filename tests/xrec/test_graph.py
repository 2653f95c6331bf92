"""XRec's graph tokenizer: the normalised adjacency, LightGCN + BPR on planted communities, the metrics."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from explainrec.core.errors import InputError, ParamError
from explainrec.xrec.graph import (GNNConfig, LightGCN, bpr_loss, normalized_adjacency, popularity_scores,
                                   rank_metrics, train_lightgcn)

FAST = GNNConfig(dim=16, layers=2, learning_rate=0.05, batch_size=128, max_epochs=40, patience=10, top_k=10)


def planted(n_comm: int = 4, n_users: int = 20, n_items: int = 15, share: float = 0.6, n_test: int = 2,
            seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users interact with ~``share`` of their community's items and nothing outside; ``n_test`` per user held out."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(n_comm):
        for u in range(n_users):
            chosen = rng.choice(n_items, size=round(share * n_items), replace=False)
            for j, it in enumerate(chosen):
                (test if j < n_test else train).append((f"u{c}_{u}", f"i{c}_{it}"))
    cols = ["user_id", "item_id"]
    return pd.DataFrame(train, columns=cols), pd.DataFrame(test, columns=cols)


@pytest.fixture(scope="module")
def planted_fit():
    train, test = planted()
    return train, test, train_lightgcn(train, test, FAST, seed=3, progress=False)


def test_normalized_adjacency_is_one_over_sqrt_degrees():
    users = np.array([0, 0, 0, 1, 1])  # user 2 isolated; (1, 1) given twice
    items = np.array([0, 1, 2, 1, 1])
    adj = normalized_adjacency(3, 3, users, items)
    assert adj.is_sparse and adj.is_coalesced()
    dense = adj.to_dense().numpy()
    a = np.zeros((6, 6))
    for u, i in set(zip(users.tolist(), items.tolist())):
        a[u, 3 + i] = a[3 + i, u] = 1.0
    deg = a.sum(1)
    expected = np.zeros((6, 6))
    for r, c in zip(*np.nonzero(a)):
        expected[r, c] = 1.0 / math.sqrt(deg[r] * deg[c])
    np.testing.assert_allclose(dense, expected, rtol=1e-6)
    assert dense[0, 3 + 1] == pytest.approx(1 / math.sqrt(3 * 2))
    np.testing.assert_array_equal(dense, dense.T)
    assert np.all(np.diag(dense) == 0)
    assert np.all(dense[2] == 0) and np.all(dense[:, 2] == 0)
    assert np.isfinite(dense).all()


def test_planted_communities_are_recovered(planted_fit):
    train, test, fit = planted_fit
    n_items, per_user = 4 * 15, 9 - 2
    random_recall = FAST.top_k / (n_items - per_user)
    recall = fit.metrics["lightgcn"]["recall@10"]
    assert recall > 3 * random_recall and recall > 0.5
    assert fit.metrics["loss_last"] < fit.metrics["loss_first"]
    assert fit.user_embeddings.shape == (80, 16) and fit.item_embeddings.shape == (60, 16)
    assert fit.user_embeddings.dtype == np.float32
    assert fit.metrics["train_edges"] + fit.metrics["val_edges"] == len(train)
    assert fit.metrics["val_edges"] == round(0.1 * len(train))
    assert fit.metrics["test_pairs"] == len(test) and fit.metrics["test_dropped"] == 0
    assert 1 <= fit.metrics["best_epoch"] <= fit.metrics["epochs"] == len(fit.history)
    assert fit.metrics["val_recall_best"] == max(h["val_recall"] for h in fit.history)


def test_bpr_falls_and_combine_mean_is_sum_over_layers(planted_fit):
    history = planted_fit[2].history
    assert history[-1]["bpr"] < history[0]["bpr"] < math.log(2) + 0.05
    u = torch.tensor([[1.0, 0.0]])
    one = float(bpr_loss(u, torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2)))
    assert one == pytest.approx(-math.log(1 / (1 + math.e ** -1)))  # -log sigmoid(1 - 0)
    torch.manual_seed(0)
    adj = normalized_adjacency(3, 4, np.array([0, 1, 2, 2]), np.array([0, 1, 2, 3]))
    model = LightGCN(3, 4, adj, dim=5, layers=3, combine="sum")
    with torch.no_grad():
        su, si, su0, si0 = model()
        model.combine = "mean"
        mu, mi, mu0, mi0 = model()
    torch.testing.assert_close(mu, su / 4)
    torch.testing.assert_close(mi, si / 4)
    torch.testing.assert_close(mu0, su0)
    assert not torch.allclose(mu, su)


def test_rank_metrics_by_hand():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5],
                           [0.1, 0.5, 0.3, 0.9, 0.2]])
    exclude = torch.tensor([[True, False, False, False, False],
                            [False, False, False, False, False]])
    truth = torch.tensor([[True, False, True, False, True],  # item 0 is masked: never counted
                          [False, True, False, False, False]])
    m = rank_metrics(scores, exclude, truth, k=2)
    # row 0: top-2 after the mask = items 1, 2 -> one hit at rank 2 out of 2 truth items
    # row 1: top-2 = items 3, 1 -> one hit at rank 2 out of 1 truth item
    d2 = 1 / math.log2(3)
    assert m["users"] == 2
    assert m["recall@2"] == pytest.approx((1 / 2 + 1) / 2)
    assert m["ndcg@2"] == pytest.approx((d2 / (1 + d2) + d2 / 1) / 2)
    # a masked top item is skipped, and a user whose only truth is masked is not averaged over
    skip = rank_metrics(scores, torch.tensor([[False] * 5, [False, False, False, True, False]]), truth, k=1)
    assert skip["users"] == 2 and skip["recall@1"] == pytest.approx((1 / 3 + 1) / 2) and skip["ndcg@1"] == 1.0
    dropped = rank_metrics(scores, torch.tensor([[False] * 5, [False, True, False, False, False]]), truth, k=1)
    assert dropped["users"] == 1 and dropped["recall@1"] == pytest.approx(1 / 3)
    none = rank_metrics(scores, truth, truth, k=2)
    assert none == {"recall@2": None, "ndcg@2": None, "users": 0}


def test_same_seed_same_fit():
    train, test = planted(n_comm=2, n_users=8, n_items=10)
    config = replace(FAST, max_epochs=4)
    a = train_lightgcn(train, test, config, seed=5, progress=False)
    b = train_lightgcn(train.sample(frac=1.0, random_state=1), test, config, seed=5, progress=False)
    np.testing.assert_array_equal(a.user_embeddings, b.user_embeddings)
    np.testing.assert_array_equal(a.item_embeddings, b.item_embeddings)
    assert {**a.metrics, "seconds": 0} == {**b.metrics, "seconds": 0}
    assert a.history == b.history
    c = train_lightgcn(train, test, config, seed=6, progress=False)
    assert not np.array_equal(a.user_embeddings, c.user_embeddings)


def test_two_fits_are_bit_identical_at_the_default_width():
    """At the default's width (64 dims, one batch of ~1,000 edges) the lookups' backward is big enough
    for torch to split it over threads; without deterministic kernels (explainrec.core.seeding.deterministic_torch)
    two fits in one process differ in the last bits after a few epochs (measured: 3 of 3 pairs differ)."""
    torch.use_deterministic_algorithms(False)  # as a fresh process starts: the fit must switch it on itself
    train, test = planted(n_users=40)
    config = replace(FAST, dim=64, batch_size=1024, max_epochs=20, patience=50)
    a, b = (train_lightgcn(train, test, config, seed=5, progress=False) for _ in range(2))
    assert torch.are_deterministic_algorithms_enabled()
    assert a.user_embeddings.tobytes() == b.user_embeddings.tobytes()
    assert a.item_embeddings.tobytes() == b.item_embeddings.tobytes()
    assert a.history == b.history


def test_reg_on_puts_the_l2_term_on_the_right_tensor(monkeypatch):
    """One epoch of one batch (no validation slice): the epoch's loss - bpr is the L2 term at the initial
    weights, reg_weight x the summed squares of the batch's propagated rows (batch) or of its layer-0 rows
    (layer0), computed here from the same seeded initialisation and the same negatives."""
    from explainrec.xrec import graph

    train, test = planted(n_comm=2, n_users=6, n_items=8)
    train = train.sort_values(["user_id", "item_id"])  # the row order of the fit's BPR rows and negatives
    drawn = []
    original = graph._negatives

    def spy(users, n_items, seen, rng):
        drawn.append(original(users, n_items, seen, rng))
        return drawn[-1]

    monkeypatch.setattr(graph, "_negatives", spy)
    config = replace(FAST, max_epochs=1, val_fraction=0.0, batch_size=4096, reg_weight=0.5)
    users, items = sorted(set(train["user_id"])), sorted(set(train["item_id"]))
    u = torch.tensor(train["user_id"].map({x: k for k, x in enumerate(users)}).to_numpy(np.int64))
    i = torch.tensor(train["item_id"].map({x: k for k, x in enumerate(items)}).to_numpy(np.int64))
    terms = {}
    for reg_on in ("batch", "layer0"):
        fit = train_lightgcn(train, test, replace(config, reg_on=reg_on), seed=4, progress=False)
        neg = torch.tensor(drawn[-1])
        torch.manual_seed(4)
        model = LightGCN(len(users), len(items), normalized_adjacency(len(users), len(items), u.numpy(), i.numpy()),
                         config.dim, config.layers, config.combine)
        with torch.no_grad():
            eu, ei, eu0, ei0 = (t.detach() for t in model())
        bpr = float(bpr_loss(eu[u], ei[i], ei[neg]))
        prop = float(eu[u].square().sum() + ei[i].square().sum() + ei[neg].square().sum())
        zero = float(eu0[u].square().sum() + ei0[i].square().sum() + ei0[neg].square().sum())
        h = fit.history[0]
        assert h["bpr"] == pytest.approx(bpr, abs=2e-6)
        terms[reg_on] = h["loss"] - h["bpr"]
        assert terms[reg_on] == pytest.approx(0.5 * (prop if reg_on == "batch" else zero), rel=1e-4, abs=2e-6)
    assert abs(terms["batch"] - terms["layer0"]) > 0.05  # the two tensors differ: the test tells them apart


def test_resampled_negatives_differ_per_epoch_and_change_the_fit(monkeypatch):
    from explainrec.xrec import graph

    train, test = planted(n_comm=2, n_users=8, n_items=10)
    calls = []
    original = graph._negatives
    monkeypatch.setattr(graph, "_negatives", lambda *a: calls.append(original(*a)) or calls[-1])
    config = replace(FAST, max_epochs=3, patience=50)
    once = train_lightgcn(train, test, config, seed=1, progress=False)
    assert len(calls) == 1  # sampled once (XRec's code)
    calls.clear()
    every = train_lightgcn(train, test, replace(config, resample_negatives=True), seed=1, progress=False)
    assert len(calls) == 3 and not np.array_equal(calls[0], calls[1]) and not np.array_equal(calls[1], calls[2])
    assert every.history != once.history
    assert not np.array_equal(every.user_embeddings, once.user_embeddings)
    layer0 = train_lightgcn(train, test, replace(config, reg_on="layer0", reg_weight=1e-2), seed=1, progress=False)
    batch = train_lightgcn(train, test, replace(config, reg_weight=1e-2), seed=1, progress=False)
    assert not np.array_equal(layer0.user_embeddings, batch.user_embeddings)


def test_bad_gnn_params_name_the_field():
    for bad in ({"combine": "max"}, {"dim": 0}, {"reg_on": "all"}, {"val_fraction": 1.0}, {"resample_negatives": 1}):
        with pytest.raises(ParamError, match=next(iter(bad))) as info:
            GNNConfig(**bad)
        assert info.value.param == next(iter(bad))


def test_nodes_without_edges_dropped_test_rows_and_empty_train():
    train, test = planted(n_comm=2, n_users=8, n_items=10)
    test = pd.concat([test, pd.DataFrame({"user_id": ["stranger", "u0_0"], "item_id": ["i0_0", "nowhere"]})])
    users = sorted(set(train["user_id"])) + ["lonely"]
    items = sorted(set(train["item_id"]) | set(test["item_id"]) - {"nowhere"})
    fit = train_lightgcn(train, test, replace(FAST, max_epochs=2), seed=0, users=users, items=items, progress=False)
    assert "lonely" in fit.user_ids and len(fit.user_ids) == 17
    assert fit.metrics["test_dropped"] == 2
    with pytest.raises(InputError, match="train table"):
        train_lightgcn(train.iloc[:0], test, FAST, seed=0, progress=False)
    with pytest.raises(InputError, match="item_id"):
        train_lightgcn(train[["user_id"]], test, FAST, seed=0, progress=False)


def test_popularity_baseline():
    # popularity-driven data: every user draws items with probability ~ 1 / rank
    rng = np.random.default_rng(0)
    n_items = 40
    p = 1.0 / np.arange(1, n_items + 1)
    p /= p.sum()
    rows = [(f"u{u}", f"i{i:02d}") for u in range(60) for i in rng.choice(n_items, 8, replace=False, p=p)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id"])
    last = df.groupby("user_id").cumcount() >= 6
    train, test = df[~last], df[last]
    fit = train_lightgcn(train, test, replace(FAST, max_epochs=3, top_k=5), seed=0, progress=False)
    pop = fit.metrics["popularity"]
    assert pop["recall@5"] > 2 * 5 / (n_items - 6) and 0 < pop["ndcg@5"] <= 1
    counts = popularity_scores(np.array([0, 2, 2, 3]), 5)
    torch.testing.assert_close(counts, torch.tensor([1.0, 0.0, 2.0, 1.0, 0.0]))


def test_lightgcn_beats_popularity_on_communities(planted_fit):
    m = planted_fit[2].metrics
    assert m["lightgcn"]["recall@10"] > m["popularity"]["recall@10"] + 0.2
    assert m["lightgcn"]["ndcg@10"] > m["popularity"]["ndcg@10"]


def test_lightgcn_logs_one_row_per_epoch(tmp_path):
    from explainrec.core.curves import curves
    from tests.core.test_curves import tsv

    train, test = planted(n_comm=2, n_users=6, n_items=8)
    with curves(tmp_path / "c") as live:
        fit = train_lightgcn(train, test, replace(FAST, max_epochs=3, patience=5), seed=0, progress=False, live=live)
    loss, recall = tsv(tmp_path / "c", "train/loss"), tsv(tmp_path / "c", "val/recall")
    assert loss["step"].tolist() == [h["epoch"] for h in fit.history] == [1, 2, 3]
    assert loss["loss"].tolist() == pytest.approx([h["loss"] for h in fit.history])
    assert recall["recall"].tolist() == pytest.approx([h["val_recall"] for h in fit.history])
