"""Descriptive statistics of an interaction table, for the metrics files."""

from __future__ import annotations

import pandas as pd


def interaction_stats(df: pd.DataFrame) -> dict[str, float | int]:
    users = int(df["user_id"].nunique())
    items = int(df["item_id"].nunique())
    n = int(len(df))
    per_user = df.groupby("user_id", observed=True).size() if n else pd.Series(dtype=float)
    return {
        "interactions": n,
        "users": users,
        "items": items,
        "density": round(n / (users * items), 6) if users and items else 0.0,
        "interactions_per_user_mean": round(float(per_user.mean()), 3) if n else 0.0,
        "interactions_per_user_min": int(per_user.min()) if n else 0,
        "with_review_share": round(float(df["review"].notna().mean()), 4) if n else 0.0,
        "rating_mean": round(float(df["rating"].mean()), 4) if n and df["rating"].notna().any() else None,
    }
