from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import InputError, ParamError
from explainrec.data.kcore import FilterConfig, filter_dataset, kcore, sample_users, top_items
from explainrec.data.schema import Dataset, conform


def random_interactions(n_users: int, n_items: int, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # skewed popularity so that k-core has something to remove, iteratively
    items = rng.zipf(1.6, size=n) % n_items
    df = pd.DataFrame({"user_id": rng.integers(0, n_users, n).astype(str), "item_id": items.astype(str),
                       "rating": rng.integers(1, 6, n).astype(float), "timestamp": rng.integers(0, 10**9, n)})
    return conform(df.drop_duplicates(["user_id", "item_id"]), "interactions", "mem")


def make_dataset(inter: pd.DataFrame) -> Dataset:
    items = conform(pd.DataFrame({"item_id": inter["item_id"].unique()}), "items", "mem")
    users = conform(pd.DataFrame({"user_id": inter["user_id"].unique()}), "users", "mem")
    return Dataset(inter, items, users)


@pytest.mark.parametrize("k_user,k_item", [(1, 1), (3, 2), (5, 5), (10, 3)])
def test_kcore_invariant_and_maximal(k_user: int, k_item: int) -> None:
    df = random_interactions(300, 200, 6000)
    out = kcore(df, k_user, k_item)
    assert out.groupby("user_id").size().min() >= k_user
    assert out.groupby("item_id").size().min() >= k_item
    # maximal: every removed row belongs to a user or an item that could not satisfy the core
    kept = set(zip(out.user_id, out.item_id))
    removed = df[[(u, i) not in kept for u, i in zip(df.user_id, df.item_id)]]
    assert removed.empty or not (removed.user_id.isin(out.user_id) & removed.item_id.isin(out.item_id)).any()


def test_kcore_is_iterative() -> None:
    # u3 has 2 items; removing it drops item c below 2, which then drops u2 below 2
    df = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u4", "u4"],
                       "item_id": ["a", "b", "a", "c", "c", "d", "a", "b"]})
    out = kcore(df, 2, 2)
    assert set(out.user_id) == {"u1", "u4"} and set(out.item_id) == {"a", "b"}


def test_caps_are_seeded_and_keep_core() -> None:
    ds = make_dataset(random_interactions(400, 150, 12000, seed=1))
    cfg = FilterConfig(user_core=5, item_core=5, max_users=40, max_items=60)
    a, b = filter_dataset(ds, cfg, seed=7), filter_dataset(ds, cfg, seed=7)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    assert a.interactions.user_id.nunique() <= 40 and a.interactions.item_id.nunique() <= 60
    assert a.interactions.groupby("user_id").size().min() >= 5
    assert a.interactions.groupby("item_id").size().min() >= 5
    assert set(a.items.item_id) == set(a.interactions.item_id)
    assert set(a.users.user_id) == set(a.interactions.user_id)
    c = filter_dataset(ds, cfg, seed=8)
    assert set(c.interactions.user_id) != set(a.interactions.user_id)


def test_sample_and_top_items() -> None:
    df = random_interactions(50, 30, 800)
    assert sample_users(df, 10, 0).user_id.nunique() == 10
    counts = df.item_id.value_counts()
    kept = set(top_items(df, 5).item_id)
    assert min(counts[list(kept)]) >= max(counts.drop(list(kept)))


def test_nothing_left_is_a_clear_error() -> None:
    ds = make_dataset(random_interactions(20, 20, 60))
    with pytest.raises(InputError, match=r"data/raw/interactions.parquet: field 'interactions'.*lower filter"):
        filter_dataset(ds, FilterConfig(user_core=50, item_core=50), 0, source="data/raw/interactions.parquet")


@pytest.mark.parametrize("kwargs", [{"user_core": 0}, {"item_core": -1}, {"max_users": 0}, {"max_items": 2.5}])
def test_bad_filter_params(kwargs: dict) -> None:
    with pytest.raises(ParamError, match=r"param 'filter\."):
        from_section(FilterConfig, kwargs, "filter")


def test_conform_fills_absent_nullable_columns() -> None:
    df = conform(pd.DataFrame({"user_id": ["u"], "item_id": ["i"]}), "interactions", "mem")
    assert df["rating"].dtype == "float64" and df["rating"].isna().all()
    assert df["timestamp"].dtype == "Int64" and df["review"].dtype == "string" and df["review"].isna().all()
