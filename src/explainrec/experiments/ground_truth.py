"""The three ground-truth steps as the stages run them: CPEG per (k, m), XRec's rewrite, the judge.

All three work on the same pairs (:func:`compared_pairs`): a seeded sample of
``max_pairs`` test pairs of the negatives stage. Each function reads the earlier
stages' folders, calls the LLM through :class:`explainrec.llm.LLM` (cached), writes
its table into ``out`` (a temporary folder: the stage renames it into place) and
returns its metrics. The comparison itself lives in
:mod:`explainrec.evaluation.ground_truth`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.config import check_bool, check_int, from_section
from explainrec.core.errors import ParamError
from explainrec.evaluation.ground_truth import KM

CPEG_FILE = "explanations.parquet"
REWRITE_FILE = "rewrites.parquet"
CHOICES_FILE = "choices.parquet"


@dataclass(frozen=True)
class GroundTruthConfig:
    """The ``ground_truth`` section of params.yaml.

    ``max_pairs``: seeded sample of the test pairs (None: all). ``include_unverified``:
    CPEG explanations the model never verified compete too. ``rewrite_max_new_tokens``:
    room for XRec's rewrite. ``variants``: name -> ``{k, m}``.
    """

    max_pairs: int | None = 6
    include_unverified: bool = True
    rewrite_max_new_tokens: int = 80
    variants: Mapping[str, KM] = field(default_factory=lambda: {
        name: {"k": k, "m": m} for name, k, m in (("k0_m7", 0, 7), ("k2_m5", 2, 5), ("k5_m2", 5, 2))})

    def __post_init__(self) -> None:
        check_int(self.max_pairs, "max_pairs", none_ok=True, expected="a positive integer, or null for every test pair")
        check_bool(self.include_unverified, "include_unverified")
        check_int(self.rewrite_max_new_tokens, "rewrite_max_new_tokens")
        if not isinstance(self.variants, Mapping) or not self.variants:
            raise ParamError("variants", "a mapping of names to {k, m}", self.variants)
        object.__setattr__(self, "variants", {
            name: d if isinstance(d, KM) else from_section(KM, d, f"variants.{name}", name=str(name))
            for name, d in self.variants.items()})

    def variant(self, name: str) -> KM:
        if name not in self.variants:
            raise ParamError("ground_truth.variants", f"an entry '{name}'", sorted(self.variants))
        return self.variants[name]


def compared_pairs(negatives: str | Path, max_pairs: int | None, seed: int) -> pd.DataFrame:
    """The pairs every step compares (``user_id, item_id``), from the negatives stage's folder."""
    from explainrec.cpeg.negatives import FILE, read_negatives
    from explainrec.evaluation.ground_truth import select_pairs

    return select_pairs(read_negatives(Path(negatives) / FILE), max_pairs, seed)


def _split_rows(splits: str | Path) -> pd.DataFrame:
    from explainrec.core.io import read_table

    return pd.concat([read_table(Path(splits) / f"{s}.parquet", s + " split") for s in ("train", "test")],
                     ignore_index=True)


def split_reviews(splits: str | Path) -> dict[tuple[str, str], str | None]:
    """``(user_id, item_id) -> review`` over the train and test splits; empty when the data has no reviews."""
    df = _split_rows(splits)
    if "review" not in df.columns:
        return {}
    return {(str(u), str(i)): (None if pd.isna(r) else str(r)) for u, i, r in zip(df.user_id, df.item_id, df.review)}


def run_cpeg_variant(km: KM, pairs: pd.DataFrame, splits: str | Path, filtered: str | Path, profiles: str | Path,
                     encoder: str | Path, llm: Any, negatives: Any, cpeg: Any, seed: int,
                     out: str | Path) -> dict[str, Any]:
    """CPEG with ``km.k`` hard and ``km.m`` random negatives on ``pairs``.

    Negatives are mined as the negatives stage mines them: ``negatives`` is its
    :class:`~explainrec.cpeg.negatives.NegativeConfig` (the profile layer it encodes; its
    k, m and caps give way to the variant's and the sampled pairs), with the sentence encoder
    in ``encoder``. ``cpeg`` is the :class:`~explainrec.cpeg.loop.CPEGConfig` of the cpeg
    stage. With the negatives stage's (k, m) the prompts are the cpeg stage's, so they come
    from the response cache. Writes ``out/explanations.parquet``.
    """
    from explainrec.core.encoder import load_encoder
    from explainrec.core.io import read_table
    from explainrec.core.profile_store import load_profiles
    from explainrec.cpeg.loop import run_cpeg, write_explanations
    from explainrec.cpeg.negatives import sample_negatives

    where = f"ground_truth.variants.{km.name}"
    interactions = read_table(Path(filtered) / "interactions.parquet", "interactions")
    layer = negatives.profile_layer
    users, items = load_profiles(profiles, user_layer=layer, item_layer=layer)
    mined = sample_negatives({"test": pairs}, interactions, users, items, load_encoder(encoder),
                             replace(negatives, k=km.k, m=km.m, max_train=None, max_test=None), seed, where=where)
    item_table = read_table(Path(filtered) / "items.parquet", "items")
    users, item_profiles = load_profiles(profiles, user_layer=cpeg.profile_layer, item_layer=cpeg.profile_layer)
    result = run_cpeg(mined.table, _split_rows(splits), item_table, users, item_profiles, llm, cpeg, source=where)
    write_explanations(result.table, Path(out) / CPEG_FILE)
    notice = {"choice_notice": result.metrics["choice_notice"]} if "choice_notice" in result.metrics else {}
    return {"variant": km.name, "k": km.k, "m": km.m, "choice": result.metrics["choice"], **notice,
            **result.metrics["test"],
            "negatives": mined.metrics["test"], "llm": llm.stats.as_metrics()}


def run_rewrite(pairs: pd.DataFrame, reviews: Mapping[tuple[str, str], str | None], llm_path: str | Path,
                max_new_tokens: int, out: str | Path) -> dict[str, Any]:
    """XRec's ground truth (paper 001 Eq. 14) for the ``pairs`` that have a review; writes
    ``out/rewrites.parquet`` (empty for a dataset without reviews, and then no LLM is loaded)."""
    from explainrec.core.rewrite import rewrite_reviews
    from explainrec.llm import open_llm

    with_review = sum(1 for u, i in zip(pairs.user_id, pairs.item_id) if (reviews.get((u, i)) or "").strip())
    llm = open_llm(llm_path, desc="gt xrec rewrite") if with_review else None
    table = rewrite_reviews(llm, pairs, reviews, max_new_tokens)
    table.to_parquet(Path(out) / REWRITE_FILE, index=False)
    result: dict[str, Any] = {"pairs": len(pairs), "with_review": with_review, "rewritten": len(table),
                              "llm": llm.stats.as_metrics() if llm else None}
    if not with_review:
        result["note"] = "the dataset has no reviews for these pairs: no review or XRec candidates"
    return result


def run_judge(pairs: pd.DataFrame, reviews: Mapping[tuple[str, str], str | None], rewrite_dir: str | Path,
              cpeg_dir: str | Path, params: GroundTruthConfig, profiles: str | Path, judge_path: str | Path, seed: int,
              out: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The judge's pick among the review, XRec's rewrite and every CPEG variant, twice (order
    reversed). Writes ``out/choices.parquet``; returns the metrics and the win-rate plot rows."""
    from explainrec.core.io import read_table
    from explainrec.core.profile_store import load_profiles
    from explainrec.evaluation.ground_truth import REVIEW, XREC, candidate_sets, judge
    from explainrec.llm import open_llm

    keys = list(zip(pairs.user_id, pairs.item_id))
    sources = {REVIEW: pd.DataFrame({"user_id": [u for u, _ in keys], "item_id": [i for _, i in keys],
                                     "explanation": [reviews.get(k) for k in keys]}),
               XREC: read_table(Path(rewrite_dir) / REWRITE_FILE, "XRec rewrites", "the gt_rewrite stage",
                                ("user_id", "item_id", "explanation"))}
    verified = {}
    for name in params.variants:
        table = read_table(Path(cpeg_dir) / name / CPEG_FILE, f"CPEG explanations ({name})", f"gt_cpeg@{name}",
                           ("user_id", "item_id", "explanation", "verified"))
        verified[f"cpeg_{name}"] = round(float(table["verified"].mean()), 4) if len(table) else None
        sources[f"cpeg_{name}"] = table if params.include_unverified else table[table["verified"]]
    users, items = load_profiles(profiles)
    llm = open_llm(judge_path, desc="gt judge")
    choices, result = judge(llm, candidate_sets(pairs, sources), users, items, seed)
    choices.to_parquet(Path(out) / CHOICES_FILE, index=False)
    for name, share in verified.items():
        result["sources"].setdefault(name, {"candidate_in": 0, "wins": 0, "win_rate": None})["verified_share"] = share
    metrics = {"pairs": len(pairs), "include_unverified": params.include_unverified, **result,
               "judge": llm.identity, "llm": llm.stats.as_metrics()}
    plot = pd.DataFrame([{"source": s, "win_rate": v["win_rate"]} for s, v in result["sources"].items()
                         if v["win_rate"] is not None], columns=["source", "win_rate"])
    return metrics, plot
