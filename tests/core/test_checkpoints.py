"""The digests checkpoint keys are built from: one change to data or weights, another key."""

from __future__ import annotations

import numpy as np
import torch

from explainrec.core.checkpoints import array_digest, fingerprint, state_digest


def test_array_digest_sees_values_dtype_shape_order_and_none():
    a = np.arange(6, dtype=np.float32)
    base = array_digest(a, None)
    assert array_digest(a.copy(), None) == base
    assert array_digest(torch.from_numpy(a.copy()), None) == base  # a tensor digests as its array
    changed = a.copy()
    changed[3] += 1e-6
    assert len({base, array_digest(changed, None), array_digest(a.astype(np.float64), None),
                array_digest(a.reshape(2, 3), None), array_digest(None, a), array_digest(a)}) == 6


def test_state_digest_sees_names_and_values_not_insertion_order():
    w, b = torch.ones(2, 2), torch.zeros(2)
    state = {"w": w, "b": b}
    assert state_digest(state) == state_digest({"b": b.clone(), "w": w.clone()})
    assert state_digest(state) != state_digest({"weight": w, "b": b})
    assert state_digest(state) != state_digest({"w": w * 2, "b": b})
    assert state_digest(None) is None
    assert fingerprint(state_digest(state)) != fingerprint(state_digest({"w": w}))
