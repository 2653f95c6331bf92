"""The run's summary: one row per method with the comparison its paper headlines, the value, its
interval and whether the interval excludes 0.

Every interval comes from what the run saved, never from a guess:

- **PGHIS + CPEG + SFT**: the SFT explainer (``full``) against the ablation without PGHIS (else
  without SFT), BERTScore-F1, from the paired bootstrap over the test pairs that
  ``metrics/eval_summary.json`` holds (``<ablation>.vs_full``: ablation − full, so its sign and
  bounds are flipped to read full − ablation).
- **XRec**: XRec against its control without injection (else without profile), BERTScore-F1, from
  the paired bootstrap ``eval_summary.json`` holds for ``compare.controls`` (``xrec.vs_<control>``);
  without that entry, the difference of the two means and "no interval (n/a)".
- **LR-Recsys**: test RMSE with explanations (``lr_recsys``) minus without (``black_box``), from
  the paired t-test over seeds in ``metrics/lrrecsys_summary.json``; its interval is that test's
  t interval, mean_diff ± t(1 − α/2, n − 1) · std_diff / √n (it excludes 0 exactly when the
  test's p-value is below α).
- **RecPIE**: test RMSE of the last round minus round 0's, with a paired percentile bootstrap over
  the test pairs of ``data/recpie/predictions.parquet`` (:func:`rmse_difference`); without that
  table, the difference of ``metrics/recpie.json``'s two RMSEs and "no interval (n/a)".

:func:`summary_rows` gives the rows, :func:`summary_markdown` the README's table; the page
renders the same rows (``page.html.j2``) through :func:`row_cells`. Each row's ``note`` says
where its numbers come from, and why an interval is missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainrec.core.errors import InputError
from explainrec.evaluation.bootstrap import Difference

#: the columns of the RecPIE predictions table (the recpie stage's ``predictions.parquet``)
RECPIE_PREDICTIONS = ("pair_id", "rating", "prediction_round_0", "prediction_last")
#: the score the explanation-quality rows compare (a key of eval_summary.json) and its label
EVAL_METRIC, EVAL_LABEL = "bs_f1", "BERTScore-F1"
#: the ablations of the SFT explainer, in order of preference, and XRec's controls
PGHIS_ABLATIONS = ("wo_pghis", "wo_sft")
XREC_CONTROLS = ("xrec_wo_injection", "xrec_wo_profile")
#: the rows' order (metrics/report.json keeps them keyed, its keys sorted)
ROW_ORDER = ("pghis_cpeg_sft", "lrrecsys", "xrec", "recpie")
#: what the cell of a missing interval says
NO_INTERVAL = "no interval (n/a)"


@dataclass(frozen=True)
class SummaryRow:
    """One method's headline comparison. ``ci_low`` / ``ci_high`` are None when the run holds no
    interval for it (``excludes_0`` is then None too); ``note`` says where the numbers come from."""

    key: str
    method: str
    comparison: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    digits: int
    note: str

    @property
    def excludes_0(self) -> bool | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON for metrics/report.json (`dvc metrics show` drops lists)."""
        return {**asdict(self), "excludes_0": self.excludes_0}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> "SummaryRow":
        fields = ("key", "method", "comparison", "value", "ci_low", "ci_high", "digits", "note")
        for f in fields:
            if f not in d:
                raise InputError(where, f"summary.{d.get('key', '?')}.{f}", "a summary row written by the report stage")
        return cls(**{f: d[f] for f in fields})


def _field(doc: Mapping[str, Any], path: str, where: str | Path, expected: str = "a number") -> Any:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise InputError(where, path, expected + " (written by an older stage? run `dvc repro`)")
        node = node[part]
    return node


def _number(doc: Mapping[str, Any], path: str, where: str | Path) -> float:
    x = _field(doc, path, where)
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise InputError(where, path, "a finite number", x)
    return float(x)


def pghis_row(es: Mapping[str, Any], where: str | Path) -> SummaryRow | None:
    """``full`` against its ablation without PGHIS (else without SFT), from eval_summary's paired bootstrap."""
    name = next((a for a in PGHIS_ABLATIONS if isinstance(es.get(a), Mapping) and "vs_full" in es[a]), None)
    if name is None or "full" not in es:
        return None
    d = f"{name}.vs_full.{EVAL_METRIC}"
    diff, lo, hi = (_number(es, f"{d}.{k}", where) for k in ("diff", "ci_low", "ci_high"))
    pairs = int(_number(es, "full.pairs", where))
    return SummaryRow("pghis_cpeg_sft", "PGHIS + CPEG + SFT", f"{EVAL_LABEL}: full − {name}", -diff, -hi, -lo, 4,
                      f"paired bootstrap over {pairs} test pairs ({Path(where).name}: {name}.vs_full, "
                      f"{name} − full, read with its sign flipped)")


def xrec_row(es: Mapping[str, Any], where: str | Path) -> SummaryRow | None:
    """XRec against its control without injection (else without profile): eval_summary's paired
    bootstrap of the two (``compare.controls``) where it holds one, else the difference of the means."""
    control = next((c for c in XREC_CONTROLS if c in es), None)
    if control is None or "xrec" not in es:
        return None
    comparison = f"{EVAL_LABEL}: xrec − {control}"
    paired = es["xrec"].get(f"vs_{control}") if isinstance(es["xrec"], Mapping) else None
    if isinstance(paired, Mapping) and EVAL_METRIC in paired:
        d = f"xrec.vs_{control}.{EVAL_METRIC}"
        diff, lo, hi = (_number(es, f"{d}.{k}", where) for k in ("diff", "ci_low", "ci_high"))
        pairs = int(_number(es, "xrec.pairs", where))
        return SummaryRow("xrec", "XRec", comparison, diff, lo, hi, 4,
                          f"paired bootstrap over {pairs} test pairs ({Path(where).name}: xrec.vs_{control}, "
                          f"compare.controls)")
    value = _number(es, f"xrec.{EVAL_METRIC}", where) - _number(es, f"{control}.{EVAL_METRIC}", where)
    return SummaryRow("xrec", "XRec", comparison, value, None, None, 4,
                      f"{Path(where).name} holds no paired comparison of XRec with its control (compare.controls "
                      f"has no xrec entry): the difference of their two means, with no interval")


def lrrecsys_row(ls: Mapping[str, Any], where: str | Path, confidence: float) -> SummaryRow | None:
    """RMSE with explanations minus without, and the t interval of the paired t-test over seeds."""
    test = _field(ls, "paired_tests", where, "a mapping of paired tests").get("black_box")
    if test is None:
        return None
    if "skipped" in test:
        return SummaryRow("lrrecsys", "LR-Recsys", "test RMSE: lr_recsys − black_box", None, None, None, 4,
                          f"{Path(where).name}: the paired test was skipped ({test['skipped']})")
    p = "paired_tests.black_box.rmse"
    mean, std, n = (_number(ls, f"{p}.{k}", where) for k in ("mean_diff", "std_diff", "n"))
    comparison = "test RMSE [0, 1]: lr_recsys (with explanations) − black_box (without)"
    t_stored = _field(ls, f"{p}.t", where)
    if n < 2 or t_stored is None or std == 0:
        return SummaryRow("lrrecsys", "LR-Recsys", comparison, mean, None, None, 4,
                          f"{Path(where).name}: {int(n)} seed(s) and no t statistic: no interval")
    from scipy.stats import t as student

    half = float(student.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return SummaryRow("lrrecsys", "LR-Recsys", comparison, mean, mean - half, mean + half, 4,
                      f"t interval of the paired t-test over {int(n)} seeds in {Path(where).name} "
                      f"(mean ± t·std/√n; p = {_number(ls, f'{p}.p_value', where):.3f})")


def rmse_difference(ratings: np.ndarray, base: np.ndarray, other: np.ndarray, resamples: int = 2000,
                    confidence: float = 0.95, seed: int = 0) -> Difference:
    """RMSE(other) − RMSE(base) on the [0, 1] target scale (ratings and predictions on 1..5), with the
    percentile-bootstrap interval over the pairs, resampled together (paired): the call and conventions
    of :func:`explainrec.evaluation.bootstrap.bootstrap_mean` (scipy ``bootstrap``, percentile method,
    a numpy Generator from ``seed``), with the RMSE difference as the statistic instead of a mean."""
    from scipy.stats import bootstrap

    truth = np.asarray(ratings, dtype=float)
    e0 = ((np.asarray(base, dtype=float) - truth) / 4) ** 2
    e1 = ((np.asarray(other, dtype=float) - truth) / 4) ** 2
    n = len(truth)

    def stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sqrt(np.mean(b, axis=axis)) - np.sqrt(np.mean(a, axis=axis))

    if n == 0:
        return Difference(None, None, None, 0)
    value = float(stat(e0, e1))
    if n < 2:
        return Difference(value, None, None, n)
    res = bootstrap((e0, e1), stat, paired=True, n_resamples=resamples, confidence_level=confidence,
                    method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Difference(value, float(ci.low), float(ci.high), n)


def check_predictions(table: pd.DataFrame, where: str | Path) -> pd.DataFrame:
    """The RecPIE predictions table, its columns and values checked (errors name the file and column)."""
    for col in RECPIE_PREDICTIONS:
        if col not in table.columns:
            raise InputError(where, col, f"a column '{col}' (the recpie stage's predictions.parquet)")
    for col in RECPIE_PREDICTIONS[1:]:
        x = pd.to_numeric(table[col], errors="coerce")
        if x.isna().any() or not np.isfinite(x).all():
            raise InputError(where, col, "finite numbers", table[col][x.isna()].head(3).tolist())
    if table["pair_id"].duplicated().any():
        raise InputError(where, "pair_id", "each test pair once", table["pair_id"][table["pair_id"].duplicated()].iloc[0])
    if not len(table):
        raise InputError(where, "pair_id", "at least one test pair", 0)
    return table


def recpie_row(rp: Mapping[str, Any] | None, where: str | Path | None, predictions: pd.DataFrame | None,
               predictions_where: str | Path | None, resamples: int, confidence: float, seed: int) -> SummaryRow | None:
    """The last round's test RMSE minus round 0's: bootstrapped over the test pairs when their predictions are given."""
    comparison = "test RMSE [0, 1]: last round − round 0"
    if predictions is not None:
        t = check_predictions(predictions, predictions_where or "predictions")
        d = rmse_difference(t["rating"].to_numpy(float), t["prediction_round_0"].to_numpy(float),
                            t["prediction_last"].to_numpy(float), resamples, confidence, seed)
        return SummaryRow("recpie", "RecPIE", comparison, d.diff, d.ci_low, d.ci_high, 6,
                          f"paired bootstrap over {d.pairs} test pairs of {Path(predictions_where or '').name or 'the predictions'} "
                          f"({resamples} resamples, seed {seed})")
    if rp is None:
        return None
    value = _number(rp, "last.rmse", where) - _number(rp, "round_0.rmse", where)
    return SummaryRow("recpie", "RecPIE", comparison, value, None, None, 6,
                      f"{Path(where).name} holds each round's RMSE only; the per-pair predictions an interval needs "
                      f"(data/recpie/predictions.parquet) were not saved by this run's recpie stage")


def summary_rows(eval_summary: Mapping[str, Any] | None = None, eval_where: str | Path = "eval_summary.json",
                 lrrecsys: Mapping[str, Any] | None = None, lrrecsys_where: str | Path = "lrrecsys_summary.json",
                 recpie: Mapping[str, Any] | None = None, recpie_where: str | Path = "recpie.json",
                 predictions: pd.DataFrame | None = None, predictions_where: str | Path | None = None, *,
                 resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> list[SummaryRow]:
    """The summary's rows, for the methods whose metrics are given (a method without them has no row)."""
    rows = [
        pghis_row(eval_summary, eval_where) if eval_summary is not None else None,
        lrrecsys_row(lrrecsys, lrrecsys_where, confidence) if lrrecsys is not None else None,
        xrec_row(eval_summary, eval_where) if eval_summary is not None else None,
        recpie_row(recpie, recpie_where, predictions, predictions_where, resamples, confidence, seed),
    ]
    return [r for r in rows if r is not None]


def read_summary(metrics_dir: str | Path, predictions: str | Path | None = None, **kwargs: Any) -> list[SummaryRow]:
    """:func:`summary_rows` from a metrics folder (eval_summary.json, lrrecsys_summary.json, recpie.json,
    each optional) and, when given, the RecPIE predictions table."""
    root = Path(metrics_dir)
    docs = {rel: read_json(root / rel) for rel in ("eval_summary.json", "lrrecsys_summary.json", "recpie.json")
            if (root / rel).is_file()}
    return summary_rows(docs.get("eval_summary.json"), root / "eval_summary.json",
                        docs.get("lrrecsys_summary.json"), root / "lrrecsys_summary.json",
                        docs.get("recpie.json"), root / "recpie.json",
                        read_predictions(predictions) if predictions is not None else None, predictions, **kwargs)


def read_json(path: str | Path) -> dict[str, Any]:
    """A metrics file; a missing or malformed one is an :class:`InputError` naming it."""
    import json

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "(file)", "a metrics file written by its stage (run `dvc repro`)")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(path, "(file)", "valid JSON", str(e)) from None
    if not isinstance(doc, dict):
        raise InputError(path, "(file)", "a JSON object", type(doc).__name__)
    return doc


def read_predictions(path: str | Path) -> pd.DataFrame:
    """The recpie stage's predictions.parquet, checked (:func:`check_predictions`)."""
    from explainrec.core.io import read_table

    return check_predictions(read_table(path, "RecPIE predictions", "the recpie stage", RECPIE_PREDICTIONS), path)


def ordered(rows: Sequence[SummaryRow]) -> list[SummaryRow]:
    """``rows`` in :data:`ROW_ORDER` (a key it does not list goes last)."""
    return sorted(rows, key=lambda r: ROW_ORDER.index(r.key) if r.key in ROW_ORDER else len(ROW_ORDER))


# --- rendering: one set of cells for the page and the README ------------------------------------

def _signed(x: float | None, digits: int) -> str:
    return "–" if x is None else f"{x:+.{digits}f}"


def row_cells(row: SummaryRow) -> dict[str, str]:
    """The row's cells as text: method, comparison, value, interval, excludes 0 (yes / no / n/a)."""
    interval = (NO_INTERVAL if row.excludes_0 is None
                else f"[{_signed(row.ci_low, row.digits)}, {_signed(row.ci_high, row.digits)}]")
    excl = {None: "n/a", True: "yes", False: "no"}[row.excludes_0]
    return {"method": row.method, "comparison": row.comparison, "value": _signed(row.value, row.digits),
            "interval": interval, "excludes_0": excl}


def summary_header(confidence: float = 0.95) -> list[str]:
    return ["method", "headline comparison", "value", f"{confidence:.0%} interval".replace("%", " %"), "excludes 0"]


def summary_markdown(rows: Sequence[SummaryRow], confidence: float = 0.95) -> str:
    """The summary as a Markdown table with numbered notes (the README's block)."""
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    head = summary_header(confidence)
    lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---|"]
    for k, row in enumerate(rows, 1):
        c = row_cells(row)
        lines.append(f"| {esc(c['method'])} [{k}] | {esc(c['comparison'])} | {c['value']} | {c['interval']} | "
                     f"{c['excludes_0']} |")
    lines.append("")
    lines += [f"- [{k}] {row.method}: {row.note}." for k, row in enumerate(rows, 1)]
    return "\n".join(lines)
