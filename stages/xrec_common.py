"""What the XRec stages share: their path options and the pairs both xrec_moe and xrec_generate read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common import merged_section, path_option, section

GRAPH = path_option("--graph", "the xrec_gnn stage's folder (users.parquet, items.parquet)")
ADAPTERS = path_option("--adapters", "an xrec_moe stage's folder (adapters.pt, settings.json)")


def explainer_config(params: dict[str, Any], name: str) -> Any:
    """``xrec.explainer`` with the keys of ``xrec.variants.<name>``."""
    from explainrec.xrec.data import ExplainerConfig

    return merged_section(params, "xrec.explainer", f"xrec.variants.{name}", ExplainerConfig)


def xrec_pairs(params: dict[str, Any], explainer: Any, graph: Any, profiles: Path, targets: Path, splits: Path,
               filtered: Path, llm_json: Path, train_targets: bool = True) -> Any:
    """The SFT data's pairs for XRec (:func:`explainrec.xrec.experiment.load_pairs`); without
    ``train_targets`` no review is rewritten (generation needs the test pairs only)."""
    from explainrec.core.explanation_pairs import PairSource
    from explainrec.xrec.experiment import load_pairs

    source = PairSource.of(section(params, "sft"))
    rewrite_tokens = section(params, "ground_truth.rewrite_max_new_tokens")
    return load_pairs(profiles, targets, splits, filtered, graph, explainer, source, llm_json, rewrite_tokens,
                      train_targets)
