"""The decoding loop on a CUDA GPU (tests marked ``gpu`` skip with the reason where there is none)."""

from __future__ import annotations

import dataclasses

import pytest

from explainrec.llm import GenerationConfig
from explainrec.llm.prefix import PrefixStore
from tests.llm.test_decode import SHARED, decode, prompts_of
from tests.llm.test_local import varied_requests

pytestmark = pytest.mark.gpu
DEVICE = "cuda"


@pytest.fixture(scope="module")
def cuda_backend(tiny_spec):
    from explainrec.llm.local import TransformersBackend

    return TransformersBackend(dataclasses.replace(tiny_spec, device=DEVICE, dtype="float32"))


def test_the_model_and_its_outputs_live_on_the_gpu(cuda_backend):
    assert cuda_backend.model.device.type == "cuda"
    assert cuda_backend.machine["device"].startswith("cuda") and cuda_backend.machine.get("gpu")


def test_prefix_reuse_on_the_gpu_gives_the_same_greedy_tokens(cuda_backend):
    requests = [dataclasses.replace(r, messages=(("system", SHARED),) + tuple(m for m in r.messages if m[0] != "system"))
                for r in varied_requests(6, max_new_tokens=10)]
    prompts = prompts_of(cuda_backend, requests)
    params = GenerationConfig(max_new_tokens=10)
    plain = decode(cuda_backend, prompts, params, store=None, drop=False)
    reused = decode(cuda_backend, prompts, params, store=PrefixStore(64 * 2**20))
    one_by_one = [decode(cuda_backend, [p], params)[0] for p in prompts]
    assert reused == plain == one_by_one
    assert all(len(ids) > 0 for ids in plain)


def test_sampling_on_the_gpu_is_seeded(cuda_backend):
    prompts = prompts_of(cuda_backend, varied_requests(3, max_new_tokens=8))
    params = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=3)
    assert decode(cuda_backend, prompts, params) == decode(cuda_backend, prompts, params)
