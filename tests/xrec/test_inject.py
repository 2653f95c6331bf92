"""Injection hooks on a tiny grouped-query Llama (hidden 32, k/v 16), against a hand-written reference.

The batch puts the reserved tokens at other columns in every row (left padding of different
lengths, prompts of different lengths) and every row gets its own user and its own item vector,
so a leak past the reserved positions, swapped rows or a swapped user/item show up as wrong
numbers at known positions.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from explainrec.core.errors import ExplainrecError
from explainrec.llm.factory import require_local
from explainrec.llm.spec import LLMSpec
from explainrec.xrec.data import ExplainerConfig, xrec_request
from explainrec.xrec.frozen import WHY_LOCAL, FrozenLM, load_frozen
from explainrec.xrec.inject import EXPLAIN_TOKEN, ITEM_TOKEN, SPECIAL_TOKENS, USER_TOKEN, Injector, add_special_tokens, attention_projections

HIDDEN = 32


@pytest.fixture(scope="module")
def lm(tiny_model_dir) -> FrozenLM:
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), device="cpu", dtype="float32",
                   threads=1, prefix_cache_mb=0)
    return load_frozen(spec)


def _batch(lm: FrozenLM) -> tuple[torch.Tensor, torch.Tensor]:
    """Three left-padded rows of lengths 12, 9 and 7: <USER_EMBED> at columns 3, 4 and 7, <ITEM_EMBED>
    at 6, 8 and 9, no two reserved tokens of the batch in the same column."""
    t = lm.token_ids
    u, i, e = t[USER_TOKEN], t[ITEM_TOKEN], t[EXPLAIN_TOKEN]
    rows = [[101, 2023, 2003, u, 1037, 3231, i, 2005, 2009, e, 2204, 1012],
            [101, u, 2307, 2518, 2742, i, 2006, e, 2205],
            [101, 2742, u, 2003, i, e, 2204]]
    width = max(len(r) for r in rows)
    pad = int(lm.tokenizer.pad_token_id)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


def _vectors(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A distinct user and item vector per row (unit scale, as the input embeddings' RMSNorm sees them)."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(rows, HIDDEN, generator=g), torch.randn(rows, HIDDEN, generator=g)


class Recorder:
    """Forward hooks registered after the injector's: they see each module's input and final output."""

    def __init__(self, modules: dict[str, torch.nn.Module]):
        self.seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in modules.items()]

    def _hook(self, name: str):
        def hook(module, args, output):
            self.seen[name] = (args[0].detach().clone(), output.detach().clone())
        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _forward(lm: FrozenLM, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return lm.model(input_ids=ids, attention_mask=mask).logits


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


@pytest.mark.parametrize("all_layers", [True, False])
def test_injection_matches_a_hand_computed_reference_per_row(lm, all_layers):
    """Input embeddings: the row's own vector at its reserved tokens, the table's row elsewhere. Every
    q/k/v output: exactly ``W x`` off the reserved tokens, ``W x + W a`` on them (``a``: that row's user
    or item vector), with ``x`` the projection's actual input; only ``W x`` without ``all_layers``."""
    ids, mask = _batch(lm)
    user, item = _vectors(len(ids))
    is_user, is_item = ids == lm.token_ids[USER_TOKEN], ids == lm.token_ids[ITEM_TOKEN]
    assert (is_user.sum(1) == 1).all() and (is_item.sum(1) == 1).all()
    assert len(set(is_user.float().argmax(1).tolist()) | set(is_item.float().argmax(1).tolist())) == 2 * len(ids)
    projections = dict(attention_projections(lm.model))
    table = lm.model.get_input_embeddings()
    plain = _forward(lm, ids, mask)
    with Injector(lm.model, lm.token_ids, all_layers=all_layers) as inj, inj.vectors(user, item):
        rec = Recorder({"embed": table, **projections})
        try:
            injected = _forward(lm, ids, mask)
        finally:
            rec.remove()
    # the embedding layer: a replacement at the reserved tokens only
    expected = table.weight[ids].detach().clone()
    for r in range(len(ids)):
        expected[r, is_user[r]] = user[r]
        expected[r, is_item[r]] = item[r]
    assert torch.equal(rec.seen["embed"][1], expected)
    # every layer's q, k and v (Eq. 12): nothing moves off the reserved tokens, W a is added on them
    reserved = is_user | is_item
    for name, module in projections.items():
        x, out = rec.seen[name]
        w = module.weight.detach()
        ref = F.linear(x, w)
        assert torch.equal(out[~reserved], ref[~reserved]), name
        if all_layers:
            ref = ref.clone()
            for r in range(len(ids)):
                ref[r, is_user[r]] += F.linear(user[r], w)
                ref[r, is_item[r]] += F.linear(item[r], w)
        assert torch.allclose(out[reserved], ref[reserved], atol=1e-5, rtol=1e-5), name
    # causal: each row's logits before its first reserved token are the plain model's; after it they move
    for r in range(len(ids)):
        first = int(is_user[r].float().argmax())
        pad = int((mask[r] == 0).sum())
        assert torch.equal(injected[r, pad:first], plain[r, pad:first])
        assert not torch.allclose(injected[r, first:], plain[r, first:], atol=1e-4)
    # the hooks are gone once the block ends
    assert torch.equal(_forward(lm, ids, mask), plain)


@pytest.mark.parametrize("all_layers", [True, False])
def test_a_cached_decoding_step_equals_the_uncached_forward(lm, all_layers):
    """Prefill with a cache, then one new (plain) token per row: its logits are those of one forward over
    the whole sequence, injection included. An addition that leaks past the reserved tokens acts on the
    new token in the uncached forward but not in the cached step, so the two part."""
    ids, mask = _batch(lm)
    user, item = _vectors(len(ids))
    step = torch.tensor([[2000], [2001], [2002]])
    full_ids, full_mask = torch.cat([ids, step], 1), torch.cat([mask, torch.ones_like(step)], 1)
    with Injector(lm.model, lm.token_ids, all_layers=all_layers) as inj, inj.vectors(user, item), torch.no_grad():
        prefill = lm.model(input_ids=ids, attention_mask=mask, use_cache=True)
        cached = lm.model(input_ids=step, attention_mask=full_mask, past_key_values=prefill.past_key_values,
                          use_cache=True).logits[:, -1]
        uncached = lm.model(input_ids=full_ids, attention_mask=full_mask).logits
    assert torch.allclose(prefill.logits, uncached[:, :-1], atol=1e-5)
    assert torch.allclose(cached, uncached[:, -1], atol=1e-5, rtol=1e-4)
    plain = _forward(lm, full_ids, full_mask)[:, -1]
    assert not torch.allclose(cached, plain, atol=1e-4)  # the cached step does see the injected prefix


def test_without_layer_injection_own_embeddings_give_the_plain_logits(lm):
    ids, mask = _batch(lm)
    plain = _forward(lm, ids, mask)
    emb = lm.model.get_input_embeddings().weight
    user = emb[lm.token_ids[USER_TOKEN]].expand(len(ids), -1).clone()
    item = emb[lm.token_ids[ITEM_TOKEN]].expand(len(ids), -1).clone()
    with Injector(lm.model, lm.token_ids, all_layers=False) as inj, inj.vectors(user, item):
        same = _forward(lm, ids, mask)
    assert torch.equal(same, plain)


def test_gradients_reach_each_rows_vectors_and_no_base_parameter(lm):
    ids, mask = _batch(lm)
    user = torch.randn(len(ids), HIDDEN, requires_grad=True)
    item = torch.randn(len(ids), HIDDEN, requires_grad=True)
    with Injector(lm.model, lm.token_ids, all_layers=True) as inj, inj.vectors(user, item):
        # only row 1's last logits: no gradient may reach rows 0 and 2
        loss = lm.model(input_ids=ids, attention_mask=mask).logits[1, -1].logsumexp(-1)
    loss.backward()
    assert user.grad[1].abs().sum() > 0 and item.grad[1].abs().sum() > 0
    assert user.grad[[0, 2]].abs().sum() == 0 and item.grad[[0, 2]].abs().sum() == 0
    assert all(not p.requires_grad and p.grad is None for p in lm.model.parameters())


def test_vectors_must_be_batch_by_hidden(lm):
    inj = Injector(lm.model, lm.token_ids)
    with pytest.raises(ValueError, match="batch, hidden"):
        with inj.vectors(torch.zeros(32), torch.zeros(32)):
            pass


def test_an_http_llm_is_refused_in_one_line():
    spec = LLMSpec(name="llama3.1", backend="openai", model="llama3.1:8b", base_url="http://localhost:11434/v1")
    with pytest.raises(ExplainrecError) as e:
        require_local(spec, WHY_LOCAL)
    assert "served over HTTP" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("profiles", [True, False])
def test_the_pipeline_prompt_holds_each_reserved_token_once_in_order(lm, profiles):
    """The Fig. 2 prompt as the pipeline renders it (chat template included): one slot per vector, each
    a single token, user before item before <EXPLAIN_POS>, which closes the user turn."""
    req = xrec_request(ExplainerConfig(profiles=profiles), "movielens", "Heat (1995)",
                       "likes slow crime films", "a crime film for patient viewers")
    ids = lm.prompt_ids(req)
    assert [ids.count(lm.token_ids[t]) for t in SPECIAL_TOKENS] == [1, 1, 1]
    u, i, e = (ids.index(lm.token_ids[t]) for t in (USER_TOKEN, ITEM_TOKEN, EXPLAIN_TOKEN))
    assert u < i < e and lm.tokenizer.decode(ids[e + 1:]).split() == ["[SEP]", "assistant", ":"]
    assert sorted(lm.suppressed()) == sorted(lm.token_ids.values())
