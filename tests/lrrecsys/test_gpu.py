"""The LR-Recsys fit on a CUDA GPU (marked ``gpu``: skipped with the reason where there is none)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from explainrec.core.recommender.model import ModelConfig
from explainrec.core.recommender.train import fit, predict, regression_metrics
from tests.lrrecsys.test_train import FAST, N_ITEMS, N_USERS, data

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("arch", ["dnn", "ncf"])
def test_a_fit_on_the_gpu_learns_like_the_cpu_one_and_comes_back_on_the_cpu(arch):
    x, r = data(240, 0)
    test, rt = data(80, 1)
    config = dataclasses.replace(ModelConfig(), arch=arch)
    cpu = fit(config, FAST, x, r, "regression", N_USERS, N_ITEMS, seed=3)
    gpu = fit(config, dataclasses.replace(FAST, device="cuda"), x, r, "regression", N_USERS, N_ITEMS, seed=3)
    assert all(p.device.type == "cpu" for p in gpu.model.parameters())
    y_cpu, _ = predict(cpu.model, test)
    y_gpu, _ = predict(gpu.model, test)
    # the same seeded start and batches: the two curves agree to float32 rounding, not bit for bit
    np.testing.assert_allclose(gpu.train_loss, cpu.train_loss, rtol=1e-3)
    np.testing.assert_allclose(y_gpu, y_cpu, atol=1e-3)
    assert regression_metrics(y_gpu, rt)["rmse"] < 0.45
