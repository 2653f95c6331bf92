"""The consumer soft prompt: zero projection -> users indistinguishable; non-zero -> distinguishable."""

from __future__ import annotations

import pytest
import torch

from explainrec.core.domain_prompts import DOMAINS
from explainrec.core.errors import ParamError
from explainrec.recpie.config import RecPIEExplainerConfig
from explainrec.recpie.explainer import build_explainer, explanation_request, render
from explainrec.recpie.soft_prompt import user_token


def _logits(explainer, user: int) -> torch.Tensor:
    request = explanation_request(["fun drama"], "dark comedy", user, True, DOMAINS["movie"], "zero_shot",
                                  "contrastive", RecPIEExplainerConfig())
    ids = torch.tensor([explainer.tokenizer(render(explainer, request))["input_ids"]])
    assert int((ids == explainer.user_ids[user]).sum()) == 1  # the user's token, once
    with torch.no_grad():
        return explainer.model(input_ids=ids).logits[0]


def _explainer(tiny, n_users=3, dim=4):
    ex = build_explainer(tiny, n_users, dim, RecPIEExplainerConfig(lora_r=4), 0)
    torch.manual_seed(1)
    ex.soft_prompt.set_users(torch.randn(n_users, dim))
    return ex


def test_zero_projection_makes_users_identical_and_nonzero_tells_them_apart(tiny):
    ex = _explainer(tiny)
    assert not torch.equal(ex.soft_prompt.users[0], ex.soft_prompt.users[2])
    torch.testing.assert_close(_logits(ex, 0), _logits(ex, 2), rtol=0, atol=0)
    with torch.no_grad():
        ex.soft_prompt.proj.weight.normal_(0, 1.0)
    a, b = _logits(ex, 0), _logits(ex, 2)
    assert (a - b).abs().max() > 1e-4
    # causal attention: the positions before the user token are untouched
    first = int(torch.tensor(ex.tokenizer(render(ex, explanation_request(
        ["x"], "y", 0, True, DOMAINS["movie"], "zero_shot", "contrastive", RecPIEExplainerConfig())))["input_ids"]).tolist()
                .index(ex.user_ids[0]))
    torch.testing.assert_close(a[:first], b[:first])
    with ex.soft_prompt.zeroed():
        torch.testing.assert_close(_logits(ex, 0), _logits(ex, 2), rtol=0, atol=0)


def test_projection_and_lora_are_the_only_trainable_weights(tiny):
    ex = _explainer(tiny)
    names = [n for n, p in ex.model.named_parameters() if p.requires_grad]
    assert any("recpie_soft_prompt.proj" in n for n in names)
    assert all("lora_" in n or "recpie_soft_prompt" in n for n in names)
    assert ex.tokenizer.convert_tokens_to_ids(user_token(2)) == ex.user_ids[2]


def test_state_hash_changes_with_the_projection_and_round_trips(tiny, tmp_path):
    ex = _explainer(tiny)
    h0 = ex.state_hash()
    ex.save(tmp_path)
    with torch.no_grad():
        ex.soft_prompt.proj.bias.fill_(0.5)
    assert ex.state_hash() != h0
    ex.load(tmp_path)
    assert ex.state_hash() == h0


def test_wrong_user_table_shape_is_a_one_line_error(tiny):
    ex = _explainer(tiny)
    with pytest.raises(ParamError, match="param 'users'"):
        ex.soft_prompt.set_users(torch.zeros(2, 4))


def _requests(users, max_new_tokens=8):
    config = RecPIEExplainerConfig(max_new_tokens=max_new_tokens)
    return [explanation_request(["fun drama"], "dark comedy", u, True, DOMAINS["movie"], "zero_shot", "contrastive",
                                config) for u in users]


def test_explain_outputs_follow_the_soft_prompt(tmp_path):
    """The greedy explanations of three users with the same prompt text: the same while the projection
    is zero, not all the same once it is not (the hook acts in the backend's batched decoding)."""
    from explainrec.recpie.explainer import explain
    from tests.recpie.conftest import tiny_backend

    ex = build_explainer(tiny_backend(tmp_path / "sharp", sharp=True), 3, 4, RecPIEExplainerConfig(lora_r=4), 0)
    torch.manual_seed(1)
    ex.soft_prompt.set_users(torch.randn(3, 4))
    requests = {True: _requests((0, 1, 2)), False: _requests((0, 1, 2))}
    zero, _ = explain(ex, requests, tmp_path / "cache.sqlite")
    assert len(set(zero[True])) == 1 and zero[True][0].strip()
    with torch.no_grad():
        ex.soft_prompt.proj.weight.normal_(0, 3.0)
    on, stats = explain(ex, requests, tmp_path / "cache.sqlite")
    assert stats["llm_calls"] == 3  # a new state: nothing from the cache (3 distinct requests)
    assert len(set(on[True])) > 1, on[True]


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_the_soft_prompt_follows_the_model_dtype(tiny, dtype):
    """``proj`` and E_c take the model's device and dtype (float32 for a 16-bit model, as peft keeps
    LoRA weights); the hooked embeddings keep the model's dtype and hold proj(E_c[k]) computed in it."""
    tiny.model.to(dtype)
    ex = build_explainer(tiny, 3, 4, RecPIEExplainerConfig(lora_r=4), 0)
    weights = ex.model.get_input_embeddings().weight
    want = torch.float32 if dtype == torch.bfloat16 else dtype
    sp = ex.soft_prompt
    assert sp.proj.weight.dtype == sp.users.dtype == want and sp.proj.weight.device == weights.device
    torch.manual_seed(2)
    sp.set_users(torch.randn(3, 4, dtype=torch.float32))
    with torch.no_grad():
        sp.proj.weight.normal_(0, 1.0)
        sp.proj.bias.normal_(0, 1.0)
        ids = torch.tensor([[5, ex.user_ids[2], 6]])
        out = ex.model.get_input_embeddings()(ids)
        expected = sp.proj(sp.users[2])
    assert out.dtype == dtype
    tol = 1e-12 if dtype == torch.float64 else 1e-2  # float64: not rounded through a float32 projection
    torch.testing.assert_close(out[0, 1].to(want), expected.to(dtype).to(want), rtol=tol, atol=tol)
    torch.testing.assert_close(out[0, 0], weights[5])  # other positions untouched


@pytest.mark.gpu
def test_soft_prompt_explain_kl_and_a_grpo_step_on_cuda(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA: torch.cuda.is_available() is False here")
    from explainrec.recpie.config import RLConfig
    from explainrec.recpie.explainer import explain, kl_to_reference
    from explainrec.recpie.rl import grpo_update
    from tests.recpie.conftest import tiny_backend

    backend = tiny_backend(tmp_path / "cuda", sharp=True, device="cuda")
    ex = build_explainer(backend, 3, 4, RecPIEExplainerConfig(lora_r=4), 0)
    assert ex.soft_prompt.proj.weight.device.type == "cuda" and ex.soft_prompt.users.device.type == "cuda"
    ex.soft_prompt.set_users(torch.randn(3, 4))  # a CPU table: copied onto the GPU
    with torch.no_grad():
        ex.soft_prompt.proj.weight.normal_(0, 3.0)
    requests = {True: _requests((0, 1, 2)), False: _requests((0, 1, 2))}
    out, _ = explain(ex, requests, tmp_path / "cache.sqlite")
    assert len(out[True]) == 3
    prompts = [render(ex, r) for r in requests[True]]
    assert kl_to_reference(ex, prompts, out[True]) > 0
    before = ex.soft_prompt.proj.weight.detach().clone()
    m = grpo_update(ex, {"prompt": prompts[:2]}, lambda prompts, completions, **_: [float(len(c)) for c in completions],
                    RLConfig(steps=2, num_generations=2, prompts_per_step=2, max_completion_length=4,
                             learning_rate=0.05), seed=0)
    assert m["rl_steps"] == 2 and ex.soft_prompt.proj.weight.device.type == "cuda"
    assert not torch.equal(before, ex.soft_prompt.proj.weight.detach())
