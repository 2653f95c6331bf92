"""The pairs table (``pairs.parquet``) the lrrecsys_pairs stage writes and the LR-Recsys and RecPIE
stages read: one row per (user, item) interaction with its rating, time, split and the user's
history of earlier items."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = ["pair_id", "split", "user_id", "item_id", "rating", "timestamp", "history"]
FILE = "pairs.parquet"


def read_pairs(folder: str | Path) -> pd.DataFrame:
    """The lrrecsys_pairs stage's table, with ``history`` as lists of item ids."""
    from explainrec.core.io import read_table

    df = read_table(Path(folder) / FILE, "LR-Recsys pairs", "the lrrecsys_pairs stage", tuple(COLUMNS))
    df["history"] = [list(map(str, h)) for h in df["history"]]
    return df
