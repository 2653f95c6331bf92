"""The consumer soft prompt: zero projection -> users indistinguishable; non-zero -> distinguishable."""

from __future__ import annotations

import pytest
import torch

from explainrec.errors import ParamError
from explainrec.lrrecsys.prompts import DOMAINS
from explainrec.recpie.config import ExplainerConfig
from explainrec.recpie.explainer import build_explainer, explanation_request, render
from explainrec.recpie.soft_prompt import user_token


def _logits(explainer, user: int) -> torch.Tensor:
    request = explanation_request(["fun drama"], "dark comedy", user, True, DOMAINS["movie"], "zero_shot",
                                  "contrastive", ExplainerConfig())
    ids = torch.tensor([explainer.tokenizer(render(explainer, request))["input_ids"]])
    assert int((ids == explainer.user_ids[user]).sum()) == 1  # the user's token, once
    with torch.no_grad():
        return explainer.model(input_ids=ids).logits[0]


def _explainer(tiny, n_users=3, dim=4):
    ex = build_explainer(tiny, n_users, dim, ExplainerConfig(lora_r=4), 0)
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
        ["x"], "y", 0, True, DOMAINS["movie"], "zero_shot", "contrastive", ExplainerConfig())))["input_ids"]).tolist()
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
