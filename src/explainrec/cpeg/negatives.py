"""Negative items for CPEG's Discrimination prompt (paper 000 §3.2).

For a user u and an item i+ that u interacted with, the negatives are drawn
from N-, the items u never interacted with (in any split) that have a profile:

* ``k`` hard negatives: the items of N- whose profile embedding is most
  cosine-similar to u's profile embedding (ties broken by item_id);
* ``m`` random negatives: drawn uniformly from the rest of N-, with an RNG
  seeded from (seed, user_id, item_id) through SHA-256, so a pair's negatives
  do not depend on which other pairs are in the run.

Profiles are encoded once each (batched, L2-normalised), so cosine is a dot
product.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainrec.core.config import check_int, check_layer
from explainrec.core.encoder import TextEncoder, encode_texts
from explainrec.core.errors import ParamError
from explainrec.core.io import read_table
from explainrec.core.sampling import cap_pairs
from explainrec.core.seeding import stable_rng

FILE = "negatives.parquet"
COLUMNS = ("split", "user_id", "item_id", "hard", "random")


@dataclass(frozen=True)
class NegativeConfig:
    """The ``negatives`` section: ``k`` hard and ``m`` random negatives per pair;
    seeded caps on the number of train / test pairs (None: all); the profile
    layer that is encoded (-1: each node's last)."""

    k: int = 2
    m: int = 5
    profile_layer: int = -1
    max_train: int | None = 24
    max_test: int | None = 16

    def __post_init__(self) -> None:
        for name in ("k", "m"):
            check_int(getattr(self, name), name, 0)
        for name in ("max_train", "max_test"):
            check_int(getattr(self, name), name, 0, none_ok=True)
        check_layer(self.profile_layer, "profile_layer")
        if self.k + self.m < 1:
            raise ParamError("k + m", "at least 1 negative per pair", self.k + self.m)


@dataclass
class Negatives:
    """The negatives table (``split, user_id, item_id, hard, random``) and its metrics."""

    table: pd.DataFrame
    metrics: dict[str, Any]


def _pairs(splits: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    frames = []
    for name, df in splits.items():
        p = df[["user_id", "item_id"]].astype(str).drop_duplicates()
        frames.append(p.assign(split=name)[["split", "user_id", "item_id"]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["split", "user_id", "item_id"])


def sample_negatives(
    splits: Mapping[str, pd.DataFrame],
    interactions: pd.DataFrame,
    user_profiles: Mapping[str, str],
    item_profiles: Mapping[str, str],
    encoder: TextEncoder,
    config: NegativeConfig,
    seed: int,
    batch_size: int = 64,
    where: str = "negatives",
) -> Negatives:
    """Hard and random negatives for every (user, item) pair of ``splits``
    (``{"train": df, "test": df}``, capped per ``config``; ``where`` names the
    params section of ``config`` in errors).

    ``interactions`` holds every interaction of every split (the filtered
    dataset): an item in it is never a negative of its user. Candidates are the
    items of ``item_profiles``; pairs whose user or item has no profile are
    skipped and counted in the metrics.
    """
    t0 = time.perf_counter()
    caps = {"train": config.max_train, "test": config.max_test}
    capped = {name: cap_pairs(df, caps.get(name), seed, name) for name, df in splits.items()}
    pairs = _pairs(capped)
    has_profile = pairs["user_id"].isin(list(user_profiles)) & pairs["item_id"].isin(list(item_profiles))
    skipped = pairs[~has_profile].groupby("split").size().to_dict()
    pairs = pairs[has_profile].reset_index(drop=True)

    item_ids = sorted(map(str, item_profiles))  # sorted: a stable argsort breaks cosine ties by item_id
    item_pos = {iid: j for j, iid in enumerate(item_ids)}
    users = sorted(pairs["user_id"].unique())

    seen: dict[str, set[str]] = {}
    every = pd.concat([interactions[["user_id", "item_id"]].astype(str),
                       *(df[["user_id", "item_id"]].astype(str) for df in splits.values())])
    for u, i in zip(every["user_id"], every["item_id"]):
        seen.setdefault(u, set()).add(i)
    need = config.k + config.m
    for u in users:  # checked before any encoding: a bad k / m fails fast
        n_free = len(item_ids) - sum(1 for i in seen.get(u, ()) if i in item_pos)
        if n_free < need:
            raise ParamError(
                f"{where}.k + {where}.m",
                f"at most {n_free}: user {u!r} has only {n_free} never-interacted items with a profile "
                f"(k={config.k}, m={config.m})",
                need,
            )

    item_emb = encode_texts(encoder, [item_profiles[i] for i in item_ids], batch_size) if users else None
    user_emb = encode_texts(encoder, [user_profiles[u] for u in users], batch_size)
    user_row = {u: r for r, u in enumerate(users)}

    n = len(pairs)
    hard_col: list[list[str]] = [[] for _ in range(n)]
    rand_col: list[list[str]] = [[] for _ in range(n)]
    cos_rows: list[tuple[float, list[float], list[float]]] = [(0.0, [], [])] * n
    by_user = pairs.groupby("user_id", sort=True).indices
    for u in users:
        row = item_emb @ user_emb[user_row[u]]  # cosine to every item
        allowed = np.ones(len(item_ids), dtype=bool)
        allowed[[item_pos[i] for i in seen.get(u, ()) if i in item_pos]] = False
        order = np.argsort(-row, kind="stable")  # ties keep item_id order
        order = order[allowed[order]]
        hard, rest = order[: config.k], np.sort(order[config.k :])  # rest in item_id order
        for r in by_user[u]:
            i = pairs.at[r, "item_id"]
            rand = rest[stable_rng(seed, "negatives", u, i).choice(len(rest), size=config.m, replace=False)]
            hard_col[r] = [item_ids[j] for j in hard]
            rand_col[r] = [item_ids[j] for j in rand]
            cos_rows[r] = (float(row[item_pos[i]]), row[hard].tolist(), row[rand].tolist())

    table = pairs.assign(hard=hard_col, random=rand_col)[list(COLUMNS)]
    metrics: dict[str, Any] = {"k": config.k, "m": config.m, "items_with_profile": len(item_ids)}
    for name in capped:
        mask = (pairs["split"] == name).to_numpy()
        rows = [c for c, keep in zip(cos_rows, mask) if keep]
        metrics[name] = {
            "pairs": int(mask.sum()),
            "skipped_no_profile": int(skipped.get(name, 0)),
            "cos_positive": _mean([r[0] for r in rows]),
            "cos_hard": _mean([x for r in rows for x in r[1]]),
            "cos_random": _mean([x for r in rows for x in r[2]]),
        }
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    return Negatives(table, metrics)


def _mean(xs: Sequence[float]) -> float | None:
    return round(float(np.mean(xs)), 4) if len(xs) else None


def write_negatives(table: pd.DataFrame, path: str | Path) -> None:
    """Write the negatives table with explicit list<string> columns (also when empty)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(table[c].astype(str).tolist(), pa.string()) for c in COLUMNS[:3]]
    arrays += [pa.array([list(map(str, v)) for v in table[c]], pa.list_(pa.string())) for c in COLUMNS[3:]]
    pq.write_table(pa.Table.from_arrays(arrays, names=list(COLUMNS)), path)


def read_negatives(path: str | Path) -> pd.DataFrame:
    """The table :func:`write_negatives` wrote, with plain Python lists in ``hard`` / ``random``."""
    df = read_table(path, "negatives", "the negatives stage", COLUMNS)
    for col in ("split", "user_id", "item_id"):
        df[col] = df[col].astype(str)
    for col in ("hard", "random"):
        df[col] = [[str(x) for x in v] for v in df[col]]
    return df
