"""XRec's prompts, zero-shot users and sparsity buckets."""

from __future__ import annotations

import pandas as pd
import pytest

from explainrec.core.errors import ParamError
from explainrec.xrec.data import ExplainerConfig, assign_buckets, resolve_targets, xrec_request
from explainrec.xrec.gnn_tables import SparsityConfig, zero_shot_users
from explainrec.xrec.inject import EXPLAIN_TOKEN, ITEM_TOKEN, USER_TOKEN


def test_fig2_prompt_with_and_without_profiles():
    r = xrec_request(ExplainerConfig(), "movielens", "Heat (1995)", "likes crime films " * 40, "a heist movie")
    (_, system), (_, user) = r.messages
    assert system == "Explain why the user would enjoy the movie within 50 words."
    assert user.startswith(f"user record: {USER_TOKEN} movie record: {ITEM_TOKEN} movie name: Heat (1995) user profile:")
    assert user.endswith(f"movie profile: a heist movie {EXPLAIN_TOKEN}")
    assert len(user.split("user profile: ")[1].split(" movie profile")[0]) <= 240 + 3  # cut, with "..."
    bare = xrec_request(ExplainerConfig(profiles=False), "amazon", None, "p", "q")
    assert bare.messages[1][1] == (f"user record: {USER_TOKEN} product record: {ITEM_TOKEN} product name: unknown "
                                   f"{EXPLAIN_TOKEN}")
    assert r.params.max_new_tokens == 128


def test_zero_shot_users_are_a_seeded_share():
    users = [f"u{k}" for k in range(50)]
    a = zero_shot_users(users, 0.1, 42)
    assert len(a) == 5 and a == zero_shot_users(list(reversed(users)), 0.1, 42)
    assert a != zero_shot_users(users, 0.1, 43)
    assert zero_shot_users(users, 0.0, 42) == [] and len(zero_shot_users(users[:3], 0.01, 1)) == 1


def _bucket_table() -> tuple[pd.DataFrame, dict[str, int]]:
    """12 seen users (u11 the rarest in train, u0 the most frequent) with 1, 2 or 4 test pairs, the three most
    frequent with 4 each, and a zero-shot user with 2."""
    n_pairs = [4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 2]
    rows = [(f"u{k}", f"i{j}") for k, n in enumerate(n_pairs) for j in range(n)] + [("z", "i0"), ("z", "i1")]
    test = pd.DataFrame(rows, columns=["user_id", "item_id"]).sample(frac=1.0, random_state=0)  # order must not matter
    return test, {f"u{k}": 100 - k for k in range(12)}


def test_buckets_are_equal_sized_by_users_and_never_split_a_user():
    test, counts = _bucket_table()
    b = assign_buckets(test, counts, {"z"}, 4)
    assert b[test["user_id"] == "z"].tolist() == ["zero_shot", "zero_shot"]
    seen = test.assign(bucket=b)[test["user_id"] != "z"]
    per_user = seen.groupby("user_id")["bucket"].nunique()
    assert (per_user == 1).all()  # a user's pairs share one bucket
    users = seen.groupby("bucket")["user_id"].nunique()
    assert users.to_dict() == {"tst1": 3, "tst2": 3, "tst3": 3, "tst4": 3}  # equal numbers of users ...
    assert seen["bucket"].value_counts().sort_index().tolist() == [4, 3, 3, 12]  # ... not of pairs
    by_user = seen.groupby("user_id")["bucket"].first()
    assert by_user[["u11", "u10", "u9"]].tolist() == ["tst1"] * 3 and by_user[["u2", "u1", "u0"]].tolist() == ["tst4"] * 3
    # buckets by pairs: about 22 / 4 pairs each (a user goes where the middle of its pairs falls), users whole
    p = assign_buckets(test, counts, {"z"}, 4, by="pairs")
    seen_p = test.assign(bucket=p)[test["user_id"] != "z"]
    assert (seen_p.groupby("user_id")["bucket"].nunique() == 1).all()
    assert seen_p["bucket"].value_counts().sort_index().tolist() == [5, 5, 8, 4]
    assert seen_p.groupby("bucket")["user_id"].nunique().tolist() == [4, 5, 2, 1]
    rank = {f"u{k}": 11 - k for k in range(12)}  # 0 the rarest
    order = seen_p.assign(r=seen_p["user_id"].map(rank)).groupby("bucket")["r"].agg(["min", "max"])
    assert (order["max"].to_numpy()[:-1] < order["min"].to_numpy()[1:]).all()  # consecutive runs of the ranking
    # fewer users than buckets: one user per bucket, tst1 the rarest
    two = test[test["user_id"].isin(["u3", "u4"])]
    assert assign_buckets(two, counts, set(), 5).groupby(two["user_id"]).first().to_dict() == {"u3": "tst2", "u4": "tst1"}
    with pytest.raises(ParamError, match="buckets_by"):
        assign_buckets(test, counts, set(), 4, by="items")


def test_targets_resolution():
    assert resolve_targets("auto", "cpeg", True) == "rewrite"
    assert resolve_targets("auto", "reference", False) == "reference"
    assert resolve_targets("cpeg", "cpeg", True) == "cpeg"


@pytest.mark.parametrize("cls,field,value", [(ExplainerConfig, "targets", "reviews"), (ExplainerConfig, "domain", "car"),
                                             (ExplainerConfig, "inject_all_layers", 1),
                                             (SparsityConfig, "zero_shot_users", 1.0), (SparsityConfig, "buckets", 0),
                                             (SparsityConfig, "zero_shot", "unseen"),
                                             (SparsityConfig, "buckets_by", "items")])
def test_bad_values_name_the_field(cls, field, value):
    with pytest.raises(ParamError) as e:
        cls(**{field: value})
    assert e.value.param == field
