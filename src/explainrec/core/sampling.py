"""Seeded caps on how many pairs a stage works on: the same rows for the same seed and split,
whatever else is in the run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explainrec.core.seeding import stable_rng


def cap_pairs(df: pd.DataFrame, max_n: int | None, seed: int, split: str) -> pd.DataFrame:
    """At most ``max_n`` rows of ``df``, a seeded sample kept in the original order."""
    if max_n is None or len(df) <= max_n:
        return df.reset_index(drop=True)
    keep = np.sort(stable_rng(seed, "cap", split).choice(len(df), size=max_n, replace=False))
    return df.iloc[keep].reset_index(drop=True)
