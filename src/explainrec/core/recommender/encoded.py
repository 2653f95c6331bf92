"""Pairs as the recommender's inputs: users and items indexed over all pairs, histories
left-padded, the two explanation embeddings of each pair, split into train and test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from explainrec.core.recommender.model import Inputs


@dataclass
class Encoded:
    """The pairs as model inputs, split into train and test."""

    train: Inputs
    test: Inputs
    train_ratings: np.ndarray
    test_ratings: np.ndarray
    train_ids: list[str]
    test_ids: list[str]
    n_users: int
    n_items: int


def encode_pairs(pairs: pd.DataFrame, embeddings: np.ndarray, history: int) -> Encoded:
    """Index users and items over all pairs and build the inputs (``embeddings``: [n, 2, d],
    positive then negative, in the pairs' order; histories left-padded to ``history``)."""
    users = {u: i for i, u in enumerate(sorted(set(pairs["user_id"])))}
    all_items = set(pairs["item_id"]) | {i for h in pairs["history"] for i in h}
    items = {it: k + 1 for k, it in enumerate(sorted(all_items))}
    hist = np.zeros((len(pairs), history), dtype=np.int64)
    for r, h in enumerate(pairs["history"]):
        ids = [items[i] for i in h][-history:]
        if ids:
            hist[r, history - len(ids):] = ids
    inputs = Inputs(torch.tensor([users[u] for u in pairs["user_id"]], dtype=torch.long),
                    torch.tensor([items[i] for i in pairs["item_id"]], dtype=torch.long),
                    torch.from_numpy(hist), torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32)))
    train = (pairs["split"] == "train").to_numpy()
    ratings = pairs["rating"].to_numpy(dtype=np.float64)
    ids = pairs["pair_id"].astype(str).to_numpy()
    return Encoded(inputs.subset(torch.from_numpy(np.flatnonzero(train))),
                   inputs.subset(torch.from_numpy(np.flatnonzero(~train))),
                   ratings[train], ratings[~train], list(ids[train]), list(ids[~train]), len(users), len(items))
