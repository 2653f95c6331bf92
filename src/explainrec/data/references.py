"""The dataset's own reference explanations as a targets table (the ``reference`` stage).

Tables with precomputed profiles (XRec's released sets, for example) carry a
reference explanation per pair. With ``sft.targets: reference`` the explainer
learns those instead of CPEG's, and dvc.yaml then reads this stage's folder
instead of the cpeg stage's, so no CPEG runs for it. The table has the columns
of the CPEG table that SFT reads; every reference counts as verified. A dataset
without an ``explanation`` column gives an empty table, and SFT says so if it
is asked to learn from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.explanation_pairs import TARGET_COLUMNS
from explainrec.core.io import read_table

SPLITS = ("train", "test")


def reference_table(splits: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The non-empty reference explanations of the train and test splits, and their counts."""
    parts, stats = [], {}
    for s in SPLITS:
        df = read_table(Path(splits) / f"{s}.parquet", s + " split")
        text = (df["explanation"] if "explanation" in df.columns else pd.Series("", index=df.index))
        text = text.astype("string").fillna("").str.strip()
        keep = text != ""
        parts.append(pd.DataFrame({"split": s, "user_id": df.loc[keep, "user_id"].astype(str).to_numpy(),
                                   "item_id": df.loc[keep, "item_id"].astype(str).to_numpy(),
                                   "explanation": text[keep].astype(str).to_numpy(), "verified": True},
                                  columns=list(TARGET_COLUMNS)))
        stats[s] = {"pairs": int(len(df)), "with_reference": int(keep.sum())}
    table = pd.concat(parts, ignore_index=True).astype({"split": "string", "user_id": "string", "item_id": "string",
                                                        "explanation": "string", "verified": "bool"})
    return table, stats
