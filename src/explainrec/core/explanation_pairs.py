"""Training and test pairs for supervised fine-tuning: profiles in, explanation out.

A pair is a (user, item) interaction of the train or test split with a target
explanation. ``targets`` says where the explanation comes from, and dvc.yaml
reads that stage's folder ``data/<targets>``:

* ``cpeg``: the contrastive-prompting explanations (``data/cpeg/explanations.parquet``,
  paper 000 §3.2). Pairs CPEG never solved (``verified`` false) are left out
  unless ``include_unverified``.
* ``reference``: the dataset's own reference explanations, as the reference stage
  writes them (``data/reference/explanations.parquet``, from the ``explanation``
  column of the splits, e.g. XRec's released sets); all count as verified.

Targets are put in shape by :func:`explainrec.core.explanation_prompt.normalise_target`
(``target_form``: one opening, as written or in Fig. 4's form). With an items
table (the filter stage's ``items.parquet``) each prompt names the item: its
title and, when the dataset has them, its categories.

Pairs whose user or item has no profile, or whose explanation is empty, are
left out and counted in the returned statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.config import check_bool, check_choice, check_layer
from explainrec.core.errors import InputError, ParamError
from explainrec.core.explanation_prompt import RESPONSE_PREFIX, TARGET_FORMS, build_prompt, has_two_openings, normalise_target

#: where the SFT targets come from; each is a stage whose folder ``data/<name>`` holds TARGETS_FILE
TARGETS = ("cpeg", "reference")
#: the targets table both stages write and SFT reads, and the columns it reads
TARGETS_FILE = "explanations.parquet"
TARGET_COLUMNS = ("split", "user_id", "item_id", "explanation", "verified")
SPLITS = ("train", "test")
#: the columns of every pair table
PAIR_COLUMNS = ["user_id", "item_id", "user_profile", "item_profile", "prompt", "target", "reference"]



@dataclass(frozen=True)
class PairSource:
    """Which pairs the explainers learn from: the keys of params.yaml's ``sft`` section that
    SFT and XRec share (XRec learns the SFT explainer's targets)."""

    targets: str = "cpeg"  # cpeg | reference
    include_unverified: bool = True
    target_form: str = "as_written"  # as_written | fig4 (explanation_prompt.normalise_target)
    user_layer: int = -1
    item_layer: int = -1

    def __post_init__(self) -> None:
        check_choice(self.targets, "targets", TARGETS)
        check_bool(self.include_unverified, "include_unverified")
        check_choice(self.target_form, "target_form", TARGET_FORMS)
        check_layer(self.user_layer, "user_layer")
        check_layer(self.item_layer, "item_layer")

    @classmethod
    def of(cls, sft_section: dict[str, Any], where: str = "sft") -> PairSource:
        """The pair source of a whole ``sft`` section (its other keys are SFT's own)."""
        from explainrec.core.config import from_section

        keys = {f.name for f in fields(cls)}
        return from_section(cls, {k: v for k, v in (sft_section or {}).items() if k in keys}, where)

@dataclass
class SFTData:
    """Pair tables (columns :data:`PAIR_COLUMNS`) for the train and test splits.

    ``target`` is the normalised explanation the model learns (Fig. 4 form);
    ``reference`` the explanation as the source wrote it. ``targets``,
    ``include_unverified`` and ``sources`` (the file each split's targets came from)
    say how the tables were built, for :meth:`require`'s message.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)
    targets: str = "cpeg"
    include_unverified: bool = False
    sources: dict[str, Path] = field(default_factory=dict)

    def require(self, split: str) -> None:
        """Raise a one-line :class:`InputError` when ``split`` has no usable pair, with the
        reasons counted and, when CPEG verified none of them, the param that admits them."""
        if not getattr(self, split).empty:
            return
        st = self.stats
        dropped = st.get(f"{split}_left_out_unverified", 0)
        got = (f"none: {dropped} unverified, {st.get(f'{split}_left_out_no_profile', 0)} without profiles, "
               f"{st.get(f'{split}_left_out_empty_explanation', 0)} empty")
        expected = f"at least one usable {split} pair ({self.targets} targets" + (
            "" if self.targets == "reference" or self.include_unverified else ", verified only") + ", with profiles"
        if dropped:
            expected += "; the LLM verified none in CPEG: set sft.include_unverified: true or use a stronger llm"
        raise InputError(self.sources.get(split, "(targets)"), "explanation", expected + ")", got)


def read_targets(folder: str | Path, targets: str = "cpeg") -> pd.DataFrame:
    """``<folder>/explanations.parquet`` (the cpeg or the reference stage's) with its columns checked;
    reference targets must not be empty."""
    path = Path(folder) / TARGETS_FILE
    if not path.exists():
        raise InputError(path, "(file)", f"the explanations the {targets} stage writes; run `dvc repro {targets}`")
    df = pd.read_parquet(path)
    for col in TARGET_COLUMNS:
        if col not in df.columns:
            raise InputError(path, col, f"a column '{col}' ({targets} output: {', '.join(TARGET_COLUMNS)})")
    bad = sorted(set(df["split"].astype(str)) - set(SPLITS))
    if bad:
        raise InputError(path, "split", "'train' or 'test'", bad[0])
    if targets == "reference" and df.empty:
        raise InputError(path, "explanation", "reference explanations; this dataset ships none, so set "
                                              "sft.targets: cpeg", "none")
    return df


def split_targets(df: pd.DataFrame, include_unverified: bool = False) -> dict[str, pd.DataFrame]:
    """``{split: (user_id, item_id, explanation)}`` from a targets table; unverified rows dropped
    unless ``include_unverified`` (a missing ``verified`` counts as false)."""
    keep = df if include_unverified else df[df["verified"].fillna(False).astype(bool)]
    return {s: _clean(keep[keep["split"].astype(str) == s]) for s in SPLITS}


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    d = pd.DataFrame({
        "user_id": df["user_id"].astype(str).to_numpy(),
        "item_id": df["item_id"].astype(str).to_numpy(),
        "explanation": df["explanation"].astype("string").fillna("").to_numpy(),
    })
    return d.drop_duplicates(["user_id", "item_id"], keep="first").reset_index(drop=True)


def item_names(items: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    """``{item_id: (title, categories)}`` from an items table (schema columns item_id, title,
    categories); a column the dataset lacks, or an empty cell, gives None."""
    cols = [items[c].astype("string").to_numpy() if c in items.columns else [pd.NA] * len(items)
            for c in ("title", "categories")]
    return {str(i): (None if pd.isna(t) else t, None if pd.isna(c) else c)
            for i, t, c in zip(items["item_id"].astype(str), *cols)}


def read_item_names(path: str | Path) -> dict[str, tuple[str | None, str | None]]:
    """:func:`item_names` of the filter stage's ``items.parquet`` at ``path``."""
    from explainrec.core.io import read_table

    return item_names(read_table(path, "items", "the filter stage", ("item_id",)))


def build_pairs(targets: pd.DataFrame, users: dict[str, str], items: dict[str, str],
                names: dict[str, tuple[str | None, str | None]] | None = None,
                target_form: str = "as_written") -> tuple[pd.DataFrame, dict[str, int]]:
    """Pair table (:data:`PAIR_COLUMNS`) for ``targets`` (user_id, item_id, explanation), plus
    its counts: pairs left out for lack of a profile (``no_profile``) or an explanation
    (``empty_explanation``), targets that kept an opening of their own (``own_opening``) and
    targets with two openings (``two_openings``, 0 unless a source text has two). ``names`` (:func:`read_item_names`) puts each item's
    title and categories in its prompt; None gives Fig. 4's prompt."""
    rows, no_profile, empty, own = [], 0, 0, 0
    for u, i, e in targets[["user_id", "item_id", "explanation"]].itertuples(index=False):
        target = normalise_target(e, target_form)
        if not target:
            empty += 1
            continue
        if u not in users or i not in items:
            no_profile += 1
            continue
        own += not target.startswith(RESPONSE_PREFIX)
        title, categories = (names or {}).get(i, (None, None))
        rows.append((u, i, users[u], items[i], build_prompt(users[u], items[i], title, categories), target,
                     " ".join(str(e).split())))
    table = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    return table, {"no_profile": no_profile, "empty_explanation": empty, "own_opening": own,
                   "two_openings": int(sum(map(has_two_openings, table["target"])))}


def load_sft_data(profiles: str | Path, targets_dir: str | Path, targets: str = "cpeg",
                  include_unverified: bool = False, user_layer: int = -1, item_layer: int = -1,
                  items: str | Path | None = None, target_form: str = "as_written") -> SFTData:
    """Read profiles and the targets table (``targets_dir``: the cpeg or the reference stage's
    folder, as ``targets`` says) and build both pair tables; ``items``, an items table whose
    titles and categories go into the prompts (None: Fig. 4's prompt, profiles only)."""
    from explainrec.core.profile_store import load_profiles

    if targets not in TARGETS:
        raise ParamError("sft.targets", f"one of {', '.join(TARGETS)}", targets)
    raw = read_targets(targets_dir, targets)
    by_split = split_targets(raw, include_unverified)
    sources = {s: Path(targets_dir) / TARGETS_FILE for s in SPLITS}
    unverified = ~raw["verified"].fillna(False).astype(bool)
    stats: dict[str, Any] = {"target_rows": int(len(raw))}
    for s in SPLITS:
        stats[f"{s}_left_out_unverified"] = 0 if include_unverified else int(
            (unverified & (raw["split"].astype(str) == s)).sum())
    stats["unverified_dropped"] = sum(stats[f"{s}_left_out_unverified"] for s in SPLITS)
    users, item_profiles = load_profiles(profiles, user_layer, item_layer)
    names = read_item_names(items) if items is not None else None
    stats.update({"target_form": target_form, "item_names": names is not None})
    tables = {}
    for s in SPLITS:
        tables[s], counts = build_pairs(by_split[s], users, item_profiles, names, target_form)
        stats.update({f"{s}_pairs": int(len(tables[s])),
                      **{f"{s}_left_out_{k}": counts[k] for k in ("no_profile", "empty_explanation")},
                      f"{s}_targets_own_opening": counts["own_opening"], f"{s}_targets_two_openings": counts["two_openings"]})
    data = SFTData(tables["train"], tables["test"], stats, targets, include_unverified, sources)
    data.require("train")
    return data
