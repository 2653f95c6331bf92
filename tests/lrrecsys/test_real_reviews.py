"""LR-Recsys on the real Amazon Musical Instruments reviews in ../shared/data (skipped when absent).

The chain runs as the stages run it, with a tiny random Llama writing the explanations: its texts are junk,
but the pairs, the histories, the autoencoder and the recommender all work on the real interactions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explainrec.data.adapters.amazon import load
from explainrec.data.kcore import FilterConfig, filter_dataset
from explainrec.data.split import SplitConfig, split_interactions
from explainrec.llm import LLMSpec, open_llm
from explainrec.lrrecsys.autoencoder import AutoencoderConfig
from explainrec.lrrecsys.embeddings import EmbedConfig, embed_explanations
from explainrec.lrrecsys.experiment import RunConfig, run_experiment
from explainrec.lrrecsys.explain import ExplainConfig, explain_pairs
from explainrec.lrrecsys.model import ModelConfig
from explainrec.lrrecsys.pairs import PairsConfig, build_pairs
from explainrec.lrrecsys.prompts import resolve_domain
from explainrec.lrrecsys.train import TrainConfig


def test_chain_on_real_amazon_reviews(amazon_mi, tiny_model_dir, tmp_path):
    ds = filter_dataset(load(amazon_mi), FilterConfig(user_core=3, item_core=3, max_users=150, max_items=40), seed=3)
    inter = ds.interactions
    parts = split_interactions(inter, SplitConfig(), seed=3)
    pairs = build_pairs(parts, inter, PairsConfig(max_train=None, max_test=None), seed=3)
    n_train, n_test = len(parts["train"]), len(parts["test"])
    assert (pairs["split"] == "train").sum() == n_train and pairs["history"].map(len).max() >= 1
    when = {(u, i): t for u, i, t in zip(inter["user_id"], inter["item_id"], inter["timestamp"])}
    assert all(when[(r.user_id, h)] < r.timestamp for r in pairs.itertuples() for h in r.history)

    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), device="cpu", dtype="float32",
                   batch_size=16, max_new_tokens=8)
    llm = open_llm(spec, cache_path=tmp_path / "cache", progress=False)
    expl, m = explain_pairs(pairs, ds.items, {}, llm, ExplainConfig(max_new_tokens=8), resolve_domain("auto", "amazon"))
    assert m["pairs"] == n_train + n_test and expl["positive"].str.startswith("The consumer purchased this product because").all()
    emb = embed_explanations(expl, EmbedConfig(), seed=3, autoencoder=AutoencoderConfig(epochs=5), progress=False)
    vectors = np.stack([np.stack(emb.table["positive"]), np.stack(emb.table["negative"])], axis=1)
    run = run_experiment(pairs, vectors, RunConfig(), ModelConfig(), TrainConfig(epochs=5), seeds=2, seed=3,
                         progress=False)
    assert run.metrics["test_pairs"] == n_test and 0 < run.metrics["rmse"]["mean"] < 1
    assert pd.notna(run.metrics["mae_5"]["mean"])
