from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import InputError, ParamError
from explainrec.data.schema import conform
from explainrec.llm import LLM, ChatRequest, Completion
from explainrec.profiles.pghis import NO_INFORMATION, ProfileConfig, build_profiles, sample_neighbours
from explainrec.profiles.prompts import P_AGG_USER, P_INIT_ITEM, P_INIT_USER


class RecordingBackend:
    """A stand-in LLM: answers 'profile-<hash of the prompt>' and records every prompt."""

    identity = "test:recording"
    preferred_batch = 4

    def __init__(self) -> None:
        self.seen: list[ChatRequest] = []

    def generate(self, batch: list[ChatRequest]) -> list[Completion]:
        self.seen.extend(batch)
        return [Completion(f"profile-{hashlib.sha256(r.messages[-1][1].encode()).hexdigest()[:8]}", 10, 3) for r in batch]


def tables(with_metadata: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    profile = pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u2", "u3"],
        "item_id": ["i1", "i2", "i2", "i3", "i1"],
        "rating": [5.0, 2.0, 4.0, 3.0, 1.0],
        "timestamp": [1, 2, 3, 4, 5],
        "review": ["loved the strings", None, "great tone", "meh", "broke fast"],
    })
    held_out = pd.DataFrame({  # train/test interactions: must never reach a profile prompt
        "user_id": ["u1", "u3"], "item_id": ["i4", "i4"], "rating": [5.0, 5.0], "timestamp": [9, 9],
        "review": ["SECRET-TEST-REVIEW", "SECRET-TRAIN-REVIEW"],
    })
    items = pd.DataFrame({"item_id": ["i1", "i2", "i3", "i4"],
                          "title": ["Guitar Strings", "Capo", "Tuner", "SECRET-HELD-OUT-TITLE"] if with_metadata else [None] * 4,
                          "categories": ["Strings", "Accessories", "Tools", "Pedals"] if with_metadata else [None] * 4})
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3"]})
    return (conform(profile, "interactions", "p"), conform(held_out, "interactions", "h"),
            conform(items, "items", "i"), conform(users, "users", "u"))


def run(cfg: ProfileConfig, with_metadata: bool = True, seed: int = 0):
    profile, _, items, users = tables(with_metadata)
    backend = RecordingBackend()
    result = build_profiles(profile, items, users, LLM(backend, None, progress=False), cfg, seed)
    return result, backend


def test_layers_are_all_kept_and_prompts_are_the_papers() -> None:
    result, backend = run(ProfileConfig(layers=2, neighbors=5))
    assert sorted(result.users.layer.unique()) == [0, 1, 2]
    assert set(result.users[result.users.layer == 2].user_id) == {"u1", "u2", "u3"}
    assert set(result.items[result.items.layer == 0].item_id) == {"i1", "i2", "i3", "i4"}
    systems = [r.messages[0][1] for r in backend.seen]
    assert systems.count(P_INIT_USER) == 3 and systems.count(P_INIT_ITEM) == 4
    assert systems.count(P_AGG_USER) == 2 * 3
    assert result.stats["layers"][1]["user_calls"] == 3


def test_only_profile_split_is_read() -> None:
    result, backend = run(ProfileConfig(layers=2))
    users_prompts = [r.messages[-1][1] for r in backend.seen if r.messages[0][1] in (P_INIT_USER, P_AGG_USER)]
    assert all("SECRET" not in p for p in users_prompts)
    # u1's history is i1 and i2 (profile split), never i4 (held out)
    u1 = next(p for p in users_prompts if "loved the strings" in p)
    assert "Guitar Strings" in u1 and "Capo" in u1 and "i4" not in u1
    # i4 has interactions only outside the profile split: no neighbours, so it keeps its L0 profile
    i4 = result.items[result.items.item_id == "i4"].sort_values("layer").profile.tolist()
    assert i4[0] == i4[1] == i4[2]


def test_layer_update_uses_previous_layer_neighbour_profiles() -> None:
    result, backend = run(ProfileConfig(layers=1, neighbors=5))
    l0_items = dict(zip(result.items[result.items.layer == 0].item_id, result.items[result.items.layer == 0].profile))
    l0_users = dict(zip(result.users[result.users.layer == 0].user_id, result.users[result.users.layer == 0].profile))
    agg = [r.messages[-1][1] for r in backend.seen if r.messages[0][1] == P_AGG_USER]
    u1 = next(p for p in agg if p.startswith(f"Current user profile: {l0_users['u1']}"))
    assert l0_items["i1"] in u1 and l0_items["i2"] in u1 and l0_items["i3"] not in u1


def test_items_without_metadata_use_their_profile_split_reviews() -> None:
    result, backend = run(ProfileConfig(layers=0), with_metadata=False)
    item_prompts = [r.messages[-1][1] for r in backend.seen if r.messages[0][1] == P_INIT_ITEM]
    assert any("loved the strings" in p and "broke fast" in p for p in item_prompts)
    assert all("SECRET" not in p for p in item_prompts)
    # i4 has no metadata and no profile-split review: no LLM call, a fixed text
    assert result.items.set_index("item_id").loc["i4", "profile"] == NO_INFORMATION
    assert result.stats["items_without_information"] == 1


def test_neighbour_sampling_is_stable_per_node_and_layer() -> None:
    pool = [f"i{k}" for k in range(30)]
    a = sample_neighbours(7, "user", "u1", 1, pool, 5)
    assert a == sample_neighbours(7, "user", "u1", 1, list(reversed(pool)), 5)
    assert len(a) == 5 and set(a) <= set(pool)
    assert a != sample_neighbours(7, "user", "u1", 2, pool, 5)
    assert a != sample_neighbours(8, "user", "u1", 1, pool, 5)
    assert sample_neighbours(7, "user", "u1", 1, pool[:3], 5) == pool[:3]


def test_one_changed_node_does_not_reshuffle_others() -> None:
    first, _ = run(ProfileConfig(layers=1, neighbors=1), seed=3)
    profile, _, items, users = tables()
    extra = conform(pd.DataFrame({"user_id": ["u2"], "item_id": ["i1"], "rating": [5.0], "timestamp": [6],
                                  "review": ["new"]}), "interactions", "x")
    backend = RecordingBackend()
    second = build_profiles(pd.concat([profile, extra], ignore_index=True), items, users,
                            LLM(backend, None, progress=False), ProfileConfig(layers=1, neighbors=1), 3)
    u1_before = first.users.query("user_id == 'u1'").profile.tolist()
    u1_after = second.users.query("user_id == 'u1'").profile.tolist()
    # u1's history and the L0 profiles of its neighbours (items with metadata) did not change,
    # and its neighbour sample is seeded by node and layer: u1 is unchanged at every layer
    assert u1_before == u1_after
    # u2 got a new interaction: its profile changed
    assert first.users.query("user_id == 'u2'").profile.tolist() != second.users.query("user_id == 'u2'").profile.tolist()


def test_passthrough_uses_precomputed_profiles_without_llm() -> None:
    profile, _, items, users = tables()
    items = items.assign(profile=["p1", "p2", "p3", "p4"])
    users = users.assign(profile=["a", "b", "c"])
    result = build_profiles(profile, items, users, None, ProfileConfig(passthrough=True), 0)
    assert result.users.profile.tolist() == ["a", "b", "c"] and set(result.items.layer) == {0}
    with pytest.raises(InputError, match="users.parquet: field 'profile'"):
        build_profiles(profile, items, users.drop(columns="profile"), None, ProfileConfig(passthrough=True), 0)


@pytest.mark.parametrize("kwargs", [{"layers": -1}, {"neighbors": 0}, {"layers": 1.5}, {"passthrough": "yes"}])
def test_bad_params(kwargs: dict) -> None:
    with pytest.raises(ParamError, match=r"param 'profiles\."):
        from_section(ProfileConfig, kwargs, "profiles")
