from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import InputError, ParamError
from explainrec.data.schema import conform
from explainrec.data.split import SplitConfig, assign_splits, split_counts, split_interactions


def interactions(n_users: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        n = int(rng.integers(5, 40))
        for i in rng.choice(500, size=n, replace=False):
            rows.append((f"u{u}", f"i{i}", float(rng.integers(1, 6)), int(rng.integers(0, 10**9))))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return conform(df, "interactions", "mem")


@pytest.mark.parametrize("n", range(0, 60))
def test_split_counts_sum_and_ratio(n: int) -> None:
    p, t, s = split_counts(n, (3, 1, 1))
    assert p + t + s == n
    assert abs(p - 0.6 * n) < 1 and abs(t - 0.2 * n) < 1 and abs(s - 0.2 * n) < 1


def test_split_counts_examples() -> None:
    assert split_counts(5, (3, 1, 1)) == (3, 1, 1)
    assert split_counts(6, (3, 1, 1)) == (4, 1, 1)
    assert split_counts(7, (3, 1, 1)) == (4, 2, 1)
    assert split_counts(10, (8, 1, 1)) == (8, 1, 1)


@pytest.mark.parametrize("method", ["random", "temporal"])
def test_partition_per_user(method: str) -> None:
    df = interactions()
    parts = split_interactions(df, SplitConfig(method=method), seed=3)
    joined = pd.concat(parts.values())
    assert len(joined) == len(df)
    assert not joined.duplicated(["user_id", "item_id"]).any()
    for user, group in df.groupby("user_id"):
        expected = split_counts(len(group), (3, 1, 1))
        got = tuple(int((p.user_id == user).sum()) for p in parts.values())
        assert got == expected


def test_temporal_orders_by_time() -> None:
    df = interactions()
    parts = split_interactions(df, SplitConfig(method="temporal"), seed=0)
    for user in df.user_id.unique():
        prof = parts["profile"][parts["profile"].user_id == user].timestamp.max()
        train = parts["train"][parts["train"].user_id == user].timestamp
        test = parts["test"][parts["test"].user_id == user].timestamp
        assert prof <= train.min() and train.max() <= test.min()


def test_random_is_seeded_and_order_independent() -> None:
    df = interactions()
    a = assign_splits(df, SplitConfig(), seed=5)
    shuffled = df.sample(frac=1.0, random_state=1)
    b = assign_splits(shuffled, SplitConfig(), seed=5).reindex(df.index)
    assert (a == b).all()
    assert not (assign_splits(df, SplitConfig(), seed=6) == a).all()


def test_temporal_needs_timestamps() -> None:
    df = interactions()
    df.loc[3, "timestamp"] = pd.NA
    with pytest.raises(InputError, match=r"x.parquet: field 'timestamp'.*random"):
        assign_splits(df, SplitConfig(method="temporal"), 0, source="x.parquet")


@pytest.mark.parametrize("ratios", [(3, 1, 0), (3, -1, 1), (3, 1), ("a", 1, 1), (3, 1, 1, 1)])
def test_ratios_must_be_three_positive(ratios: tuple) -> None:
    with pytest.raises(ParamError, match=r"param 'split.ratios': expected three positive numbers"):
        from_section(SplitConfig, {"ratios": ratios}, "split")


def test_unknown_method() -> None:
    with pytest.raises(ParamError, match="one of random, temporal, rows"):
        SplitConfig(method="leave-one-out")


def test_rows_split_is_global_and_seeded() -> None:
    """``rows``: one-row users land in any part, the sizes follow the ratios over the whole table."""
    df = pd.DataFrame({"user_id": [f"u{i}" for i in range(100)], "item_id": [f"i{i % 7}" for i in range(100)],
                       "timestamp": pd.array(range(100), dtype="Int64")})
    cfg = SplitConfig(ratios=(8, 1, 1), method="rows")
    parts = split_interactions(df, cfg, seed=1)
    assert [len(parts[s]) for s in ("profile", "train", "test")] == [80, 10, 10]
    again = split_interactions(df.sample(frac=1, random_state=0), cfg, seed=1)
    assert set(parts["test"].user_id) == set(again["test"].user_id)
    assert set(parts["test"].user_id) != set(split_interactions(df, cfg, seed=2)["test"].user_id)
    per_user = SplitConfig(ratios=(8, 1, 1), method="random")
    assert split_interactions(df, per_user, seed=1)["test"].empty  # what the per-user split does to one-row users
