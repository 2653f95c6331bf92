"""The page's summary: one row per method, an interval that excludes 0 says yes, one that straddles 0 says
no, a missing one says n/a with a note; RecPIE's interval is a seeded paired bootstrap over the test pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explainrec.core.errors import InputError
from explainrec.report.summary import (NO_INTERVAL, SummaryRow, read_summary, rmse_difference, row_cells,
                                       summary_markdown)
from tests.report.fixtures import write_summary_inputs


@pytest.fixture
def run(tmp_path: Path) -> Path:
    write_summary_inputs(tmp_path)
    return tmp_path


def rows_by_key(root: Path, predictions: bool = True) -> dict[str, SummaryRow]:
    pred = root / "data/recpie/predictions.parquet" if predictions else None
    return {r.key: r for r in read_summary(root / "metrics", pred, resamples=200, seed=3)}


def test_yes_no_and_na(run: Path) -> None:
    rows = rows_by_key(run)
    assert list(rows) == ["pghis_cpeg_sft", "lrrecsys", "xrec", "recpie"]
    pghis = rows["pghis_cpeg_sft"]  # wo_pghis − full = -0.04 [-0.07, -0.01], read as full − wo_pghis
    assert (pghis.value, pghis.ci_low, pghis.ci_high) == pytest.approx((0.04, 0.01, 0.07))
    assert row_cells(pghis)["excludes_0"] == "yes" and row_cells(pghis)["interval"] == "[+0.0100, +0.0700]"
    lr = rows["lrrecsys"]  # t interval straddling 0, consistent with the stored t statistic
    assert lr.ci_low < 0 < lr.ci_high and row_cells(lr)["excludes_0"] == "no"
    assert lr.value == pytest.approx(-0.001) and lr.ci_high - lr.value == pytest.approx(4.302653 * 0.02 / 3 ** 0.5)
    xrec = rows["xrec"]  # no paired comparison with its control: the difference of means, no interval
    assert xrec.value == pytest.approx(0.13) and xrec.excludes_0 is None
    assert row_cells(xrec)["interval"] == NO_INTERVAL and row_cells(xrec)["excludes_0"] == "n/a"
    assert "compare.controls" in xrec.note


def test_xrec_reads_the_paired_comparison_with_its_control(run: Path) -> None:
    path = run / "metrics/eval_summary.json"
    es = json.loads(path.read_text())
    es["xrec"]["vs_xrec_wo_injection"] = {"bs_f1": {"diff": 0.12, "ci_low": 0.02, "ci_high": 0.2, "excludes_0": True}}
    path.write_text(json.dumps(es))
    xrec = rows_by_key(run)["xrec"]
    assert (xrec.value, xrec.ci_low, xrec.ci_high) == pytest.approx((0.12, 0.02, 0.2))
    assert row_cells(xrec)["excludes_0"] == "yes" and "paired bootstrap over" in xrec.note


def test_recpie_interval_is_a_seeded_paired_bootstrap(run: Path) -> None:
    rec = rows_by_key(run)["recpie"]
    t = pd.read_parquet(run / "data/recpie/predictions.parquet")
    rmse = {c: np.sqrt(np.mean(((t[c] - t["rating"]) / 4) ** 2)) for c in ("prediction_round_0", "prediction_last")}
    assert rec.value == pytest.approx(rmse["prediction_last"] - rmse["prediction_round_0"])
    assert rec.ci_high < 0 and row_cells(rec)["excludes_0"] == "yes"  # better on every pair
    assert rows_by_key(run)["recpie"] == rec  # seeded
    # without the predictions: the point difference of recpie.json, no interval, and a note saying why
    bare = rows_by_key(run, predictions=False)["recpie"]
    assert bare.value == pytest.approx(-0.05) and bare.excludes_0 is None and "predictions.parquet" in bare.note


def test_rmse_difference_straddles_zero_when_rounds_tie() -> None:
    rng = np.random.default_rng(0)
    r = rng.integers(1, 6, 40).astype(float)
    a, b = r + rng.normal(0, 1, 40), r + rng.normal(0, 1, 40)
    d = rmse_difference(r, a, b, 500, 0.95, 1)
    assert d.ci_low < 0 < d.ci_high and not d.excludes_zero and d.pairs == 40
    same = rmse_difference(r, a, a, 200, 0.95, 1)
    assert (same.diff, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)


def test_markdown_and_metrics_round_trip(run: Path) -> None:
    rows = list(rows_by_key(run).values())
    md = summary_markdown(rows)
    assert "| XRec [3] | BERTScore-F1: xrec − xrec_wo_injection | +0.1300 | no interval (n/a) | n/a |" in md
    assert md.count("\n- [") == 4
    back = [SummaryRow.from_dict(json.loads(json.dumps(r.to_dict())), "report.json") for r in rows]
    assert back == rows


def test_bad_inputs_name_file_and_field(run: Path) -> None:
    path = run / "metrics/eval_summary.json"
    doc = json.loads(path.read_text())
    del doc["wo_pghis"]["vs_full"]["bs_f1"]["ci_low"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"eval_summary.json: field 'wo_pghis.vs_full.bs_f1.ci_low'"):
        rows_by_key(run)
    pred = run / "data/recpie/predictions.parquet"
    pd.read_parquet(pred).drop(columns="prediction_last").to_parquet(pred)
    with pytest.raises(InputError, match=r"predictions.parquet: field 'prediction_last'"):
        read_summary(run / "nothing", pred)
