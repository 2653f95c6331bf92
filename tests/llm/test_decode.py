"""The decoding loop: prefix reuse and dropping finished rows change no greedy token (tiny random Llama)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from explainrec.llm import ChatRequest, GenerationConfig
from explainrec.llm.decode import DecodeProfile, decode_batch
from explainrec.llm.prefix import PrefixStore, common_prefix_len
from tests.llm.test_local import varied_requests

SHARED = "You explain recommendations to users of a film site, in two plain sentences, and never use lists. "


def prompts_of(backend, requests) -> list[list[int]]:
    return [backend.token_ids(r) for r in requests]


def decode(backend, prompts, params, store=None, drop=True, eos=None, profile=None):
    rows = decode_batch(backend.model, prompts, params, pad_id=backend.pad_id,
                        eos_ids=backend.eos_ids if eos is None else eos, store=store, drop_finished=drop,
                        profile=profile)
    return [r.ids for r in rows]


@pytest.fixture(scope="module")
def shared_requests():
    """A shared system message, then user turns of clearly different lengths."""
    words = "space operas jazz rainy towns slow dramas documentaries about musicians and painters".split()
    return [ChatRequest.of(SHARED, " ".join(words[: 1 + (3 * i) % len(words)]) + f" (user {i})", max_new_tokens=10)
            for i in range(6)]


def test_prefix_reuse_gives_the_same_greedy_tokens(tiny_backend, shared_requests):
    prompts = prompts_of(tiny_backend, shared_requests)
    assert len({len(p) for p in prompts}) >= 4  # different lengths in one batch
    params = GenerationConfig(max_new_tokens=10)
    plain = decode(tiny_backend, prompts, params, store=None, drop=False)
    one_by_one = [decode(tiny_backend, [p], params, store=None)[0] for p in prompts]
    store, prof = PrefixStore(64 * 2**20), DecodeProfile()
    reused = decode(tiny_backend, prompts, params, store=store, profile=prof)
    assert reused == plain == one_by_one
    shared = min(common_prefix_len(np.asarray(prompts[0]), np.asarray(p)) for p in prompts[1:])
    assert prof.prefix_tokens == shared >= 16  # the common opening was computed once ...
    assert prof.reused_tokens == shared * len(prompts)  # ... and every row took it
    assert prof.prefill_tokens == sum(len(p) for p in prompts) - prof.reused_tokens


def test_a_retry_reuses_its_first_prompt(tiny_backend, shared_requests):
    """P_retry = P's opening + error examples: the second call prefills only what is new."""
    store = PrefixStore(64 * 2**20)
    params = GenerationConfig(max_new_tokens=8)
    first = prompts_of(tiny_backend, shared_requests[:3])
    decode(tiny_backend, first, params, store=store)
    retries = [dataclasses.replace(r, messages=r.messages[:-1] + (("user", r.messages[-1][1] + " Not [2]: wrong."),))
               for r in shared_requests[:3]]
    second = prompts_of(tiny_backend, retries)
    prof = DecodeProfile()
    reused = decode(tiny_backend, second, params, store=store, profile=prof)
    assert reused == decode(tiny_backend, second, params, store=None)
    opening = [common_prefix_len(np.asarray(a), np.asarray(b)) for a, b in zip(first, second)]
    assert prof.reused_tokens == sum(opening) and prof.prefix_tokens == 0


def test_dropping_finished_rows_changes_nothing(tiny_backend):
    requests = varied_requests(6, max_new_tokens=12)
    prompts = prompts_of(tiny_backend, requests)
    params = GenerationConfig(max_new_tokens=12)
    free = decode(tiny_backend, prompts, params, eos=set())
    # a token the first row emits early ends some rows sooner than others
    eos = {free[0][2]}
    kept, dropped = DecodeProfile(), DecodeProfile()
    a = decode(tiny_backend, prompts, params, drop=False, eos=eos, profile=kept)
    b = decode(tiny_backend, prompts, params, drop=True, eos=eos, profile=dropped)
    assert a == b
    assert [x for x in a] == [x[: next((i for i, t in enumerate(x) if t in eos), len(x))] for x in free]
    assert kept.finished_row_steps > 0
    assert dropped.row_steps < kept.row_steps


def test_backend_reuses_across_calls_and_matches_no_reuse(tiny_spec, shared_requests):
    from explainrec.llm.local import TransformersBackend

    with_reuse = TransformersBackend(tiny_spec)
    without = TransformersBackend(dataclasses.replace(tiny_spec, prefix_cache_mb=0, drop_finished=False))
    assert without.prefix_store is None and with_reuse.prefix_store is not None
    assert with_reuse.generate(shared_requests) == without.generate(shared_requests)
    assert with_reuse.profile.reused_tokens > 0 and without.profile.reused_tokens == 0
    assert with_reuse.identity == without.identity  # the same outputs, so the same cache entries


def test_store_evicts_least_recently_used():
    import torch

    kv = [(torch.zeros(1, 4, 2), torch.zeros(1, 4, 2))]  # 2 x 8 float32 = 64 bytes
    store = PrefixStore(150)
    store.add([1, 2, 3, 4], kv)
    store.add([5, 6, 7, 8], kv)
    assert store.match([1, 2, 9])[1] == 2  # touches the first entry
    store.add([9, 9, 9, 9], kv)  # over budget: the least recently used (5 6 7 8) goes
    assert len(store) == 2 and store.nbytes == 128
    assert store.match([5, 6, 7])[0] is None
    assert store.match([1, 2, 3, 4])[1] == 3  # one token is always left to compute
    assert PrefixStore(0).add([1], kv) is not None and len(PrefixStore(0)) == 0


def test_stage_metrics_name_the_machine(tiny_backend, shared_requests):
    """Every LLM stage writes ``llm.stats.as_metrics()``: it says which machine and dtype produced the figures."""
    from explainrec.llm import LLM
    from explainrec.llm.machine import cpu_has_amx_bf16, cpu_model

    llm = LLM(tiny_backend, None, progress=False)
    llm.chat(shared_requests[:2])
    m = llm.stats.as_metrics()
    assert m["machine"]["cpu"] == cpu_model() and m["machine"]["amx"] == cpu_has_amx_bf16()
    auto = "bfloat16" if cpu_has_amx_bf16() else "float32"  # what `dtype: auto` picks on a CPU
    assert m["machine"]["dtype"] == auto and m["machine"]["threads"] == 1
    assert m["decode"]["prompt_tokens"] >= m["prompt_tokens"] > 0
    assert 0.0 < m["decode"]["prefill_share_of_time"] < 1.0


def test_the_loop_reproduces_model_generate(tiny_backend, shared_requests):
    """The reference: transformers' own greedy ``generate``, one prompt at a time."""
    import torch

    prompts = prompts_of(tiny_backend, shared_requests[:3])
    ours = decode(tiny_backend, prompts, GenerationConfig(max_new_tokens=9), store=PrefixStore(2**26), eos=set())
    for p, mine in zip(prompts, ours):
        with torch.inference_mode():
            ref = tiny_backend.model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                              max_new_tokens=9, min_new_tokens=9, do_sample=False,
                                              pad_token_id=tiny_backend.pad_id)
        assert ref[0, len(p):].tolist() == mine


def test_a_prompt_that_opens_another(tiny_backend, shared_requests):
    """One prompt is the other's opening: every row still computes its own last token."""
    (p,) = prompts_of(tiny_backend, shared_requests[5:6])
    prompts = [p + p[-6:], p]  # the longer first: the common opening is all of the second
    params = GenerationConfig(max_new_tokens=6)
    assert decode(tiny_backend, prompts, params, store=PrefixStore(2**26)) == decode(tiny_backend, prompts, params)
