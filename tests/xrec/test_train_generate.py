"""Adapter training and generation on the tiny Llama."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainrec.llm.spec import LLMSpec
from explainrec.xrec.data import ExplainerConfig, xrec_request
from explainrec.xrec.frozen import load_frozen
from explainrec.xrec.generate import GenerateConfig, generate_explanations, state_hash
from explainrec.xrec.moe import Adapters, MoEConfig
from explainrec.xrec.train import TrainConfig, examples, mean_loss, train_adapters


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    return load_frozen(LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), device="cpu",
                               dtype="float32", threads=1, prefix_cache_mb=0))


def _data(lm, n=4):
    rng = np.random.default_rng(0)
    reqs = [xrec_request(ExplainerConfig(profiles=False), "movielens", f"film {k}", "", "") for k in range(n)]
    targets = ["the user likes films with a dog", "the user likes films with a cat"] * (n // 2)
    users = rng.normal(size=(n, 8)).astype(np.float32)
    items = rng.normal(size=(n, 8)).astype(np.float32)
    return reqs, targets, users, items


def test_examples_mask_the_prompt(lm):
    reqs, targets, users, items = _data(lm, 2)
    ex = examples(lm, reqs, targets, users, items, 512)
    assert ex[0].ids[:ex[0].start] == lm.prompt_ids(reqs[0])
    assert ex[0].ids[-1] == lm.tokenizer.eos_token_id
    assert len(examples(lm, reqs, targets, users, items, 8)[0].ids) == ex[0].start + 1  # room for one target token


@pytest.mark.parametrize("all_layers", [True, False])
def test_the_adapters_learn_and_the_llm_does_not(lm, all_layers):
    reqs, targets, users, items = _data(lm)
    ex = examples(lm, reqs, targets, users, items, 512)
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig(dropout=0.0))
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    out = train_adapters(lm, adapters, ex, ex, TrainConfig(learning_rate=0.3, batch_size=4, epochs=15), all_layers,
                         seed=0, progress=False)
    # a random 2-layer model reads two injected positions weakly: the drop is small but real (0.016-0.13 nats)
    assert out["test_nll_after"] < out["test_nll_before"] - 0.01
    assert out["steps"][-1]["train_loss"] < out["steps"][0]["train_loss"]
    assert out["base_parameters_with_grad"] == 0
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())


def test_generation_is_cached_and_never_emits_reserved_tokens(lm, tmp_path):
    reqs, _, users, items = _data(lm, 3)
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig())
    cfg = GenerateConfig(max_new_tokens=6, batch_size=2)
    keys = [f"u{k}|i{k}" for k in range(3)]
    cache = tmp_path / "cache.sqlite"
    texts, stats = generate_explanations(lm, adapters, users, items, reqs, keys, True, cfg, "g", cache, progress=False)
    assert stats["generated"] == 3 and stats["cached"] == 0 and len(texts) == 3
    assert not any(t in text for text in texts for t in ("<USER_EMBED>", "<ITEM_EMBED>", "<EXPLAIN_POS>"))
    again, stats2 = generate_explanations(lm, adapters, users, items, reqs, keys, True, cfg, "g", cache, progress=False)
    assert again == texts and stats2 == {"generated": 0, "cached": 3, "new_tokens": 0}
    # other users' vectors are other pairs: the cache keys on the pair and the weights
    with torch.no_grad():
        adapters.user.experts[0].linear.weight.add_(1.0)
    _, stats3 = generate_explanations(lm, adapters, users, items, reqs, keys, True, cfg, "g", cache, progress=False)
    assert stats3["generated"] == 3


def test_state_hash_follows_the_weights():
    a = Adapters(4, 8)
    h = state_hash(a)
    with torch.no_grad():
        a.item.w_gate.add_(1e-3)
    assert state_hash(a) != h


def test_mean_loss_of_nothing_is_none(lm):
    adapters = Adapters(8, lm.hidden)
    from explainrec.xrec.inject import Injector

    assert mean_loss(lm, Injector(lm.model, lm.token_ids), adapters, [], 4) is None


def test_mean_loss_weighs_each_batch_by_its_explanation_tokens(lm):
    """Token-weighted: batches of one give the loss of the whole batch at once (the targets differ in length)."""
    from explainrec.xrec.inject import Injector
    from explainrec.xrec.train import batch_loss

    reqs, _, users, items = _data(lm, 2)
    ex = examples(lm, reqs, ["short", "a much longer explanation with many more tokens in it"], users, items, 512)
    assert len(ex[0].ids) - ex[0].start != len(ex[1].ids) - ex[1].start
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig(dropout=0.0, noisy_gating=False)).eval()
    injector = Injector(lm.model, lm.token_ids)
    with injector, torch.no_grad():
        whole = float(batch_loss(lm, injector, adapters, ex))
        one_by_one = mean_loss(lm, injector, adapters, ex, 1)
    assert one_by_one == pytest.approx(whole, rel=1e-5)
