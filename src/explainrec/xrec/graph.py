"""XRec's collaborative graph tokenizer: LightGCN trained with BPR (paper 001 §3.1, Eqs. 7-11).

What the paper specifies: the symmetric-normalised propagation of Eq. 7 over the user-item
graph, the layer combination of Eq. 8 (the mean of layers 0..K), the BPR loss of Eq. 9 and an
L2 term on the layer-0 embeddings (Eq. 10). Where XRec's released code (``encoder/``) differs,
the default follows the code and the paper's choice is a value of the param: the code sums the
layers (``combine="sum"``; ``"mean"`` is Eq. 8) and puts the L2 term on the propagated
embeddings of the batch's users and positive / negative items (``reg_on="batch"``; ``"layer0"``
is Eq. 10). In both cases the term is ``reg_weight`` times the summed squared norms of the
batch's rows, not divided by the batch size, as in the code (whose own default weight is 1e-6).
Also from the code: 4 layers, Xavier-uniform initialisation of the layer-0 tables, Adam, one
uniform negative per train interaction sampled once, the loss on the whole propagated graph
every mini-batch, early stopping on validation Recall@20 with patience 10, and Recall@k as
hits / (the user's number of truth items), NDCG@k with the ideal DCG of min(k, n_truth) items.

Ours: the validation set is a seeded ``val_fraction`` slice of the train interactions (every
user keeps at least one train edge where it can), held out of the graph and of BPR; the saved
embeddings are the best epoch's weights propagated over that same graph (train less
validation), which is the graph they were trained on. Negatives are drawn over every item node
(the code draws over the items present in train), never an item the user has a train or
validation interaction with. **Masking:** XRec's code ranks the whole catalogue without masking
the user's training items (its mask call is commented out); here validation ranks mask the
training graph's edges and test ranks mask every train interaction of the user (validation
included), for LightGCN and for the popularity baseline (train interaction counts, validation
included) alike; a test pair that is also a train interaction is masked and so never counted
(``test_in_train`` says how many).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from explainrec.core.config import check_bool, check_choice, check_int, check_number
from explainrec.core.curves import log_step
from explainrec.core.errors import InputError, ParamError
from explainrec.core.seeding import deterministic_torch, stable_rng

COMBINE = ("sum", "mean")
REG_ON = ("batch", "layer0")
MAX_SCORES = 50_000_000  # user x item scores per chunk when ranking


@dataclass(frozen=True)
class GNNConfig:
    """``xrec.gnn``: LightGCN size, BPR training and early stopping."""

    dim: int = 64
    layers: int = 4
    combine: str = "sum"
    reg_weight: float = 1e-6        # L2 weight (XRec's code: --weight_decay 1e-6, on the summed squared norms)
    reg_on: str = "batch"
    learning_rate: float = 1e-3
    batch_size: int = 1024
    max_epochs: int = 300
    patience: int = 10
    val_fraction: float = 0.1
    resample_negatives: bool = False
    top_k: int = 20
    #: the splits whose interactions the graph learns (read by the xrec_gnn stage, not by train_lightgcn)
    splits: tuple[str, ...] = ("profile", "train")

    def __post_init__(self) -> None:
        splits = tuple(self.splits) if isinstance(self.splits, (list, tuple)) else ()
        if not splits or any(s not in ("profile", "train") for s in splits) or len(set(splits)) != len(splits):
            raise ParamError("splits", "a list of profile and/or train", self.splits)
        object.__setattr__(self, "splits", splits)
        check_int(self.dim, "dim")
        check_int(self.layers, "layers", 0)
        check_choice(self.combine, "combine", COMBINE)
        check_number(self.reg_weight, "reg_weight", 0.0, float("inf"), high_open=True)
        check_choice(self.reg_on, "reg_on", REG_ON)
        check_number(self.learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        check_int(self.batch_size, "batch_size")
        check_int(self.max_epochs, "max_epochs")
        check_int(self.patience, "patience")
        check_number(self.val_fraction, "val_fraction", 0.0, 1.0, high_open=True)
        check_bool(self.resample_negatives, "resample_negatives")
        check_int(self.top_k, "top_k")


def normalized_adjacency(n_users: int, n_items: int, user_index: np.ndarray, item_index: np.ndarray) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the bipartite graph (users first, then items) as a coalesced sparse COO
    tensor: entry (u, i) = 1 / sqrt(d_u d_i); duplicate edges count once, no self-loops, and a node
    without edges has an all-zero row."""
    keys = np.unique(np.asarray(user_index, np.int64) * n_items + np.asarray(item_index, np.int64))
    u, i = keys // n_items, keys % n_items + n_users
    deg = np.bincount(np.concatenate([u, i]), minlength=n_users + n_items).astype(np.float64)
    inv = np.zeros_like(deg)
    inv[deg > 0] = deg[deg > 0] ** -0.5
    values = (inv[u] * inv[i]).astype(np.float32)
    index = torch.from_numpy(np.stack([np.concatenate([u, i]), np.concatenate([i, u])]))
    n = n_users + n_items
    return torch.sparse_coo_tensor(index, torch.from_numpy(np.concatenate([values, values])), (n, n),
                                   check_invariants=True).coalesce()


class LightGCN(nn.Module):
    """Layer-0 user and item tables (Xavier-uniform, as XRec's code) propagated ``layers`` times
    over ``adjacency`` (Eq. 7) and combined over layers 0..L by sum or mean (Eq. 8)."""

    def __init__(self, n_users: int, n_items: int, adjacency: torch.Tensor, dim: int, layers: int,
                 combine: str = "sum") -> None:
        super().__init__()
        self.n_users, self.n_items, self.layers, self.combine = n_users, n_items, layers, combine
        self.adjacency = adjacency  # a plain attribute: not part of the state dict
        self.user_table = nn.Embedding(n_users, dim)
        self.item_table = nn.Embedding(n_items, dim)
        nn.init.xavier_uniform_(self.user_table.weight)
        nn.init.xavier_uniform_(self.item_table.weight)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(users, items, users0, items0): the combined embeddings and the layer-0 tables."""
        x = torch.cat([self.user_table.weight, self.item_table.weight])
        out = x
        for _ in range(self.layers):
            x = torch.sparse.mm(self.adjacency, x)
            out = out + x
        if self.combine == "mean":
            out = out / (self.layers + 1)
        return out[:self.n_users], out[self.n_users:], self.user_table.weight, self.item_table.weight


def bpr_loss(users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Mean over the rows of -log sigmoid(<u, i> - <u, j>) (Eq. 9)."""
    return -F.logsigmoid((users * pos).sum(-1) - (users * neg).sum(-1)).mean()


def rank_metrics(scores: torch.Tensor, exclude: torch.Tensor, truth: torch.Tensor, k: int) -> dict[str, Any]:
    """Recall@k and NDCG@k of ranking the whole catalogue, with ``exclude``d items set to -inf.

    Excluded items never count as truth. The metrics average over the users with at least one
    (unexcluded) truth item, their count is ``users``; both are None when there are none.
    Recall@k is hits / n_truth (XRec's code divides by the user's number of truth items, not by
    min(k, n_truth)); NDCG@k's ideal DCG is that of min(k, n_truth) hits at the top.
    """
    truth = truth & ~exclude
    n_truth = truth.sum(1)
    keep = n_truth > 0
    names = (f"recall@{k}", f"ndcg@{k}")
    if not bool(keep.any()):
        return {names[0]: None, names[1]: None, "users": 0}
    scores, truth, n_truth = scores[keep].masked_fill(exclude[keep], float("-inf")), truth[keep], n_truth[keep]
    kk = min(k, scores.shape[1])
    top = torch.topk(scores, kk, dim=1).indices
    hits = truth.gather(1, top).float()
    discount = 1.0 / torch.log2(torch.arange(2, kk + 2, dtype=torch.float32))
    idcg = torch.cumsum(discount, 0)[torch.clamp(n_truth, max=kk) - 1]
    recall = hits.sum(1) / n_truth
    ndcg = (hits * discount).sum(1) / idcg
    return {names[0]: float(recall.mean()), names[1]: float(ndcg.mean()), "users": int(keep.sum())}


def popularity_scores(item_index: np.ndarray, n_items: int) -> torch.Tensor:
    """Each item's number of train interactions: the baseline ranking, the same for every user."""
    return torch.from_numpy(np.bincount(np.asarray(item_index, np.int64), minlength=n_items).astype(np.float32))


@dataclass
class GNNFit:
    """The trained embeddings (rows in ``user_ids`` / ``item_ids`` order), the per-epoch history
    (epoch, loss, bpr, val_recall, val_ndcg) and the metrics."""

    user_ids: list[str]
    item_ids: list[str]
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


def _mask(part: np.ndarray, edges: tuple[np.ndarray, np.ndarray], n_items: int) -> torch.Tensor:
    """Dense bool [len(part), n_items] of the ``edges`` (user rows, item columns) of the sorted users ``part``."""
    rows, cols = edges
    sel = np.isin(rows, part)
    mask = torch.zeros(len(part), n_items, dtype=torch.bool)
    mask[torch.from_numpy(np.searchsorted(part, rows[sel])), torch.from_numpy(cols[sel])] = True
    return mask


def _evaluate(score: Callable[[np.ndarray], torch.Tensor], n_items: int, exclude: tuple[np.ndarray, np.ndarray],
              truth: tuple[np.ndarray, np.ndarray], k: int) -> dict[str, Any]:
    """:func:`rank_metrics` over the users with truth edges, in chunks of users when the scores are large."""
    users = np.unique(truth[0])
    step = max(1, MAX_SCORES // max(n_items, 1))
    total: dict[str, float] = {f"recall@{k}": 0.0, f"ndcg@{k}": 0.0}
    n = 0
    for lo in range(0, len(users), step):
        part = users[lo:lo + step]
        m = rank_metrics(score(part), _mask(part, exclude, n_items), _mask(part, truth, n_items), k)
        if m["users"]:
            n += m["users"]
            for name in total:
                total[name] += m[name] * m["users"]
    return {**{name: (round(v / n, 6) if n else None) for name, v in total.items()}, "users": n}


def _validation(users: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Bool mask of the held-out train rows: a seeded ``fraction`` of them, never a user's last edge."""
    val = np.zeros(len(users), dtype=bool)
    n_val = int(round(fraction * len(users)))
    if n_val == 0:
        return val
    order = stable_rng(seed, "xrec-gnn", "validation").permutation(len(users))
    _, first = np.unique(users[order], return_index=True)
    keep = np.zeros(len(users), dtype=bool)
    keep[order[first]] = True
    val[order[~keep[order]][:n_val]] = True
    return val


def _negatives(users: np.ndarray, n_items: int, seen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniform item per row that the row's user has not interacted with (``seen``: sorted user*I+item keys)."""
    neg = rng.integers(0, n_items, len(users))
    bad = np.flatnonzero(np.isin(users * n_items + neg, seen))
    while len(bad):
        neg[bad] = rng.integers(0, n_items, len(bad))
        bad = bad[np.isin(users[bad] * n_items + neg[bad], seen)]
    return neg


def _pairs(df: pd.DataFrame, name: str) -> pd.DataFrame:
    missing = [c for c in ("user_id", "item_id") if c not in df.columns]
    if missing:
        raise InputError(name, missing[0], "a column of string ids", got=f"columns {list(df.columns)}")
    return df[["user_id", "item_id"]].astype(str).drop_duplicates().sort_values(["user_id", "item_id"])


def train_lightgcn(train: pd.DataFrame, test: pd.DataFrame, config: GNNConfig, seed: int, *,
                   users: Sequence[str] | None = None, items: Sequence[str] | None = None,
                   progress: bool = True, live: Any = None) -> GNNFit:
    """Train LightGCN with BPR on ``train`` (user_id, item_id), early-stopped on a validation slice
    of it, and score Recall/NDCG@top_k on ``test`` against the popularity ranking.

    With ``live`` (a :class:`dvclive.Live`, :mod:`explainrec.core.curves`) each epoch's row of the
    history is logged at step ``epoch``: ``train/loss``, ``train/bpr``, ``val/recall``, ``val/ndcg``.

    The nodes are ``users`` / ``items`` when given (nodes without train edges get a row), else
    those of ``train``, in sorted id order; test rows outside the nodes are dropped and counted.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    tr, te = _pairs(train, "train table"), _pairs(test, "test table")
    if tr.empty:
        raise InputError("train table", "user_id", "at least one train interaction", got="0 rows")
    user_ids = sorted(set(map(str, users))) if users is not None else sorted(set(tr["user_id"]))
    item_ids = sorted(set(map(str, items))) if items is not None else sorted(set(tr["item_id"]))
    row_u, row_i = {u: k for k, u in enumerate(user_ids)}, {i: k for k, i in enumerate(item_ids)}
    for col, rows in (("user_id", row_u), ("item_id", row_i)):
        outside = ~tr[col].isin(rows.keys())
        if outside.any():
            raise InputError("train table", col, "ids among the given nodes", got=tr.loc[outside, col].iloc[0])
    n_u, n_i = len(user_ids), len(item_ids)
    u_all, i_all = tr["user_id"].map(row_u).to_numpy(np.int64), tr["item_id"].map(row_i).to_numpy(np.int64)
    ok = te["user_id"].isin(row_u.keys()) & te["item_id"].isin(row_i.keys())
    te_u = te.loc[ok, "user_id"].map(row_u).to_numpy(np.int64)
    te_i = te.loc[ok, "item_id"].map(row_i).to_numpy(np.int64)

    val = _validation(u_all, config.val_fraction, seed)
    u_tr, i_tr, u_val, i_val = u_all[~val], i_all[~val], u_all[val], i_all[val]
    seen = np.unique(u_all * n_i + i_all)
    full = np.bincount(u_all, minlength=n_u) >= n_i  # users with every item: no negative exists
    u_bpr, i_bpr = u_tr[~full[u_tr]], i_tr[~full[u_tr]]

    deterministic_torch()  # the lookups' backward (index_put_ accumulate) sums in thread order otherwise
    torch.manual_seed(seed)
    model = LightGCN(n_u, n_i, normalized_adjacency(n_u, n_i, u_tr, i_tr), config.dim, config.layers, config.combine)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    gen = torch.Generator().manual_seed(seed)
    bu, bp = torch.from_numpy(u_bpr), torch.from_numpy(i_bpr)
    rk = f"recall@{config.top_k}"
    history: list[dict] = []
    best: tuple[float, int, dict] | None = None
    neg = None
    bar = tqdm(range(1, config.max_epochs + 1), desc="xrec gnn", unit="epoch", disable=not progress)
    for epoch in bar:
        if neg is None or config.resample_negatives:
            rng = stable_rng(seed, "xrec-gnn", "negatives", epoch if config.resample_negatives else 0)
            neg = torch.from_numpy(_negatives(u_bpr, n_i, seen, rng))
        perm = torch.randperm(len(bu), generator=gen)
        losses, bprs, sizes = [], [], []
        for lo in range(0, len(perm), config.batch_size):
            b = perm[lo:lo + config.batch_size]
            eu, ei, eu0, ei0 = model()
            ub, pb, nb = eu[bu[b]], ei[bp[b]], ei[neg[b]]
            bpr = bpr_loss(ub, pb, nb)
            if config.reg_on == "layer0":
                ub, pb, nb = eu0[bu[b]], ei0[bp[b]], ei0[neg[b]]
            loss = bpr + config.reg_weight * (ub.square().sum() + pb.square().sum() + nb.square().sum())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bprs.append(bpr.item())
            sizes.append(len(b))
        with torch.no_grad():
            eu, ei = model()[:2]
            m = _evaluate(lambda part: eu[torch.from_numpy(part)] @ ei.T, n_i, (u_tr, i_tr), (u_val, i_val),
                          config.top_k)
        history.append({"epoch": epoch, "loss": round(float(np.average(losses, weights=sizes)), 6),
                        "bpr": round(float(np.average(bprs, weights=sizes)), 6),
                        "val_recall": m[rk], "val_ndcg": m[f"ndcg@{config.top_k}"]})
        log_step(live, {"train/loss": history[-1]["loss"], "train/bpr": history[-1]["bpr"],
                        "val/recall": m[rk], "val/ndcg": m[f"ndcg@{config.top_k}"]}, epoch)
        bar.set_postfix(loss=f"{history[-1]['loss']:.4f}", val_recall=m[rk])
        score = m[rk] if m[rk] is not None else float(epoch)  # no validation edges: the last epoch is best
        if best is None or score > best[0]:
            best = (score, epoch, copy.deepcopy(model.state_dict()))
        elif epoch - best[1] >= config.patience:
            break
    bar.close()
    assert best is not None
    model.load_state_dict(best[2])
    with torch.no_grad():
        eu, ei = model()[:2]
    pop = popularity_scores(i_all, n_i)
    exclude = (u_all, i_all)
    lightgcn = _evaluate(lambda part: eu[torch.from_numpy(part)] @ ei.T, n_i, exclude, (te_u, te_i), config.top_k)
    popular = _evaluate(lambda part: pop.expand(len(part), n_i), n_i, exclude, (te_u, te_i), config.top_k)
    metrics = {
        "lightgcn": {k: v for k, v in lightgcn.items() if k != "users"},
        "popularity": {k: v for k, v in popular.items() if k != "users"},
        "epochs": len(history), "best_epoch": best[1],
        "loss_first": history[0]["loss"], "loss_last": history[-1]["loss"],
        "val_recall_best": history[best[1] - 1]["val_recall"],
        "users": n_u, "items": n_i, "train_edges": int(len(u_tr)), "val_edges": int(len(u_val)),
        "test_pairs": int(len(te_u)), "test_dropped": int((~ok).sum()),
        "test_in_train": int(np.isin(te_u * n_i + te_i, seen).sum()), "test_users": lightgcn["users"],
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return GNNFit(user_ids, item_ids, eu.numpy().astype(np.float32), ei.numpy().astype(np.float32), history, metrics)
