"""XRec's prompts, zero-shot users and sparsity buckets."""

from __future__ import annotations

import pandas as pd
import pytest

from explainrec.errors import ParamError
from explainrec.xrec.data import ExplainerConfig, assign_buckets, resolve_targets, xrec_request
from explainrec.xrec.tokenizer import SparsityConfig, zero_shot_users
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


def test_buckets_are_equal_sized_by_train_count():
    test = pd.DataFrame({"user_id": [f"u{k}" for k in range(11)], "item_id": ["i"] * 11})
    counts = {f"u{k}": 10 - k for k in range(11)}  # u10 the rarest
    b = assign_buckets(test, counts, {"u0"}, 5)
    assert b[test["user_id"] == "u0"].tolist() == ["zero_shot"]
    sizes = b.value_counts()
    assert sorted(sizes.drop("zero_shot").tolist()) == [2, 2, 2, 2, 2]
    assert b[test["user_id"] == "u10"].item() == "tst1" and b[test["user_id"] == "u1"].item() == "tst5"
    assert assign_buckets(test.head(2), counts, set(), 5).tolist() == ["tst2", "tst1"]


def test_targets_resolution():
    assert resolve_targets("auto", "cpeg", True) == "rewrite"
    assert resolve_targets("auto", "reference", False) == "reference"
    assert resolve_targets("cpeg", "cpeg", True) == "cpeg"


@pytest.mark.parametrize("cls,field,value", [(ExplainerConfig, "targets", "reviews"), (ExplainerConfig, "domain", "car"),
                                             (ExplainerConfig, "inject_all_layers", 1),
                                             (SparsityConfig, "zero_shot_users", 1.0), (SparsityConfig, "buckets", 0)])
def test_bad_values_name_the_field(cls, field, value):
    with pytest.raises(ParamError) as e:
        cls(**{field: value})
    assert e.value.param == field
