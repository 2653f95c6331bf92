"""Tests of the SFT explainer. Helpers below write the stage folders it reads
(profiles, CPEG explanations, splits) with a handful of pairs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

USERS = {f"u{k}": f"User {k} enjoys {g} films and dislikes slow dramas." for k, g in
         enumerate(["space opera", "jazz documentary", "western", "horror"])}
ITEMS = {f"i{k}": f"Item {k} is a {g} film for fans of the genre." for k, g in
         enumerate(["space opera", "jazz documentary", "western", "horror", "comedy"])}


def write_profiles(folder: Path, users: dict[str, str] = USERS, items: dict[str, str] = ITEMS) -> Path:
    """Two layers per node: layer 0 'draft ...', layer 1 the text given."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, table in (("user", users), ("item", items)):
        rows = [(k, layer, ("draft " if layer == 0 else "") + v) for k, v in table.items() for layer in (0, 1)]
        pd.DataFrame(rows, columns=[f"{kind}_id", "layer", "profile"]).to_parquet(folder / f"{kind}_profiles.parquet")
    return folder


def pair_rows(split: str, n: int, start: int = 0) -> list[dict]:
    """``n`` pairs (u_k, i_k) with an explanation that names the genre."""
    rows = []
    for k in range(start, start + n):
        u, i = f"u{k % len(USERS)}", f"i{k % len(ITEMS)}"
        genre = ITEMS[i].split(" is a ")[1].split(" film")[0]
        rows.append({"split": split, "user_id": u, "item_id": i, "explanation": f"they love {genre} films.",
                     "verified": True, "success": True, "attempts": 1, "choice": 1, "candidates": 8,
                     "parse_failures": 0})
    return rows


def write_cpeg(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(folder / "explanations.parquet")
    return folder


def write_splits(folder: Path, train: list[dict], test: list[dict], with_explanation: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("test", test)):
        df = pd.DataFrame([{"user_id": r["user_id"], "item_id": r["item_id"], "rating": 5.0, "timestamp": 1,
                            "review": None, **({"explanation": r["explanation"]} if with_explanation else {})}
                           for r in rows])
        df.to_parquet(folder / f"{name}.parquet")
    return folder


def write_items(path: Path, categories: bool = True) -> Path:
    """An items table as the filter stage writes it: a title for every item but i3, categories for some."""
    df = pd.DataFrame({"item_id": list(ITEMS), "title": [f"Film {k}" if k != 3 else None for k in range(len(ITEMS))],
                       "description": None, "categories": ["Sci-Fi", "Documentary", None, "Horror", "Comedy"]})
    (df if categories else df.drop(columns="categories")).to_parquet(path)
    return path
