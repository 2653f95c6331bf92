"""The transformers backend on a tiny random Llama (CPU, nothing downloads)."""

from __future__ import annotations

import dataclasses

import pytest

from explainrec.core.errors import LLMUnavailable
from explainrec.llm import BUNDLED, ChatRequest, LLMSpec
from explainrec.llm.local import TransformersBackend, pick_device, pick_dtype
from explainrec.llm.machine import cpu_has_amx_bf16
from explainrec.llm.render import plain_prompt

WORDS = ("the user rated space operas highly and disliked slow romantic dramas set in small rainy "
         "towns but enjoyed a few documentaries about jazz musicians").split()


def varied_requests(n: int = 10, max_new_tokens: int = 12) -> list[ChatRequest]:
    """Prompts of clearly different token lengths, with and without a system turn."""
    return [
        ChatRequest.of("You explain recommendations." if i % 2 else None,
                       " ".join(WORDS[: 2 + (i * 7) % len(WORDS)]) + f" (item {i})", max_new_tokens=max_new_tokens)
        for i in range(n)
    ]


def test_batched_equals_one_at_a_time(tiny_backend):
    reqs = varied_requests(10)
    lengths = {tiny_backend.count_prompt_tokens(r) for r in reqs}
    assert len(lengths) > 3  # left padding is really exercised
    single = [tiny_backend.generate([r])[0] for r in reqs]
    batched = tiny_backend.generate(reqs)  # preferred_batch 4: three generate calls with padding
    assert batched == single
    assert all(c.text for c in single)


def test_token_counts(tiny_backend):
    r = ChatRequest.of("sys", "hello there", max_new_tokens=7)
    (c,) = tiny_backend.generate([r])
    prompt = tiny_backend.render(r)
    assert prompt.endswith("assistant:") and "sys" in prompt
    assert c.prompt_tokens == len(tiny_backend.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert c.completion_tokens == 7  # the random model never emits [SEP] within 7 tokens
    # padded prompts in a batch still count only their own tokens
    long = ChatRequest.of("sys", "hello there " * 10, max_new_tokens=7)
    c1, c2 = tiny_backend.generate([r, long])
    assert c1.prompt_tokens == c.prompt_tokens and c2.prompt_tokens > c1.prompt_tokens


def test_stop_strings_truncate(tiny_backend):
    base = ChatRequest.of(None, "tell me about jazz", max_new_tokens=16)
    (full,) = tiny_backend.generate([base])
    words = full.text.split()
    stop = words[3]
    cut = full.text[: full.text.find(stop)].strip()
    stopped = dataclasses.replace(base, params=dataclasses.replace(base.params, stop=(stop, "never-there")))
    (c,) = tiny_backend.generate([stopped])
    assert c.text == cut
    assert stop not in c.text
    assert c.completion_tokens < full.completion_tokens  # generation ended early


def test_mixed_params_are_grouped(tiny_backend):
    a = ChatRequest.of(None, "first prompt here", max_new_tokens=3)
    b = ChatRequest.of(None, "second", max_new_tokens=9)
    c = ChatRequest.of(None, "third prompt", max_new_tokens=3)
    out = tiny_backend.generate([a, b, c])
    assert [o.completion_tokens for o in out] == [3, 9, 3]
    assert out == [tiny_backend.generate([x])[0] for x in (a, b, c)]


def test_sampling_is_seeded(tiny_backend):
    r = ChatRequest.of(None, "sample something", max_new_tokens=10, temperature=1.0, seed=7)
    assert tiny_backend.generate([r]) == tiny_backend.generate([r])
    other = dataclasses.replace(r, params=dataclasses.replace(r.params, seed=8))
    assert tiny_backend.generate([other])[0].completion_tokens == 10


def test_plain_fallback_without_template(tiny_backend, monkeypatch):
    assert plain_prompt((("system", "be brief"), ("user", "hi"))) == "System: be brief\nUser: hi\nAssistant:"
    monkeypatch.setattr(tiny_backend, "has_template", False)
    r = ChatRequest.of("be brief", "hi", max_new_tokens=4)
    assert tiny_backend.render(r).endswith("Assistant:")
    assert tiny_backend.generate([r])[0].completion_tokens == 4


def test_device_and_dtype_choice():
    import torch

    assert pick_device("cpu") == "cpu"
    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_dtype("auto", "cpu") == (torch.bfloat16 if cpu_has_amx_bf16() else torch.float32)
    assert pick_dtype("auto", "mps") == torch.float32
    assert pick_dtype("bfloat16", "cpu") == torch.bfloat16
    assert pick_dtype("float32", "cpu") == torch.float32


def test_identity_names_the_resolved_dtype(tiny_model_dir):
    """Greedy outputs differ between dtypes, so the cache must never mix them."""
    base = dict(name="tiny", backend="transformers", model=str(tiny_model_dir), threads=1, identity="t:1")
    fp32 = TransformersBackend(LLMSpec(**base, dtype="float32"))
    bf16 = TransformersBackend(LLMSpec(**base, dtype="bfloat16"))
    assert fp32.identity == "t:1|float32" and bf16.identity == "t:1|bfloat16"


def test_unreachable_hub_id():
    spec = LLMSpec(name="big", backend="transformers", model="meta-llama/Llama-3.1-8B-Instruct")
    with pytest.raises(LLMUnavailable) as e:
        TransformersBackend(spec)
    msg = str(e.value)
    assert "meta-llama/Llama-3.1-8B-Instruct" in msg and "unreachable" in msg and "local folder" in msg
    assert "\n" not in msg


def test_missing_folder_and_bundled(tmp_path):
    with pytest.raises(LLMUnavailable, match="does not exist"):
        TransformersBackend(LLMSpec(name="x", backend="transformers", model=str(tmp_path / "nope")))
    with pytest.raises(LLMUnavailable, match="assets_llm"):
        TransformersBackend(LLMSpec(name="x", backend="transformers", model=BUNDLED))
