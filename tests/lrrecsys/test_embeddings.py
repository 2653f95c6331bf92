"""Explanation embeddings: the autoencoder learns from train explanations only; Ablation 2's LLM and sentence-encoder vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainrec.errors import ExplainrecError, InputError
from explainrec.lrrecsys.autoencoder import AutoencoderConfig
from explainrec.lrrecsys.embeddings import EmbedConfig, embed_explanations, llm_hidden_embeddings, read_embeddings
from tests.cpeg import minilm_dir

EXPL = pd.DataFrame({
    "pair_id": ["a", "b", "c", "d"], "split": ["train", "train", "train", "test"],
    "positive": ["The consumer watched this movie because it is funny", "The consumer watched this movie because of war",
                 "The consumer watched this movie because of music", "The consumer watched this movie because zebras"],
    "negative": ["The consumer did not watch this movie because it is sad", "The consumer did not watch it",
                 "The consumer did not watch this movie because of noise", "The consumer did not watch giraffes"],
})


def test_autoencoder_learns_from_train_only(tmp_path):
    ae = AutoencoderConfig(epochs=30, batch_size=4)
    out = embed_explanations(EXPL, EmbedConfig(), seed=1, autoencoder=ae, progress=False)
    m = out.metrics
    assert m["train_pairs"] == 3 and m["dim"] == 8 and m["mlp_parameters"] == 52224
    assert m["train_token_accuracy"] > m["chance_token_accuracy"]
    assert m["test_unknown_share"] > 0  # 'zebras' and 'giraffes' are test-only words
    assert "zebras" not in out.fit.vocab.words
    path = tmp_path / "e.parquet"
    out.table.to_parquet(path)
    vec = read_embeddings(path, ["d", "a"])
    assert vec.shape == (2, 2, 8) and np.allclose(vec[1, 0], out.table["positive"][0])
    with pytest.raises(InputError, match="pair_id"):
        read_embeddings(path, ["zz"])


def test_llm_hidden_states_and_sentence_encoder(tiny_model_dir):
    out = embed_explanations(EXPL, EmbedConfig(encoder="llm"), seed=1, llm_model=tiny_model_dir, progress=False)
    assert out.metrics["dim"] == 32 and out.fit is None
    vec = np.stack(out.table["positive"])
    assert vec.shape == (4, 32) and not np.allclose(vec[0], vec[1])
    again = llm_hidden_embeddings(tiny_model_dir, EXPL["positive"].tolist())
    assert np.allclose(again, vec, atol=1e-5)
    sent = embed_explanations(EXPL, EmbedConfig(encoder="sentence"), seed=1, encoder_folder=minilm_dir())
    s = np.stack(sent.table["negative"])
    assert s.shape == (4, 384) and np.allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-4)
    with pytest.raises(ExplainrecError, match="weights"):
        llm_hidden_embeddings(tiny_model_dir.parent / "nowhere", ["x"])
