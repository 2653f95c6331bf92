"""How sure a comparison of two explainers is: a paired bootstrap of the difference of their means.

Two explainers scored on the same test pairs (the evaluate stage's per-pair
``scores.parquet``) are paired on ``(user_id, item_id)``; the statistic is the
mean of the per-pair differences (other − baseline), and its interval is
scipy's percentile bootstrap over the pairs. The percentile method stays
finite on degenerate data (two identical explainers give ``[0, 0]``), where
BCa gives nan. With a few dozen pairs the interval is wide: read "excludes 0"
as "the sign of the difference survives resampling the test pairs", nothing
stronger (no correction for comparing several explainers and metrics).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainrec.core.errors import InputError, ParamError

#: the columns a pair is identified by in every per-pair score table
PAIR = ("user_id", "item_id")


@dataclass(frozen=True)
class CompareConfig:
    """The ``compare`` section of params.yaml: each explainer against ``baseline``.

    ``baseline``: the explainer (a key of ``explainers``) the others are compared with.
    ``resamples``: bootstrap resamples of the test pairs. ``confidence``: the
    interval's confidence level. The seed is params.yaml's top-level ``seed``.
    """

    baseline: str = "full"
    resamples: int = 2000
    confidence: float = 0.95
    #: further paired comparisons, explainer -> its control (e.g. XRec against XRec without injection)
    controls: dict[str, str] = field(default_factory=lambda: {"xrec": "xrec_wo_injection"})

    def __post_init__(self) -> None:
        from explainrec.core.config import check_int, check_number, check_path

        check_path(self.baseline, "baseline", "an explainer name (a key of explainers)", none_ok=False)
        check_int(self.resamples, "resamples", 100)
        check_number(self.confidence, "confidence", 0, 1, low_open=True, high_open=True)
        controls = {} if self.controls is None else self.controls
        if not isinstance(controls, dict) or not all(isinstance(k, str) and isinstance(v, str) and k != v
                                                     for k, v in controls.items()):
            raise ParamError("controls", "a mapping of explainer names to another explainer (its control)",
                             self.controls)
        object.__setattr__(self, "controls", dict(controls))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """The mean per-pair difference (other − baseline) of one score, and its bootstrap interval.

    ``ci_low`` / ``ci_high`` are None when fewer than two pairs hold a score on both sides
    (``diff`` too when none does); ``pairs`` counts the pairs used.
    """

    diff: float | None
    ci_low: float | None
    ci_high: float | None
    pairs: int

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        """The JSON form: flat keys, so `dvc metrics show` renders them (it drops lists)."""
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, digits)

        return {"diff": r(self.diff), "ci_low": r(self.ci_low), "ci_high": r(self.ci_high),
                "excludes_0": self.excludes_zero}


def read_scores(path: str | Path, columns: Sequence[str], writer: str = "the evaluate stage") -> pd.DataFrame:
    """A per-pair score table (``scores.parquet``) with :data:`PAIR` and ``columns``; a missing
    file or column is an :class:`~explainrec.core.errors.InputError` naming it."""
    from explainrec.core.io import read_table

    return read_table(path, "scores", writer, (*PAIR, *columns))


def pair_rows(baseline: pd.DataFrame, other: pd.DataFrame, columns: Sequence[str],
              labels: tuple[str, str] = ("baseline", "other")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``baseline`` and ``other`` restricted to :data:`PAIR` and ``columns``, rows aligned pair by pair.

    ``labels`` name the two tables in errors (their files or explainers). An
    :class:`~explainrec.core.errors.InputError` when a column is missing, a pair
    appears twice, or the two tables do not hold the same pairs.
    """
    aligned = []
    for df, label in ((baseline, labels[0]), (other, labels[1])):
        for col in (*PAIR, *columns):
            if col not in df.columns:
                raise InputError(label, col, f"a column '{col}' (a per-pair score table of the evaluate stage)")
        keyed = df[[*PAIR, *columns]].astype({c: str for c in PAIR}).set_index(list(PAIR))
        if keyed.index.has_duplicates:
            raise InputError(label, "(user_id, item_id)", "each pair once", keyed.index[keyed.index.duplicated()][0])
        aligned.append(keyed)
    base, oth = aligned
    if set(base.index) != set(oth.index):
        missing, extra = base.index.difference(oth.index), oth.index.difference(base.index)
        got = "; ".join(f"{len(idx)} {what}, e.g. {tuple(idx[0])}"
                        for what, idx in (("missing", missing), ("extra", extra)) if len(idx))
        raise InputError(labels[1], "(user_id, item_id)", f"the same test pairs as {labels[0]}", got)
    oth = oth.loc[base.index]
    return base.reset_index(), oth.reset_index()


def bootstrap_mean(values: np.ndarray, resamples: int, confidence: float, seed: int) -> Difference:
    """The mean of ``values`` (nan left out) with its percentile-bootstrap interval
    (``scipy.stats.bootstrap``, a numpy Generator from ``seed``)."""
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return Difference(None, None, None, 0)
    mean = float(values.mean())
    if n < 2:
        return Difference(mean, None, None, n)
    res = bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=confidence,
                    method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Difference(mean, float(ci.low), float(ci.high), n)


def paired_bootstrap(baseline: pd.DataFrame, other: pd.DataFrame, columns: Sequence[str], *,
                     resamples: int = 2000, confidence: float = 0.95, seed: int = 0,
                     labels: tuple[str, str] = ("baseline", "other")) -> dict[str, Difference]:
    """For each score column, the mean of ``other − baseline`` over the pairs both tables hold
    (paired on ``(user_id, item_id)``, see :func:`pair_rows`) and its bootstrap interval
    (see :func:`bootstrap_mean`). A pair with a missing score on either side is left out of that
    column. Every column starts from a fresh generator of the same seed, so a column's interval
    does not depend on the others, and columns with the same pairs are resampled alike."""
    base, oth = pair_rows(baseline, other, columns, labels)
    out = {}
    for col in columns:
        diffs = pd.to_numeric(oth[col], errors="coerce").astype(float).to_numpy() \
            - pd.to_numeric(base[col], errors="coerce").astype(float).to_numpy()
        out[col] = bootstrap_mean(diffs, resamples, confidence, seed)
    return out
