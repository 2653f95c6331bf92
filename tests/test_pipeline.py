"""End to end: the real dvc.yaml and stages, run by dvc in a temporary git repo.

Checks what a user relies on: a first ``dvc repro`` runs every stage, a second
runs nothing, a param change reruns exactly the stages that read it (and the
ones downstream whose inputs changed), and switching the LLM reruns only the
LLM-dependent stages. Every model is a tiny random Llama built in the test, so
the texts are junk but every stage does its real work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dvc_project import dvc, make_tiny_project, ran, run, set_param

pytestmark = pytest.mark.slow

ABLATIONS = {f"ablation@{a}" for a in ("wo_sft", "wo_pghis")}
EVALUATE = {f"evaluate@{a}" for a in ("full", "wo_sft", "wo_pghis", "xrec")}
GT_CPEG = {"gt_cpeg@k1_m1", "gt_cpeg@k0_m2"}
EVALUATION = ABLATIONS | EVALUATE | GT_CPEG | {"eval_summary", "gt_rewrite", "gt_judge"}
LRRECSYS_TRAIN = {f"lrrecsys_train@{r}" for r in ("lr_recsys", "ablation_1", "black_box")}
#: the LR-Recsys stages after its pairs (the explanations read the item profiles)
LRRECSYS = {"lrrecsys_explain@main", "lrrecsys_embed@main", "lrrecsys_report"} | LRRECSYS_TRAIN
#: the XRec stages after the graph (the adapters read the profiles and the SFT targets)
XREC = {"xrec_moe@full", "xrec_generate@full", "xrec_report"}
#: RecPIE reads the LR-Recsys pairs and the item profiles
RECPIE = {"recpie"}
#: the report reads every method's tables, plots and explanations: it reruns after nearly any change
REPORT = {"report"}
ALL = {"assets_llm", "assets_encoder", "assets_sft_base", "assets_judge", "raw", "filter", "split", "reference",
       "profiles", "negatives", "cpeg", "sft", "generate", "lrrecsys_pairs", "xrec_gnn"} | EVALUATION | LRRECSYS | XREC | RECPIE | REPORT
AFTER_PROFILES = {"profiles", "negatives", "cpeg", "sft", "generate"} | EVALUATION | LRRECSYS | XREC | RECPIE | REPORT
#: the stages that read the profiles themselves: they rerun whenever the profiles change (the scores rerun
#: when an explainer's text changed, the review rewrite when the sampled pairs' negatives did)
READ_PROFILES = {"profiles", "negatives", "cpeg", "sft", "generate", "gt_judge", "lrrecsys_explain@main",
                 "xrec_moe@full", "xrec_generate@full", "recpie", "report"} | ABLATIONS | GT_CPEG


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    return make_tiny_project(tmp_path_factory.mktemp("proj"), tiny_model_dir)


def test_repro_reruns_only_what_changed(project: Path) -> None:
    assert ran(dvc(project, "repro")) == ALL
    data = json.loads((project / "metrics" / "split.json").read_text())
    assert data["all"]["interactions"] == sum(data[s]["interactions"] for s in ("profile", "train", "test"))
    assert json.loads((project / "data/assets/llm/llm.json").read_text())["identity"].startswith("local:")
    assert json.loads((project / "metrics" / "generate.json").read_text())["pairs"] == 3

    assert ran(dvc(project, "repro")) == set()
    assert json.loads(dvc(project, "status", "--json").stdout) == {}

    summary = json.loads((project / "metrics" / "eval_summary.json").read_text())
    assert set(summary) == {"full", "wo_sft", "wo_pghis", "xrec"}
    assert "| full |" in (project / "metrics" / "eval_table.md").read_text()
    gt = json.loads((project / "metrics" / "ground_truth.json").read_text())
    assert gt["pairs"] == 2 and set(gt["sources"]) >= {"cpeg_k1_m1", "cpeg_k0_m2"}

    xrec = json.loads((project / "metrics" / "xrec.json").read_text())
    assert set(xrec["variants"]) == {"full"} and xrec["gnn"]["lightgcn"]["recall@5"] >= 0
    assert xrec["variants"]["full"]["all"]["pairs"] == 3
    assert "| XRec | 3 |" in (project / "metrics" / "xrec_table.md").read_text()
    moe = json.loads((project / "metrics" / "xrec" / "moe_full.json").read_text())
    assert moe["base_parameters_with_grad"] == 0 and moe["pairs"]["targets"] == "rewrite"  # the tiny data have reviews
    report = json.loads((project / "metrics" / "report.json").read_text())
    assert report["pairs"] == 3 and report["methods"] == ["full", "wo_sft", "wo_pghis", "xrec", "LR-Recsys", "RecPIE"]
    assert report["explained_pairs"]["full"] == 3 and report["plots"] == 9 and report["tables"] == 6
    assert "xrec_buckets" in (project / "data" / "report" / "index.html").read_text()

    set_param(project, "xrec.generate.max_new_tokens", 6)  # XRec's generation: no graph, no adapter training
    assert {"xrec_generate@full", "xrec_report", "report"} <= ran(dvc(project, "repro")) <= \
        {"xrec_generate@full", "evaluate@xrec", "eval_summary", "xrec_report", "report"}

    set_param(project, "sft.epochs", 2.0)  # an sft param: sft, generate and the ablations, and their scores
    assert {"sft", "generate", "report"} | ABLATIONS <= ran(dvc(project, "repro")) <= \
        {"sft", "generate", "eval_summary", "report"} | ABLATIONS | EVALUATE | XREC

    set_param(project, "ablations.wo_sft.user_layer", 0)  # one ablation: that branch only
    assert {"ablation@wo_sft"} <= ran(dvc(project, "repro")) <= {"ablation@wo_sft", "evaluate@wo_sft", "eval_summary",
                                                                 "xrec_report", "report"}

    set_param(project, "evaluate.bertscore_layers", 2)  # scoring only: no explainer is rebuilt
    assert EVALUATE | {"eval_summary", "xrec_report"} <= ran(dvc(project, "repro")) <= \
        EVALUATE | {"eval_summary", "xrec_report", "report"}

    lr = json.loads((project / "metrics" / "lrrecsys" / "lr_recsys.json").read_text())
    assert lr["train_pairs"] == 8 and lr["seeds"] == [lr["seeds"][0], lr["seeds"][0] + 1] and lr["rmse"]["mean"] > 0
    assert "| LR-Recsys | 8 |" in (project / "metrics" / "lrrecsys_table.md").read_text()
    rp = json.loads((project / "metrics" / "recpie.json").read_text())
    assert [r["round"] for r in rp["rounds"]] == [0, 1] and rp["rounds"][0]["kl"] == pytest.approx(0, abs=1e-6)
    assert rp["rounds"][0]["rl_steps"] == 2 and rp["last"]["rmse"] > 0 and rp["last"]["test_pairs"] == 2
    assert (project / "data" / "recpie" / "rounds.csv").read_text().startswith("round,rmse,")
    set_param(project, "lrrecsys.train.epochs", 2)  # the recommenders (and their per-seed autoencoders) and RecPIE: no LLM stage
    assert ran(dvc(project, "repro")) == LRRECSYS_TRAIN | {"lrrecsys_report", "recpie", "report"}

    set_param(project, "ground_truth.variants.k1_m0", {"k": 1, "m": 0})  # a new (k, m): its branch and the judge
    assert ran(dvc(project, "repro")) == {"gt_cpeg@k1_m0", "gt_judge", "report"}
    assert "cpeg_k1_m0" in json.loads((project / "metrics" / "ground_truth.json").read_text())["sources"]
    assert "cpeg_k1_m0" in (project / "data" / "ground_truth" / "judge" / "win_rates.csv").read_text()

    set_param(project, "profiles.layers", 2)  # profiles and everything downstream
    assert READ_PROFILES | {"gt_cpeg@k1_m0"} <= ran(dvc(project, "repro")) <= AFTER_PROFILES | {"gt_cpeg@k1_m0"}

    set_param(project, "split.method", "temporal")
    assert {"split", "reference", "lrrecsys_pairs", "xrec_gnn"} | READ_PROFILES <= ran(dvc(project, "repro")) <= \
        {"split", "reference", "gt_cpeg@k1_m0", "lrrecsys_pairs", "xrec_gnn"} | AFTER_PROFILES

    set_param(project, "filter.item_core", 1)  # same filtered data as before: nothing downstream reruns
    assert ran(dvc(project, "repro")) == {"filter"}


def test_switching_llm_reruns_only_llm_stages(project: Path) -> None:
    dvc(project, "repro")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "baseline")
    exp = ran(dvc(project, "exp", "run", "-S", "llm=tiny-b"))
    assert {"assets_llm", "profiles"} <= exp <= {"assets_llm"} | AFTER_PROFILES | {"gt_cpeg@k1_m0"}
    assert "assets_judge" not in exp  # the judge is its own catalogue entry
    assert json.loads((project / "data/assets/llm/llm.json").read_text())["temperature"] == 0.7

    bad = dvc(project, "exp", "run", "-S", "llm=nope", check=False)
    assert bad.returncode != 0
    assert "param 'llm': expected one of tiny-a, tiny-b, got 'nope'" in bad.stdout + bad.stderr
