"""The one way a stage reads its params section (explainrec.core.config), and params.yaml as the home of every default."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml

from explainrec.core.config import check_int, check_number, from_section
from explainrec.core.errors import ParamError
from tests.conftest import REPO


def test_check_int():
    assert check_int(3, "s.k") == 3 and check_int(None, "s.k", none_ok=True) is None
    for bad in (0, -1, 2.5, True, "3", None):
        with pytest.raises(ParamError, match=r"param 's.k': expected a positive integer"):
            check_int(bad, "s.k")
    with pytest.raises(ParamError, match=r"param 'f.max': expected an integer >= 0, or null, got -1"):
        check_int(-1, "f.max", 0, none_ok=True)
    with pytest.raises(ParamError, match=r"expected a number in \(0, 1\), got 1"):
        check_number(1, "lr", 0, 1, low_open=True, high_open=True)


@dataclass(frozen=True)
class Example:
    k: int
    m: int = 2

    def __post_init__(self) -> None:
        check_int(self.m, "m", 0)


def test_from_section_names_the_full_key():
    assert from_section(Example, {"k": 1}, "a.b") == Example(1, 2)
    with pytest.raises(ParamError, match=r"param 'a.b.m': expected an integer >= 0, got -1"):
        from_section(Example, {"k": 1, "m": -1}, "a.b")
    with pytest.raises(ParamError, match=r"param 'a.b.x': expected one of the keys k, m"):
        from_section(Example, {"k": 1, "x": 0}, "a.b")
    with pytest.raises(ParamError, match=r"param 'a.b.k': expected a value \(the key is required\)"):
        from_section(Example, {}, "a.b")
    assert from_section(Example, {"m": 0}, "a.b", k=7) == Example(7, 0)


def sections():
    """Each section of params.yaml and the library dataclass that holds it."""
    from explainrec.cpeg.loop import CPEGConfig
    from explainrec.cpeg.negatives import NegativeConfig
    from explainrec.data.kcore import FilterConfig
    from explainrec.data.split import SplitConfig
    from explainrec.evaluation.bootstrap import CompareConfig
    from explainrec.evaluation.report import EvalConfig
    from explainrec.experiments.ground_truth import GroundTruthConfig
    from explainrec.profiles.pghis import ProfileConfig
    from explainrec.report.config import ReportConfig
    from explainrec.sft.params import SFTGenerateConfig, SFTTrainConfig

    return {"filter": FilterConfig, "split": SplitConfig, "profiles": ProfileConfig, "negatives": NegativeConfig,
            "cpeg": CPEGConfig, "sft": SFTTrainConfig, "generate": SFTGenerateConfig, "evaluate": EvalConfig,
            "ground_truth": GroundTruthConfig, "compare": CompareConfig, "report": ReportConfig,
            **lrrecsys_sections(), **xrec_sections(),
            **recpie_sections()}


def recpie_sections():
    from explainrec.recpie.config import RecPIEConfig, RecPIEExplainerConfig, RLConfig

    return {"recpie": RecPIEConfig, "recpie.explainer": RecPIEExplainerConfig, "recpie.rl": RLConfig}


def lrrecsys_sections():
    from explainrec.core.domain_prompts import ExplainConfig
    from explainrec.core.recommender.autoencoder import AutoencoderConfig
    from explainrec.core.recommender.train import TrainConfig
    from explainrec.lrrecsys.pairs import PairsConfig
    from explainrec.lrrecsys.report import LRRecsysReportConfig

    return {"lrrecsys.pairs": PairsConfig, "lrrecsys.explain": ExplainConfig, "lrrecsys.autoencoder": AutoencoderConfig,
            "lrrecsys.train": TrainConfig, "lrrecsys.report": LRRecsysReportConfig}


def xrec_sections():
    from explainrec.xrec.data import ExplainerConfig
    from explainrec.xrec.generate import GenerateConfig
    from explainrec.xrec.gnn_tables import SparsityConfig
    from explainrec.xrec.graph import GNNConfig
    from explainrec.xrec.moe import MoEConfig
    from explainrec.xrec.train import AdapterTrainConfig

    return {"xrec.gnn": GNNConfig, "xrec.sparsity": SparsityConfig, "xrec.moe": MoEConfig, "xrec.train": AdapterTrainConfig,
            "xrec.generate": GenerateConfig, "xrec.explainer": ExplainerConfig}


@pytest.mark.parametrize("key", list(sections()))
def test_library_defaults_are_the_params_yaml_values(key: str):
    """params.yaml is what users edit; a dataclass default that disagrees with it would be a second, hidden default."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    cls = sections()[key]
    for part in key.split("."):
        params = params[part]
    params = {key: params}
    assert from_section(cls, params[key], key) == cls(), f"{cls.__name__} defaults differ from params.yaml '{key}'"
    assert set(params[key]) == {f for f in cls.__dataclass_fields__ if f not in ("seed", "name")}, \
        f"params.yaml '{key}' does not list every key of {cls.__name__}"


def test_every_ablation_and_llm_entry_is_valid():
    from explainrec.experiments.ablation import AblationVariant
    from explainrec.llm.spec import resolve_llm

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, entry in params["ablations"].items():
        from_section(AblationVariant, entry, f"ablations.{name}", name=name)
    for name in params["llms"]:
        resolve_llm(name, params["llms"])


def test_every_lrrecsys_entry_is_valid():
    """Every explanation set, embedding and run entry builds, the model section agrees with ModelConfig's
    defaults, and every run reads an embedding entry that exists."""
    from explainrec.core.domain_prompts import ExplainConfig
    from explainrec.core.recommender.model import ModelConfig
    from explainrec.lrrecsys.embeddings import EmbedConfig
    from explainrec.lrrecsys.experiment import RunConfig

    lr = yaml.safe_load((REPO / "params.yaml").read_text())["lrrecsys"]
    for name, entry in lr["explanation_sets"].items():
        from_section(ExplainConfig, {**lr["explain"], **entry}, f"lrrecsys.explanation_sets.{name}")
    for name, entry in lr["embeddings"].items():
        assert from_section(EmbedConfig, entry, name).explanations in lr["explanation_sets"]
    for name, entry in lr["runs"].items():
        assert from_section(RunConfig, entry, name).embeddings in lr["embeddings"]
    defaults = ModelConfig()
    assert from_section(ModelConfig, lr["model"], "lrrecsys.model", arch="dnn", explanations="given",
                        n_explanations=2, history=5) == defaults


def test_every_xrec_variant_is_valid_and_scored():
    """Every XRec variant builds on xrec.explainer and has its explainers entry, so evaluate@ scores it."""
    from explainrec.xrec.data import ExplainerConfig
    from explainrec.xrec.report import explainer_name

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    xr = params["xrec"]
    for name, entry in xr["variants"].items():
        from_section(ExplainerConfig, {**xr["explainer"], **entry}, f"xrec.variants.{name}")
        assert params["explainers"][explainer_name(name)] == f"data/xrec/generate/{name}/explanations.parquet"
