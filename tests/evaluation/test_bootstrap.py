"""The paired bootstrap of two explainers' mean difference: identical, clearly better, seeds, bad tables, params."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import InputError, ParamError
from explainrec.evaluation.bootstrap import CompareConfig, Difference, bootstrap_mean, paired_bootstrap, read_scores

COLS = ["bertscore_f1", "rougeL_f1", "bleu4"]


def scores(n: int = 16, seed: int = 0, shift: float = 0.0, noise: float = 0.0) -> pd.DataFrame:
    """``n`` pairs of seeded scores in [0.2, 0.6], plus ``shift`` and seeded noise."""
    base = np.random.default_rng(seed).uniform(0.2, 0.6, size=(n, len(COLS)))
    jitter = np.random.default_rng(seed + 100).normal(0, noise, size=base.shape) if noise else 0.0
    df = pd.DataFrame(base + shift + jitter, columns=COLS)
    return df.assign(user_id=[f"u{i}" for i in range(n)], item_id=[f"i{i % 3}" for i in range(n)])


def test_identical_explainers_give_an_interval_around_zero_paired_on_the_pair_not_the_row():
    full = scores()
    out = paired_bootstrap(full, full.sample(frac=1, random_state=3), COLS, resamples=500, seed=1)
    assert set(out) == set(COLS)
    for d in out.values():  # degenerate (every difference 0): percentile gives [0, 0], not nan
        assert d == Difference(0.0, 0.0, 0.0, 16) and not d.excludes_zero
        assert d.to_dict() == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "excludes_0": False}


def test_a_clearly_better_explainer_excludes_zero_and_noise_alone_does_not():
    full = scores()
    better = paired_bootstrap(full, scores(shift=0.3, noise=0.05), COLS, resamples=1000, seed=1)
    for d in better.values():
        assert d.diff == pytest.approx(0.3, abs=0.05) and 0 < d.ci_low < d.diff < d.ci_high and d.excludes_zero
    worse = paired_bootstrap(full, scores(shift=-0.3, noise=0.05), COLS, resamples=1000, seed=1)
    assert all(d.ci_high < 0 and d.excludes_zero for d in worse.values())
    same_quality = paired_bootstrap(scores(seed=1), scores(seed=2), ["bertscore_f1"], resamples=2000, seed=5)
    d = same_quality["bertscore_f1"]
    assert d.ci_low <= 0 <= d.ci_high and not d.excludes_zero


def test_the_seed_fixes_the_interval_and_the_confidence_widens_it():
    diffs = scores(seed=1)["bleu4"].to_numpy() - scores(seed=2)["bleu4"].to_numpy()
    one = bootstrap_mean(diffs, 2000, 0.95, seed=5)
    assert one == bootstrap_mean(diffs, 2000, 0.95, seed=5)
    other = bootstrap_mean(diffs, 2000, 0.95, seed=6)
    assert other.diff == one.diff and (other.ci_low, other.ci_high) != (one.ci_low, one.ci_high)
    wide = bootstrap_mean(diffs, 2000, 0.99, seed=5)
    assert wide.ci_low <= one.ci_low and wide.ci_high >= one.ci_high
    # the columns do not share one generator: a column's interval does not depend on the others
    a, b = scores(seed=1), scores(seed=2)
    assert paired_bootstrap(a, b, ["bleu4"], seed=5)["bleu4"] == paired_bootstrap(a, b, COLS, seed=5)["bleu4"]


def test_missing_scores_are_left_out_and_one_pair_has_no_interval():
    d = bootstrap_mean(np.array([0.1, np.nan, 0.3]), 200, 0.95, seed=0)
    assert d.pairs == 2 and d.diff == pytest.approx(0.2)
    one = bootstrap_mean(np.array([0.5, np.nan]), 200, 0.95, seed=0)
    assert one == Difference(0.5, None, None, 1) and not one.excludes_zero
    assert bootstrap_mean(np.array([np.nan]), 200, 0.95, seed=0) == Difference(None, None, None, 0)


def test_tables_that_do_not_hold_the_same_pairs_or_columns(tmp_path):
    full = scores(4)
    labels = ("data/eval/full/scores.parquet", "data/eval/wo_sft/scores.parquet")
    with pytest.raises(InputError, match=r"^data/eval/wo_sft/scores.parquet: field '\(user_id, item_id\)': expected "
                                         r"the same test pairs as data/eval/full/scores.parquet, got "
                                         r"\"1 missing, e.g. \('u3', 'i0'\)\"$"):
        paired_bootstrap(full, full.iloc[:3], COLS, labels=labels)
    moved = full.assign(item_id=["i0", "i1", "i2", "i9"])
    with pytest.raises(InputError, match=r"1 missing, e.g. \('u3', 'i0'\); 1 extra, e.g. \('u3', 'i9'\)"):
        paired_bootstrap(full, moved, COLS, labels=labels)
    with pytest.raises(InputError, match=r"wo_sft/scores.parquet: field 'rougeL_f1': expected a column 'rougeL_f1'"):
        paired_bootstrap(full, full.drop(columns="rougeL_f1"), COLS, labels=labels)
    with pytest.raises(InputError, match=r"^baseline: field '\(user_id, item_id\)': expected each pair once"):
        paired_bootstrap(pd.concat([full, full.iloc[:1]]), full, COLS)
    full.to_parquet(tmp_path / "scores.parquet")
    assert len(read_scores(tmp_path / "scores.parquet", COLS)) == 4
    with pytest.raises(InputError, match="field 'gptscore'"):
        read_scores(tmp_path / "scores.parquet", ["gptscore"])
    with pytest.raises(InputError, match="nowhere.parquet"):
        read_scores(tmp_path / "nowhere.parquet", COLS)


def test_compare_params():
    assert from_section(CompareConfig, {"baseline": "wo_sft"}, "compare") == CompareConfig("wo_sft", 2000, 0.95)
    with pytest.raises(ParamError, match=r"^param 'compare.resamples': expected an integer >= 100, got 10$"):
        from_section(CompareConfig, {"resamples": 10}, "compare")
    for bad in (1, 0, 1.5, True, "0.9"):
        with pytest.raises(ParamError, match=r"^param 'compare.confidence': expected a number in \(0, 1\)"):
            from_section(CompareConfig, {"confidence": bad}, "compare")
    with pytest.raises(ParamError, match=r"^param 'compare.baseline': expected an explainer name"):
        from_section(CompareConfig, {"baseline": ""}, "compare")
