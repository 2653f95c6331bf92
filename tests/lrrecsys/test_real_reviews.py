"""LR-Recsys on the real Amazon Musical Instruments reviews in ../shared/data (skipped when absent).

The chain runs as the stages run it, with a tiny random Llama writing the explanations: its texts are junk,
but the time split, the histories, the autoencoders and the recommender all work on the real interactions.
"""

from __future__ import annotations

import pytest
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from explainrec.core.domain_prompts import ExplainConfig
from explainrec.core.domain_prompts import resolve_domain
from explainrec.core.recommender.autoencoder import AutoencoderConfig
from explainrec.core.recommender.model import ModelConfig
from explainrec.core.recommender.train import TrainConfig
from explainrec.data.adapters.amazon import load
from explainrec.data.kcore import FilterConfig, filter_dataset
from explainrec.data.split import SplitConfig, split_interactions
from explainrec.llm import LLMSpec, open_llm
from explainrec.lrrecsys.embeddings import EmbedConfig, embed_explanations, load_embeddings, save_embedded
from explainrec.lrrecsys.experiment import RunConfig, run_experiment
from explainrec.lrrecsys.explain import explain_pairs
from explainrec.lrrecsys.pairs import PairsConfig, build_pair_table, time_sides, untimed_users


def test_chain_on_real_amazon_reviews(amazon_mi, tiny_model_dir, tmp_path):
    ds = filter_dataset(load(amazon_mi), FilterConfig(user_core=3, item_core=3, max_users=150, max_items=40), seed=3)
    inter = ds.interactions
    parts = split_interactions(inter, SplitConfig(), seed=3)
    pairs = build_pair_table(parts, inter, PairsConfig(max_train=None, max_test=None), seed=3)
    sides = time_sides(inter, 0.8)  # the paper's split: every review is a pair, each user's last 20 % in time test
    assert untimed_users(inter) == set() and sides.notna().all()
    n_train, n_test = int((sides == "train").sum()), int((sides == "test").sum())
    assert (pairs["split"] == "train").sum() == n_train and len(pairs) == len(inter)
    assert pairs["history"].map(len).max() >= 1
    when = {(u, i): t for u, i, t in zip(inter["user_id"], inter["item_id"], inter["timestamp"])}
    side = dict(zip(zip(inter["user_id"], inter["item_id"]), sides))
    assert all(when[(r.user_id, h)] < r.timestamp for r in pairs.itertuples() for h in r.history)
    assert all(side[(r.user_id, h)] == "train" for r in pairs[pairs.split == "train"].itertuples() for h in r.history)

    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), device="cpu", dtype="float32",
                   batch_size=16, max_new_tokens=8)
    llm = open_llm(spec, cache_path=tmp_path / "cache", progress=False)
    expl, m = explain_pairs(pairs, ds.items, {}, llm, ExplainConfig(max_new_tokens=8), resolve_domain("auto", "amazon"))
    assert m["pairs"] == n_train + n_test and expl["positive"].str.startswith("The consumer purchased this product because").all()
    emb = embed_explanations(expl, EmbedConfig(), autoencoder=AutoencoderConfig(epochs=5), progress=False)
    (tmp_path / "emb").mkdir()
    save_embedded(emb, tmp_path / "emb")
    texts = load_embeddings(tmp_path / "emb", pairs["pair_id"].tolist())
    run = run_experiment(pairs, texts, RunConfig(), ModelConfig(), TrainConfig(epochs=5), seeds=2, seed=3,
                         progress=False)
    assert run.metrics["test_pairs"] == n_test and run.metrics["autoencoder"]["texts"] == 2 * n_train
    reg = run.predictions[run.predictions.task == "regression"]
    truth = (pairs["rating"][pairs.split == "test"].to_numpy() - 1) / 4
    for k, s in enumerate(run.metrics["seeds"]):  # sklearn's RMSE and MAE of the written predictions, both scales
        y = reg[reg.seed == s]["prediction"].to_numpy()
        assert run.metrics["rmse"]["per_seed"][k] == pytest.approx(root_mean_squared_error(truth, y), rel=1e-6)
        assert run.metrics["mae_5"]["per_seed"][k] == pytest.approx(mean_absolute_error(1 + 4 * truth, 1 + 4 * y),
                                                                    rel=1e-6)
