"""The LR-Recsys DNN (§3.5, App. A.2/A.3), its ablation variants (C.5) and the NCF of Robustness Check 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explainrec.core.errors import ParamError
from explainrec.core.recommender import model as M
from explainrec.core.recommender.model import (NCF, Inputs, LRRecsysDNN, ModelConfig, SelfAttention, SequenceEncoder,
                                       build_model, mean_attention, ncf_embedding_dim, parameter_count)

N_USERS, N_ITEMS = 20, 30



def inputs(b: int = 6, k: int = 2, d_in: int = 8, n: int = 5, seed: int = 0) -> Inputs:
    g = torch.Generator().manual_seed(seed)
    history = torch.randint(1, N_ITEMS + 1, (b, n), generator=g)
    lengths = torch.arange(b) % (n + 1)  # 0 (all padding) .. n real items
    history[torch.arange(n)[None] < (n - lengths)[:, None]] = 0  # left padding
    return Inputs(torch.randint(0, N_USERS, (b,), generator=g), torch.randint(1, N_ITEMS + 1, (b,), generator=g),
                  history, torch.randn(b, k, d_in, generator=g))


def test_self_attention_shapes_rows_and_mask():
    torch.manual_seed(0)
    att = SelfAttention(8)
    x = torch.randn(3, 4, 8)
    z, a = att(x)
    assert z.shape == (3, 4, 8) and a.shape == (3, 4, 4)
    torch.testing.assert_close(a.sum(-1), torch.ones(3, 4))
    # Eqs. 6-9 by hand
    q, k, v = x @ att.query.weight.T, x @ att.key.weight.T, x @ att.value.weight.T
    alpha = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(8), dim=-1)
    torch.testing.assert_close(a, alpha)
    torch.testing.assert_close(z, alpha @ v)
    assert all(m.bias is None for m in (att.query, att.key, att.value))

    mask = torch.tensor([[True, True, True, True], [False, False, True, True], [False, False, False, False]])
    z, a = att(x, mask)
    assert not torch.isnan(z).any() and not torch.isnan(a).any()
    torch.testing.assert_close(a.sum(-1), torch.ones(3, 4))
    assert torch.all(a[1, :, :2] == 0)
    torch.testing.assert_close(a[2], att(x[2:3])[1][0])  # all keys masked: the unmasked attention


def test_sequence_encoder_ignores_left_padding():
    torch.manual_seed(0)
    items = torch.nn.Embedding(N_ITEMS + 1, 8, padding_idx=0)
    enc = SequenceEncoder(items, 8)
    h = enc(torch.tensor([[0, 0, 4, 7, 9], [4, 7, 9, 1, 2], [0, 0, 0, 0, 0], [0, 0, 0, 0, 5]]))
    assert h.shape == (4, 8) and not torch.isnan(h).any()
    torch.testing.assert_close(h[0], enc(torch.tensor([[4, 7, 9]]))[0])  # padding changes nothing
    torch.testing.assert_close(h[2], torch.zeros(8))  # no real item: the zero vector
    # by hand: self-attention over the real items, then the GRU from h_1 = z_1 (Eqs. 10-13)
    z, _ = enc.attention(items(torch.tensor([[4, 7, 9]])))
    _, h_n = enc.gru(z[:, 1:], z[:, 0][None])
    torch.testing.assert_close(h[0], h_n[0, 0])
    z1, _ = enc.attention(items(torch.tensor([[5]])))
    torch.testing.assert_close(h[3], z1[0, 0])  # one item: h_n = h_1 = z_1


@pytest.mark.parametrize("explanations", ["given", "free", "none"])
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("d_in", [8, 32])
def test_dnn_shapes(explanations: str, k: int, d_in: int):
    torch.manual_seed(0)
    config = ModelConfig(explanations=explanations, n_explanations=k)
    m = build_model(config, N_USERS, N_ITEMS, d_in)
    assert isinstance(m, LRRecsysDNN)
    tokens = {"given": ("pos", "neg")[:k], "free": ("pos", "neg")[:k], "none": ()}[explanations]
    assert m.tokens == (*tokens, "user", "item", "seq")
    y, a = m(inputs(k=2, d_in=d_in))
    t = len(m.tokens)
    assert y.shape == (6,) and a.shape == (6, t, t)
    assert torch.all((y > 0) & (y < 1)) and not torch.isnan(y).any()
    torch.testing.assert_close(a.sum(-1), torch.ones(6, t))
    assert isinstance(m.explanations.project, torch.nn.Linear) == (explanations == "given" and d_in != 8)
    assert m.sequence.items is m.items  # history items looked up in E_p
    assert parameter_count(m) == M._dnn_parameters(config, N_USERS, N_ITEMS, d_in)


@pytest.mark.parametrize("explanations", ["given", "free", "none"])
@pytest.mark.parametrize("d_in", [8, 32])
def test_ncf_shapes_and_parameter_count(explanations: str, d_in: int):
    config = ModelConfig(arch="ncf", explanations=explanations)
    torch.manual_seed(0)
    m = build_model(config, N_USERS, N_ITEMS, d_in)
    assert isinstance(m, NCF) and m.embedding_dim == ncf_embedding_dim(N_USERS, N_ITEMS, config, d_in)
    y, a = m(inputs(d_in=d_in))
    assert y.shape == (6,) and a is None and torch.all((y > 0) & (y < 1))
    dnn = build_model(ModelConfig(explanations=explanations), N_USERS, N_ITEMS, d_in)
    assert abs(parameter_count(m) - parameter_count(dnn)) / parameter_count(dnn) < 0.03
    # no embedding size is closer to the DNN's count
    others = [M._ncf_parameters(config, N_USERS, N_ITEMS, d_in, e) for e in range(1, 3 * m.embedding_dim)]
    assert parameter_count(m) == min(others, key=lambda c: abs(c - parameter_count(dnn)))


def test_paper_sized_parameter_counts():
    dnn = build_model(ModelConfig(), 50, 100, 8)
    ncf = build_model(ModelConfig(arch="ncf"), 50, 100, 8)
    assert (parameter_count(dnn), parameter_count(ncf), ncf.embedding_dim) == (5177, 5087, 18)


def test_free_vectors_ignore_the_explanations_and_given_ones_read_them():
    a, b = inputs(seed=0), inputs(seed=0)
    b.explanations = torch.randn_like(a.explanations)
    for explanations, same in (("free", True), ("none", True), ("given", False)):
        torch.manual_seed(0)
        m = build_model(ModelConfig(explanations=explanations), N_USERS, N_ITEMS, 8)
        assert torch.equal(m(a)[0], m(b)[0]) == same, explanations
    torch.manual_seed(0)
    m = build_model(ModelConfig(explanations="free"), N_USERS, N_ITEMS, 8)
    t = m.explanations(a)
    assert torch.equal(t[0], t[-1]) and t.shape == (6, 2, 8)  # one set of vectors for every sample


def test_positive_only_reads_the_first_explanation():
    torch.manual_seed(0)
    m = build_model(ModelConfig(n_explanations=1), N_USERS, N_ITEMS, 8)
    a = inputs()
    b = Inputs(a.user, a.item, a.history, a.explanations.clone())
    b.explanations[:, 1] = 7.0
    assert torch.equal(m(a)[0], m(b)[0])
    assert torch.equal(m(a)[0], m(a.subset(slice(None)))[0])
    with pytest.raises(ParamError, match="inputs.explanations"):
        build_model(ModelConfig(), N_USERS, N_ITEMS, 8)(inputs(k=1))


def test_mean_attention_eq24_by_hand():
    alpha = np.array([[[0.5, 0.3, 0.2],
                       [0.1, 0.6, 0.3],
                       [0.4, 0.4, 0.2]]])
    out = mean_attention(alpha, ("pos", "neg", "user"))
    np.testing.assert_allclose(out["pos"], [(0.5 + 0.1 + 0.4) / 3])
    np.testing.assert_allclose(out["neg"], [(0.3 + 0.6 + 0.4) / 3])
    np.testing.assert_allclose(out["user"], [(0.2 + 0.3 + 0.2) / 3])
    torch.manual_seed(0)
    m = build_model(ModelConfig(), N_USERS, N_ITEMS, 8)
    _, a = m(inputs())
    values = mean_attention(a, m.tokens)
    assert set(values) == set(m.tokens) and values["pos"].shape == (6,)
    np.testing.assert_allclose(sum(values.values()), np.ones(6), rtol=1e-6)
    with pytest.raises(ParamError, match="attention"):
        mean_attention(alpha, ("pos", "neg"))


def test_config_and_inputs_are_checked():
    assert ModelConfig(mlp=[64, 8]).mlp == (64, 8)
    for bad in ({"arch": "rnn"}, {"dim": 0}, {"explanations": "random"}, {"n_explanations": 3},
                {"mlp": [64, 0]}, {"history": 0}):
        with pytest.raises(ParamError, match=next(iter(bad))):
            ModelConfig(**bad)
    x = inputs()
    assert len(x) == 6 and len(x.subset(np.array([0, 2]))) == 2 and x.subset([1]).user.tolist() == [x.user[1].item()]
    with pytest.raises(ParamError, match="inputs.history"):
        Inputs(x.user, x.item, x.history[:3], x.explanations)
    with pytest.raises(ParamError, match="inputs.history"):
        build_model(ModelConfig(history=4), N_USERS, N_ITEMS, 8)(x)
