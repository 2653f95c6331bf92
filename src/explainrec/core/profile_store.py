"""The profile tables the profiles stage writes and later stages read.

``<folder>/user_profiles.parquet``: user_id (string), layer (int64), profile (string)
``<folder>/item_profiles.parquet``: item_id (string), layer (int64), profile (string)

Every layer is kept (0 = P_init, 1..n = P_agg updates), so an ablation can
pick one: ``layer=-1`` means each node's last layer.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from explainrec.core.io import read_table

USER_FILE = "user_profiles.parquet"
ITEM_FILE = "item_profiles.parquet"
FILES = {"user": (USER_FILE, "user_id"), "item": (ITEM_FILE, "item_id")}


def read_profile_table(folder: str | Path, kind: str) -> pd.DataFrame:
    """The whole table of ``kind`` ('user' or 'item'), all layers."""
    name, id_col = FILES[kind]
    return read_table(Path(folder) / name, kind + " profiles", "the profiles stage", (id_col, "layer", "profile"))


def select_layer(table: pd.DataFrame, id_col: str, layer: int) -> dict[str, str]:
    """``{id: profile}`` at ``layer`` (-1: each node's highest layer)."""
    if layer == -1:
        rows = table.sort_values("layer").groupby(id_col, observed=True).tail(1)
    else:
        rows = table[table["layer"] == layer]
    return dict(zip(rows[id_col].astype(str), rows["profile"].astype(str)))


def load_profiles(folder: str | Path, user_layer: int = -1, item_layer: int = -1) -> tuple[dict[str, str], dict[str, str]]:
    """User and item profiles at the chosen layers: ``({user_id: text}, {item_id: text})``."""
    users = select_layer(read_profile_table(folder, "user"), "user_id", user_layer)
    items = select_layer(read_profile_table(folder, "item"), "item_id", item_layer)
    return users, items


def write_profiles(users: pd.DataFrame, items: pd.DataFrame, folder: str | Path) -> None:
    """The profiles stage's two tables, every layer, into ``folder``."""
    from explainrec.core.io import write_parquet

    write_parquet(users, Path(folder) / USER_FILE)
    write_parquet(items, Path(folder) / ITEM_FILE)
