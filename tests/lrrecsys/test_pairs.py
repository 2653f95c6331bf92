"""LR-Recsys pairs: the paper's per-user 80:20 split in time, and histories of the last n items strictly before the
candidate (a train pair's from the train side only), never the candidate or later."""

from __future__ import annotations

import pandas as pd
import pytest

from explainrec.core.errors import InputError, ParamError
from explainrec.core.recommender.pair_table import COLUMNS
from explainrec.lrrecsys.pairs import PairsConfig, build_pair_table, pairs_metrics, untimed_users


def interactions(n_users: int = 4, n_items: int = 12) -> pd.DataFrame:
    rows = []
    for u in range(n_users):
        for k in range(n_items):
            # shuffled timestamps per user, some ties
            ts = 1000 + ((k * 7 + u) % n_items) * 10 + (5 if k == 3 else 0)
            rows.append({"user_id": f"u{u}", "item_id": f"i{(k + u) % n_items}", "rating": float(1 + (u + k) % 5),
                         "timestamp": ts, "review": None})
    df = pd.DataFrame(rows)
    df["timestamp"] = df["timestamp"].astype("Int64")
    return df


def splits_of(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    part = df.index % 3
    return {"profile": df[part == 0], "train": df[part == 1], "test": df[part == 2]}


def time_sides_by_hand(df: pd.DataFrame, share: float = 0.8) -> dict[tuple[str, str], str]:
    """(user, item) -> train / test: each user's first round(share * n) interactions in time (then item id)."""
    out = {}
    for _, g in df.sort_values(["timestamp", "item_id"]).groupby("user_id"):
        n_train = int(share * len(g) + 0.5)
        out.update({(u, i): "train" if k < n_train else "test" for k, (u, i) in enumerate(zip(g.user_id, g.item_id))})
    return out


def test_time_split_train_histories_hold_only_earlier_train_side_items():
    df = interactions()
    side = time_sides_by_hand(df)
    when = {(u, i): t for u, i, t in zip(df["user_id"], df["item_id"], df["timestamp"])}
    pairs = build_pair_table(splits_of(df), df, PairsConfig(history=5, max_train=None, max_test=None), seed=1)
    assert PairsConfig().split == "time" and PairsConfig().time_train_share == 0.8
    # every interaction is a pair, on its side of the split (12 per user: 10 train, 2 test)
    assert sorted(zip(pairs.user_id, pairs.item_id, pairs.split)) == sorted((u, i, s) for (u, i), s in side.items())
    assert (pairs.split == "train").sum() == 40 and (pairs.split == "test").sum() == 8
    test_items_seen = 0
    for row in pairs.itertuples():
        earlier = sorted((when[(row.user_id, i)], i) for (u, i) in when
                         if u == row.user_id and when[(u, i)] < row.timestamp
                         and (row.split == "test" or side[(u, i)] == "train"))
        assert row.history == [i for _, i in earlier][-5:], row.pair_id
        if row.split == "train":
            assert all(side[(row.user_id, h)] == "train" and when[(row.user_id, h)] < row.timestamp
                       for h in row.history), row.pair_id
        else:
            test_items_seen += sum(side[(row.user_id, h)] == "test" for h in row.history)
    assert test_items_seen == 4  # a user's second test pair sees the first one's item id (4 users)


def test_time_split_shares_and_users_without_timestamps():
    df = interactions(n_users=5)
    ts = df["timestamp"].copy()
    ts[df["user_id"] == "u3"] = pd.NA  # no timestamp at all
    ts[(df["user_id"] == "u4") & (df["item_id"] == "i5")] = pd.NA  # one missing: cannot be ordered either
    df["timestamp"] = ts
    parts = splits_of(df)
    pairs = build_pair_table(parts, df, PairsConfig(history=2, max_train=None, max_test=None, time_train_share=0.5), 1)
    timed = df[df.user_id.isin(["u0", "u1", "u2"])]
    side = time_sides_by_hand(timed, 0.5)
    got = pairs[pairs.user_id.isin(["u0", "u1", "u2"])]
    assert sorted(zip(got.user_id, got.item_id, got.split)) == sorted((u, i, s) for (u, i), s in side.items())
    assert (got.split == "train").sum() == 18  # 6 of 12 per user
    profile = {u: g["item_id"].tolist() for u, g in parts["profile"].groupby("user_id")}
    for user in ("u3", "u4"):  # the split stage's train and test rows, histories from the profile split
        mine = pairs[pairs.user_id == user]
        expected = {(i, s) for s in ("train", "test") for i in parts[s][parts[s].user_id == user].item_id}
        assert set(zip(mine.item_id, mine.split)) == expected
        assert all(h == profile[user][-2:] for h in mine.history)
    assert untimed_users(df) == {"u3", "u4"}
    for bad in ({"split": "random"}, {"time_train_share": 1.0}, {"time_train_share": 0}):
        with pytest.raises(ParamError, match=next(iter(bad))):
            PairsConfig(**bad)


def test_splits_mode_history_never_holds_the_candidate_or_anything_later():
    df = interactions()
    pairs = build_pair_table(splits_of(df), df, PairsConfig(history=5, max_train=None, max_test=None, split="splits"),
                        seed=1)
    assert list(pairs.columns) == COLUMNS and len(pairs) == len(df) - len(splits_of(df)["profile"])
    when = {(u, i): t for u, i, t in zip(df["user_id"], df["item_id"], df["timestamp"])}
    for row in pairs.itertuples():
        assert len(row.history) <= 5
        assert row.item_id not in row.history
        times = [when[(row.user_id, h)] for h in row.history]
        assert all(t < row.timestamp for t in times)
        assert times == sorted(times)  # oldest first
        # the last n earlier items: nothing earlier than the candidate is skipped after the window
        earlier = sorted(t for (u, _), t in when.items() if u == row.user_id and t < row.timestamp)
        assert times == earlier[-5:]


def test_caps_are_seeded_and_ratings_required():
    df = interactions()
    cfg = PairsConfig(history=3, max_train=5, max_test=4)
    a = build_pair_table(splits_of(df), df, cfg, seed=3)
    b = build_pair_table(splits_of(df), df, cfg, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert (a["split"] == "train").sum() == 5 and (a["split"] == "test").sum() == 4
    c = build_pair_table(splits_of(df), df, cfg, seed=4)
    assert set(a["pair_id"]) != set(c["pair_id"])
    m = pairs_metrics(a, 3)
    assert m["train"]["pairs"] == 5 and m["test"]["pairs"] == 4
    bad = df.copy()
    bad.loc[1, "rating"] = None
    with pytest.raises(InputError, match="rating"):
        build_pair_table(splits_of(bad), bad, cfg, seed=3)
    with pytest.raises(ParamError, match="history"):
        PairsConfig(history=0)


def test_no_timestamps_fall_back_to_the_profile_split():
    df = interactions()
    df["timestamp"] = pd.array([None] * len(df), dtype="Int64")
    parts = splits_of(df)
    pairs = build_pair_table(parts, df, PairsConfig(history=2, max_train=None, max_test=None), seed=1)
    assert sorted(pairs.pair_id) == sorted(f"{s}:{u}:{i}" for s in ("train", "test")
                                           for u, i in zip(parts[s].user_id, parts[s].item_id))
    profile_items = {u: set(g["item_id"]) for u, g in parts["profile"].groupby("user_id")}
    for row in pairs.itertuples():
        assert len(row.history) == 2 and set(row.history) <= profile_items[row.user_id]
        assert row.item_id not in row.history
