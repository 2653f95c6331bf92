"""Injection hooks on a tiny grouped-query Llama (hidden 32, k/v 16): the acceptance checks of issue 15."""

from __future__ import annotations

import pytest
import torch

from explainrec.errors import ExplainrecError
from explainrec.llm.spec import LLMSpec
from explainrec.llm.types import ChatRequest
from explainrec.xrec.frozen import FrozenLM, load_frozen, require_local
from explainrec.xrec.inject import (EXPLAIN_TOKEN, ITEM_TOKEN, SPECIAL_TOKENS, USER_TOKEN, Injector,
                                    add_special_tokens, attention_projections)


@pytest.fixture(scope="module")
def lm(tiny_model_dir) -> FrozenLM:
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), device="cpu", dtype="float32",
                   threads=1, prefix_cache_mb=0)
    return load_frozen(spec)


def _ids(lm: FrozenLM) -> torch.Tensor:
    """Two rows: 3 plain tokens, <USER_EMBED>, 2 plain, <ITEM_EMBED>, 2 plain, <EXPLAIN_POS>, 2 plain."""
    t = lm.token_ids
    rows = [[101, 2023, 2003, t[USER_TOKEN], 1037, 3231, t[ITEM_TOKEN], 2005, 2009, t[EXPLAIN_TOKEN], 2204, 1012],
            [101, 2178, 2742, t[USER_TOKEN], 2307, 2518, t[ITEM_TOKEN], 2006, 2010, t[EXPLAIN_TOKEN], 2205, 1013]]
    return torch.tensor(rows)


def _logits(lm: FrozenLM, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return lm.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits


def test_special_tokens_are_added_once_with_mean_rows(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    n = len(tok)
    ids = add_special_tokens(tok, model)
    assert len(tok) == n + 3 and sorted(ids.values()) == [n, n + 1, n + 2]
    weight = model.get_input_embeddings().weight
    assert torch.allclose(weight[n:], weight[:n].mean(0, keepdim=True).expand(3, -1))
    assert add_special_tokens(tok, model) == ids and model.get_input_embeddings().weight.shape[0] == n + 3
    # each reserved token is one token, in any prompt
    assert tok("a <USER_EMBED> b", add_special_tokens=False)["input_ids"].count(ids[USER_TOKEN]) == 1


def test_grouped_query_projections_are_found(lm):
    names = [n for n, _ in attention_projections(lm.model)]
    assert len(names) == 2 * 3 and all(n.rsplit(".", 1)[1] in ("q_proj", "k_proj", "v_proj") for n in names)
    k = dict(attention_projections(lm.model))[names[1]]
    assert k.weight.shape == (16, 32)  # k/v narrower than the hidden state: why Eq. 12 projects the vector


def test_without_layer_injection_own_embeddings_give_the_plain_logits(lm):
    ids = _ids(lm)
    plain = _logits(lm, ids)
    emb = lm.model.get_input_embeddings().weight
    user = emb[lm.token_ids[USER_TOKEN]].expand(2, -1).clone()
    item = emb[lm.token_ids[ITEM_TOKEN]].expand(2, -1).clone()
    with Injector(lm.model, lm.token_ids, all_layers=False) as inj, inj.vectors(user, item):
        same = _logits(lm, ids)
    assert torch.allclose(same, plain, atol=1e-6)


@pytest.mark.parametrize("all_layers", [False, True])
def test_injection_changes_logits_from_the_first_reserved_token_on(lm, all_layers):
    ids = _ids(lm)
    plain = _logits(lm, ids)
    g = torch.Generator().manual_seed(0)
    user, item = torch.randn(2, 32, generator=g), torch.randn(2, 32, generator=g)
    with Injector(lm.model, lm.token_ids, all_layers=all_layers) as inj, inj.vectors(user, item):
        injected = _logits(lm, ids)
    first = 3  # <USER_EMBED>
    assert torch.allclose(injected[:, :first], plain[:, :first], atol=1e-6)
    assert all(not torch.allclose(injected[:, p], plain[:, p], atol=1e-4) for p in range(first, ids.shape[1]))
    # the layer injection adds to what the input replacement alone does
    if all_layers:
        with Injector(lm.model, lm.token_ids, all_layers=False) as inj, inj.vectors(user, item):
            input_only = _logits(lm, ids)
        assert not torch.allclose(injected[:, first:], input_only[:, first:], atol=1e-4)
    # the hooks are gone once the block ends
    assert torch.equal(_logits(lm, ids), plain)


def test_gradients_reach_the_vectors_and_no_base_parameter(lm):
    ids = _ids(lm)
    user = torch.randn(2, 32, requires_grad=True)
    item = torch.randn(2, 32, requires_grad=True)
    with Injector(lm.model, lm.token_ids, all_layers=True) as inj, inj.vectors(user, item):
        loss = lm.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[:, -1].logsumexp(-1).sum()
    loss.backward()
    assert user.grad is not None and user.grad.abs().sum() > 0 and item.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in lm.model.parameters())


def test_vectors_must_be_batch_by_hidden(lm):
    inj = Injector(lm.model, lm.token_ids)
    with pytest.raises(ValueError, match="batch, hidden"):
        with inj.vectors(torch.zeros(32), torch.zeros(32)):
            pass


def test_an_http_llm_is_refused_in_one_line():
    spec = LLMSpec(name="llama3.1", backend="openai", model="llama3.1:8b", base_url="http://localhost:11434/v1")
    with pytest.raises(ExplainrecError) as e:
        require_local(spec)
    assert "served over HTTP" in str(e.value) and "\n" not in str(e.value)


def test_the_prompt_holds_each_reserved_token_once(lm):
    req = ChatRequest.of("sys", f"user record: {USER_TOKEN} item record: {ITEM_TOKEN} {EXPLAIN_TOKEN}")
    ids = lm.prompt_ids(req)
    assert all(ids.count(lm.token_ids[t]) == 1 for t in SPECIAL_TOKENS)
    assert sorted(lm.suppressed()) == sorted(lm.token_ids[t] for t in SPECIAL_TOKENS)
