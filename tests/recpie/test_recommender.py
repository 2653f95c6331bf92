"""f(x, e): LR-Recsys's DNN, cold and warm-started, on embedded explanations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainrec.core.errors import ExplainrecError
from explainrec.core.recommender.encoded import encode_pairs
from explainrec.core.recommender.model import ModelConfig
from explainrec.core.recommender.train import TrainConfig, predict, validation_split
from explainrec.recpie.recommender import (TextEmbedder, fit_recommender, user_table, validation_rows, weight_change,
                                           with_explanations)
from tests.recpie.conftest import HashingEncoder, tiny_pairs


def _data():
    pairs, _ = tiny_pairs()
    rng = np.random.default_rng(0)
    enc = encode_pairs(pairs, rng.normal(size=(len(pairs), 2, 16)).astype(np.float32), 2)
    return enc


def test_warm_start_starts_from_the_given_weights_and_keeps_them_unless_training_beats_them():
    enc = _data()
    mc = ModelConfig(history=2)
    cold = fit_recommender(mc, TrainConfig(epochs=20, patience=0, val_fraction=0.25), enc.train, enc.train_ratings,
                           enc.n_users, enc.n_items, 0)
    assert 1 <= cold.best_epoch <= 20
    state = {k: v.clone() for k, v in cold.model.state_dict().items()}
    assert weight_change(None, cold.model) is None and weight_change(state, cold.model) == 0.0
    # a learning rate that only makes the validation loss worse: the warm start's weights are kept, as they were
    kept = fit_recommender(mc, TrainConfig(epochs=3, patience=0, val_fraction=0.25, learning_rate=50.0), enc.train,
                           enc.train_ratings, enc.n_users, enc.n_items, 0, initial=state)
    assert kept.best_epoch == 0 and kept.epochs_run == 3 and weight_change(state, kept.model) == 0.0
    # new explanation vectors that tell the rating: training from the given weights beats them on the same
    # validation slice
    informative = enc.train.explanations.numpy().copy()
    informative[:, :, 0] = 4 * (enc.train_ratings[:, None] - 3)
    moved_in = with_explanations(enc.train, informative)
    moved = fit_recommender(mc, TrainConfig(epochs=5, patience=0, val_fraction=0.25, learning_rate=0.05), moved_in,
                            enc.train_ratings, enc.n_users, enc.n_items, 0, initial=state)
    assert moved.best_epoch >= 1
    diff = sum(float(((moved.model.state_dict()[k] - v) ** 2).sum()) for k, v in state.items()
               if v.is_floating_point()) ** 0.5
    assert weight_change(state, moved.model) == pytest.approx(diff, rel=1e-6) and diff > 0
    # epochs=1 with a tiny learning rate and no validation: the warm model is the given one, up to the step
    same = fit_recommender(mc, TrainConfig(epochs=1, learning_rate=1e-12, val_fraction=0.0), enc.train,
                           enc.train_ratings, enc.n_users, enc.n_items, 1, initial=state).model
    torch.testing.assert_close(user_table(same), state["users.weight"], atol=1e-8, rtol=0)
    y_hat, _ = predict(same, enc.test)
    assert y_hat.shape == (len(enc.test),) and ((y_hat > 0) & (y_hat < 1)).all()


def test_validation_rows_are_those_fit_holds_out_and_depend_on_the_seed_only():
    enc = _data()
    tc = TrainConfig(val_fraction=0.25)
    rows = validation_rows(len(enc.train), tc, 0)
    assert len(rows) == 3 and np.array_equal(rows, validation_split(len(enc.train), 0.25, 0)[1])
    assert any(not np.array_equal(rows, validation_rows(len(enc.train), tc, s)) for s in range(1, 4))


def test_with_explanations_replaces_only_the_vectors():
    enc = _data()
    v = np.ones((len(enc.test), 2, 5), np.float32)
    x = with_explanations(enc.test, v)
    assert x.d_in == 5 and torch.equal(x.user, enc.test.user) and torch.equal(x.history, enc.test.history)


def test_text_embedder_sentence_and_autoencoder():
    s = TextEmbedder("sentence", HashingEncoder())
    a = s(["the user likes drama", "funny story", "the user likes drama"])
    assert a.shape == (3, 16) and np.allclose(a[0], a[2]) and np.allclose(np.linalg.norm(a, axis=1), 1)
    from explainrec.core.recommender.autoencoder import AutoencoderConfig

    ae = TextEmbedder("autoencoder", autoencoder_config=AutoencoderConfig(max_len=8, epochs=2, hidden=8), seed=0)
    with pytest.raises(ExplainrecError, match="autoencoder"):
        ae(["x"])
    ae.fit_autoencoder(["the user likes drama", "the user likes funny story"])
    b = ae(["the user likes drama", "unknown words here"])
    assert b.shape == (2, 8) and np.isfinite(b).all()
