"""XRec's graph tables: the zero-shot users, and LightGCN embeddings for every user and item.

``run_gnn`` (the xrec_gnn stage) holds a seeded share of the users out (§4.4: a random
split of a k-core graph leaves almost no user unseen, so the zero-shot set is built on
purpose), trains LightGCN on the train split less those users, and gives each zero-shot
user the mean of the final embeddings of the items of its profile split: the items it
interacted with before any train or test pair, what one propagation step from those
items gives, without the graph ever training on the user. ``read_graph`` reads the tables
back for the adapter and generation stages.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainrec.core.config import check_choice, check_int, check_number
from explainrec.core.errors import InputError
from explainrec.core.io import read_table
from explainrec.core.seeding import stable_rng

USERS_FILE, ITEMS_FILE = "users.parquet", "items.parquet"


@dataclass(frozen=True)
class SparsityConfig:
    """``xrec.sparsity``: the zero-shot set (``zero_shot``: ``held_out``, a seeded ``zero_shot_users``
    share of the users held out of training; ``test_only``, the users with no interaction in the
    graph's splits) and the buckets (``buckets_by``: ``users`` or ``pairs``,
    :func:`explainrec.xrec.data.assign_buckets`)."""

    zero_shot_users: float = 0.1
    buckets: int = 5
    zero_shot: str = "held_out"
    buckets_by: str = "users"

    def __post_init__(self) -> None:
        check_number(self.zero_shot_users, "zero_shot_users", 0.0, 1.0, high_open=True)
        check_int(self.buckets, "buckets")
        check_choice(self.zero_shot, "zero_shot", ("held_out", "test_only"))
        check_choice(self.buckets_by, "buckets_by", ("users", "pairs"))


def zero_shot_users(users: list[str], share: float, seed: int) -> list[str]:
    """A seeded ``share`` of ``users`` (rounded; at least one when the share is positive)."""
    if share <= 0 or not users:
        return []
    n = min(len(users) - 1, max(1, int(round(share * len(users)))))
    rng = stable_rng(seed, "xrec", "zero_shot")
    return sorted(rng.choice(sorted(users), size=n, replace=False).tolist())


def _ids(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(user_id=df["user_id"].astype(str), item_id=df["item_id"].astype(str))


def run_gnn(splits: str | Path, filtered: str | Path, out: str | Path, gnn: Any, sparsity: SparsityConfig,
            seed: int, progress: bool = True, live: Any = None) -> dict[str, Any]:
    """LightGCN embeddings for every user and item of the filtered data; writes ``users.parquet``
    (user_id, zero_shot, train_interactions, embedding) and ``items.parquet`` (item_id, embedding); the
    per-epoch curves go to ``live`` (a :class:`dvclive.Live`, see :func:`~explainrec.xrec.graph.train_lightgcn`);
    returns the metrics (Recall/NDCG@k against popularity)."""
    from explainrec.xrec.graph import train_lightgcn

    t0 = time.perf_counter()
    splits, out = Path(splits), Path(out)
    cols = ("user_id", "item_id")
    parts = {s: _ids(read_table(splits / f"{s}.parquet", f"{s} split", "the split stage", cols))
             for s in ("profile", "train", "test")}
    profile, test = parts["profile"], parts["test"]
    train = pd.concat([parts[s] for s in gnn.splits], ignore_index=True)
    items_table = read_table(Path(filtered) / "items.parquet", "items", "the filter stage", ("item_id",))
    users = sorted(set(parts["train"]["user_id"]) | set(test["user_id"]) | set(profile["user_id"]))
    items = sorted(set(items_table["item_id"].astype(str)) | set(train["item_id"]) | set(test["item_id"]))
    held = set(zero_shot_users(users, sparsity.zero_shot_users, seed) if sparsity.zero_shot == "held_out"
               else set(test["user_id"]) - set(train["user_id"]))  # test_only: never in the graph's splits
    fit = train_lightgcn(train[~train["user_id"].isin(held)], test[~test["user_id"].isin(held)], gnn, seed,
                         users=users, items=items, progress=progress, live=live)
    user_emb = np.array(fit.user_embeddings, dtype=np.float32, copy=True)
    row_u = {u: k for k, u in enumerate(fit.user_ids)}
    row_i = {i: k for k, i in enumerate(fit.item_ids)}
    no_history = 0
    for u in sorted(held):
        seen = [row_i[i] for i in profile.loc[profile["user_id"] == u, "item_id"] if i in row_i]
        if seen:
            user_emb[row_u[u]] = fit.item_embeddings[seen].mean(axis=0)
        else:
            user_emb[row_u[u]] = 0.0
            no_history += 1
    counts = train[~train["user_id"].isin(held)]["user_id"].value_counts()
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"user_id": fit.user_ids, "zero_shot": [u in held for u in fit.user_ids],
                  "train_interactions": [int(counts.get(u, 0)) for u in fit.user_ids],
                  "embedding": list(user_emb)}).to_parquet(out / USERS_FILE, index=False)
    pd.DataFrame({"item_id": fit.item_ids, "embedding": list(np.asarray(fit.item_embeddings, np.float32))}).to_parquet(
        out / ITEMS_FILE, index=False)
    metrics = dict(fit.metrics)
    metrics.update({"zero_shot_users": len(held), "zero_shot": sparsity.zero_shot, "zero_shot_without_profile_items": no_history,
                    "config": asdict(gnn), "seconds_total": round(time.perf_counter() - t0, 2)})
    return metrics


@dataclass
class Graph:
    """The gnn stage's tables: embedding rows by id, and each user's zero-shot flag and train count."""

    users: dict[str, np.ndarray]
    items: dict[str, np.ndarray]
    zero_shot: set[str]
    train_counts: dict[str, int]
    content_hash: str

    @property
    def dim(self) -> int:
        return int(len(next(iter(self.items.values()))))


def read_graph(folder: str | Path) -> Graph:
    """Read the gnn stage's ``users.parquet`` and ``items.parquet``."""
    import hashlib

    folder = Path(folder)
    u = read_table(folder / USERS_FILE, "graph users", "the xrec_gnn stage",
                   ("user_id", "zero_shot", "train_interactions", "embedding"))
    i = read_table(folder / ITEMS_FILE, "graph items", "the xrec_gnn stage", ("item_id", "embedding"))
    if i.empty:
        raise InputError(folder / ITEMS_FILE, "embedding", "at least one item embedding", "none")
    h = hashlib.sha256()
    for name in (USERS_FILE, ITEMS_FILE):
        h.update((folder / name).read_bytes())
    return Graph({str(a): np.asarray(e, np.float32) for a, e in zip(u["user_id"], u["embedding"])},
                 {str(a): np.asarray(e, np.float32) for a, e in zip(i["item_id"], i["embedding"])},
                 set(u.loc[u["zero_shot"].astype(bool), "user_id"].astype(str)),
                 {str(a): int(n) for a, n in zip(u["user_id"], u["train_interactions"])}, h.hexdigest())
