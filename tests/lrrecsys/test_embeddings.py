"""Explanation embeddings: the autoencoder entry's texts and settings, the autoencoder fitted on the given train rows
only; Ablation 2's LLM and sentence-encoder vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainrec.core.errors import ExplainrecError, InputError
from explainrec.core.recommender.autoencoder import AutoencoderConfig, Vocabulary, embed, tokenize, train_autoencoder
from explainrec.lrrecsys.embeddings import (AutoencoderTexts, EmbedConfig, autoencoder_embeddings, embed_explanations,
                                            llm_hidden_embeddings, load_embeddings, read_embeddings, save_embedded)
from tests.cpeg import minilm_dir

EXPL = pd.DataFrame({
    "pair_id": ["a", "b", "c", "d"], "split": ["train", "train", "train", "test"],
    "positive": ["The consumer watched this movie because it is funny", "The consumer watched this movie because of war",
                 "The consumer watched this movie because of music", "The consumer watched this movie because zebras"],
    "negative": ["The consumer did not watch this movie because it is sad", "The consumer did not watch it",
                 "The consumer did not watch this movie because of noise", "The consumer did not watch giraffes"],
})


def test_autoencoder_entry_writes_texts_and_settings(tmp_path):
    ae = AutoencoderConfig(epochs=30, batch_size=4)
    out = embed_explanations(EXPL, EmbedConfig(), autoencoder=ae, progress=False)
    assert out.autoencoder == ae and out.metrics["train_pairs"] == 3 and out.metrics["dim"] == 8
    assert out.metrics["train_vocabulary"] == len(Vocabulary.build(EXPL.positive[:3].tolist() + EXPL.negative[:3].tolist()))
    pd.testing.assert_frame_equal(out.table, EXPL)
    save_embedded(out, tmp_path)
    texts = load_embeddings(tmp_path, ["d", "a"])
    assert isinstance(texts, AutoencoderTexts) and texts.config == ae
    assert texts.positive == [EXPL.positive[3], EXPL.positive[0]] and texts.negative[1] == EXPL.negative[0]
    with pytest.raises(InputError, match="pair_id"):
        load_embeddings(tmp_path, ["zz"])


def test_autoencoder_learns_from_the_given_train_rows_only():
    texts = AutoencoderTexts(EXPL.positive.tolist(), EXPL.negative.tolist(), AutoencoderConfig(epochs=30, batch_size=4))
    run = autoencoder_embeddings(texts, [0, 1, 2], seed=1, test_rows=[3], checkpoint_name=None)
    m = run.metrics
    assert m["texts"] == 6 and m["seed"] == 1 and m["train_token_accuracy"] > m["chance_token_accuracy"]
    assert m["test_unknown_share"] > 0 and "zebras" not in run.fit.vocab.words  # test-only words
    assert run.vectors.shape == (4, 2, 8)
    assert np.array_equal(run.vectors[:, 1], embed(run.fit, None, EXPL.negative.tolist()))
    direct = train_autoencoder(EXPL.positive[:3].tolist() + EXPL.negative[:3].tolist(), texts.config, 1, progress=False)
    assert direct.losses == run.fit.losses
    one = autoencoder_embeddings(texts, [0], seed=1, negatives=False, checkpoint_name=None)
    assert one.metrics["texts"] == 1 and set(one.fit.vocab.words) == set(tokenize(EXPL.positive[0]))
    other_seed = autoencoder_embeddings(texts, [0, 1, 2], seed=2, checkpoint_name=None)
    assert not np.allclose(other_seed.vectors, run.vectors)


def test_llm_hidden_states_and_sentence_encoder(tiny_model_dir, tmp_path):
    out = embed_explanations(EXPL, EmbedConfig(encoder="llm"), llm_model=tiny_model_dir, progress=False)
    assert out.metrics["dim"] == 32 and out.autoencoder is None
    vec = np.stack(out.table["positive"])
    assert vec.shape == (4, 32) and not np.allclose(vec[0], vec[1])
    again = llm_hidden_embeddings(tiny_model_dir, EXPL["positive"].tolist())
    assert np.allclose(again, vec, atol=1e-5)
    sent = embed_explanations(EXPL, EmbedConfig(encoder="sentence"), encoder_folder=minilm_dir())
    s = np.stack(sent.table["negative"])
    assert s.shape == (4, 384) and np.allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-4)
    with pytest.raises(ExplainrecError, match="weights"):
        llm_hidden_embeddings(tiny_model_dir.parent / "nowhere", ["x"])
    folder = tmp_path / "sent"
    folder.mkdir()
    save_embedded(sent, folder)
    vec = load_embeddings(folder, ["d", "a"])
    assert vec.shape == (2, 2, 384) and np.allclose(vec[1, 1], sent.table["negative"][0])
    with pytest.raises(InputError, match="pair_id"):
        read_embeddings(folder / "embeddings.parquet", ["zz"])
