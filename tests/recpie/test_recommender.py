"""f(x, e): LR-Recsys's DNN, cold and warm-started, on embedded explanations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainrec.errors import ExplainrecError
from explainrec.lrrecsys.experiment import encode_pairs
from explainrec.lrrecsys.model import ModelConfig
from explainrec.lrrecsys.train import TrainConfig, _mean_loss, _split, predict, targets
from explainrec.recpie.recommender import TextEmbedder, fit_recommender, user_table, with_explanations
from tests.recpie.conftest import HashingEncoder, tiny_pairs


def _data():
    pairs, _ = tiny_pairs()
    rng = np.random.default_rng(0)
    enc = encode_pairs(pairs, rng.normal(size=(len(pairs), 2, 16)).astype(np.float32), 2)
    return enc


def test_warm_start_continues_from_the_given_weights_and_never_gets_worse_on_validation():
    enc = _data()
    mc, tc = ModelConfig(history=2), TrainConfig(epochs=20, patience=0, val_fraction=0.25)
    cold = fit_recommender(mc, tc, enc.train, enc.train_ratings, enc.n_users, enc.n_items, 0)
    state = {k: v.clone() for k, v in cold.state_dict().items()}
    _, val = _split(len(enc.train), tc.val_fraction, 1)
    y = torch.from_numpy(targets(enc.train_ratings, "regression"))
    before = _mean_loss(cold, enc.train.subset(val), y[val], "regression", 64)
    warm = fit_recommender(mc, TrainConfig(epochs=3, patience=0, val_fraction=0.25), enc.train, enc.train_ratings,
                           enc.n_users, enc.n_items, 1, initial=state)
    after = _mean_loss(warm, enc.train.subset(val), y[val], "regression", 64)
    assert after <= before + 1e-7
    # epochs=1 with a zero learning rate changes nothing: the warm model is the given one
    same = fit_recommender(mc, TrainConfig(epochs=1, learning_rate=1e-12, val_fraction=0.0), enc.train,
                           enc.train_ratings, enc.n_users, enc.n_items, 1, initial=state)
    torch.testing.assert_close(user_table(same), state["users.weight"], atol=1e-8, rtol=0)
    y_hat, _ = predict(same, enc.test)
    assert y_hat.shape == (len(enc.test),) and ((y_hat > 0) & (y_hat < 1)).all()


def test_with_explanations_replaces_only_the_vectors():
    enc = _data()
    v = np.ones((len(enc.test), 2, 5), np.float32)
    x = with_explanations(enc.test, v)
    assert x.d_in == 5 and torch.equal(x.user, enc.test.user) and torch.equal(x.history, enc.test.history)


def test_text_embedder_sentence_and_autoencoder():
    s = TextEmbedder("sentence", HashingEncoder())
    a = s(["the user likes drama", "funny story", "the user likes drama"])
    assert a.shape == (3, 16) and np.allclose(a[0], a[2]) and np.allclose(np.linalg.norm(a, axis=1), 1)
    from explainrec.lrrecsys.autoencoder import AutoencoderConfig

    ae = TextEmbedder("autoencoder", autoencoder_config=AutoencoderConfig(max_len=8, epochs=2, hidden=8), seed=0)
    with pytest.raises(ExplainrecError, match="autoencoder"):
        ae(["x"])
    ae.fit_autoencoder(["the user likes drama", "the user likes funny story"])
    b = ae(["the user likes drama", "unknown words here"])
    assert b.shape == (2, 8) and np.isfinite(b).all()
