"""The MoE adapters (XRec's MoEAdaptorLayer)."""

from __future__ import annotations

import pytest
import torch

from explainrec.core.errors import ParamError
from explainrec.xrec.moe import Adapters, MoEAdapter, MoEConfig


def test_shapes_and_parameter_count():
    a = Adapters(64, 576, MoEConfig())
    u, i = a(torch.randn(3, 64), torch.randn(3, 64))
    assert u.shape == i.shape == (3, 576)
    # per adapter: 8 experts of 64x576 weights and a 64 offset, plus the two 64x8 gate matrices
    assert sum(p.numel() for p in a.user.parameters()) == 8 * (64 * 576 + 64) + 2 * 64 * 8


def test_an_untrained_adapter_averages_its_experts_and_eval_is_deterministic():
    torch.manual_seed(0)
    m = MoEAdapter(8, 16, MoEConfig(dropout=0.0)).eval()
    x = torch.randn(5, 8)
    assert torch.allclose(m.gates(x), torch.full((5, 8), 1 / 8))
    mean = torch.stack([e(x) for e in m.experts]).mean(0)
    assert torch.allclose(m(x), mean, atol=1e-6)
    assert torch.equal(m(x), m(x))


def test_noise_and_dropout_only_in_training():
    torch.manual_seed(0)
    m = MoEAdapter(8, 16, MoEConfig())
    with torch.no_grad():
        m.w_gate.normal_()
    x = torch.randn(4, 8)
    m.train()
    assert not torch.allclose(m.gates(x), m.gates(x))  # noisy gating (std >= 0.01)
    m.eval()
    assert torch.equal(m.gates(x), m.gates(x))
    assert torch.allclose(m.gates(x).sum(-1), torch.ones(4))


def test_experts_start_small_and_bias_free():
    torch.manual_seed(0)
    m = MoEAdapter(64, 256)
    w = torch.cat([e.linear.weight.detach().flatten() for e in m.experts])
    assert abs(float(w.std()) - 0.02) < 0.002 and all(e.linear.bias is None for e in m.experts)


@pytest.mark.parametrize("field,value", [("experts", 0), ("dropout", 1.0), ("noisy_gating", "yes")])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ParamError) as e:
        MoEConfig(**{field: value})
    assert e.value.param == field


def test_adapters_take_inputs_of_any_float_dtype_on_their_own_device():
    """Graph vectors may come as float64 (numpy's default): they are cast to the adapters' float32."""
    torch.manual_seed(0)
    a = Adapters(8, 16, MoEConfig(dropout=0.0)).eval()
    x = torch.randn(3, 8, dtype=torch.float64)
    u, i = a(x, x)
    assert a.device == torch.device("cpu") and u.dtype == i.dtype == torch.float32
    assert torch.equal(u, a.user(x.float())) and torch.equal(i, a.item(x.float()))
