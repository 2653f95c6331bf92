"""Adapter training and generation on tiny Llamas built from a config.

``lm``: the suite's tiny model (random weights at the usual 0.02 scale: near-uniform logits).
``sharp_lm``: the same shape with weights at 0.2, whose logits are peaked enough for greedy ids
and a learnt pair signal to be compared reliably.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainrec.llm.spec import LLMSpec
from explainrec.xrec.data import ExplainerConfig, xrec_request
from explainrec.xrec.frozen import FrozenLM, load_frozen
from explainrec.xrec.generate import GenerateConfig, generate_explanations, generate_ids, state_hash
from explainrec.xrec.inject import SPECIAL_TOKENS, Injector
from explainrec.xrec.moe import Adapters, MoEConfig
from explainrec.xrec.train import AdapterTrainConfig, batch_loss, examples, mean_loss, train_adapters


def _spec(folder, device: str = "cpu", dtype: str = "float32") -> LLMSpec:
    return LLMSpec(name="tiny", backend="transformers", model=str(folder), device=device, dtype=dtype, threads=1,
                   prefix_cache_mb=0)


@pytest.fixture(scope="module")
def lm(tiny_model_dir) -> FrozenLM:
    return load_frozen(_spec(tiny_model_dir))


@pytest.fixture(scope="module")
def sharp_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model's config and tokenizer, weights drawn at std 0.2."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig.from_pretrained(tiny_model_dir)
    cfg.initializer_range = 0.2
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("sharp-llm") / "model"
    LlamaForCausalLM(cfg).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def sharp_lm(sharp_dir) -> FrozenLM:
    return load_frozen(_spec(sharp_dir))


def _data(n=4, d=8, seed=0, titles=None):
    rng = np.random.default_rng(seed)
    titles = titles or [f"film {k}" for k in range(n)]
    reqs = [xrec_request(ExplainerConfig(profiles=False), "movielens", t, "", "") for t in titles]
    targets = ["the user likes films with a dog", "the user likes films with a cat"] * (n // 2)
    users = rng.normal(size=(n, d)).astype(np.float32)
    items = rng.normal(size=(n, d)).astype(np.float32)
    return reqs, targets, users, items


def test_examples_mask_the_prompt(lm):
    reqs, targets, users, items = _data(2)
    ex = examples(lm, reqs, targets, users, items, 512)
    assert ex[0].ids[:ex[0].start] == lm.prompt_ids(reqs[0])
    assert ex[0].ids[-1] == lm.tokenizer.eos_token_id
    assert len(examples(lm, reqs, targets, users, items, 8)[0].ids) == ex[0].start + 1  # room for one target token


def _planted(lm: FrozenLM, n: int, seed: int):
    """Identical prompts; the target is "dog" when the user vector's first coordinate is positive, else
    "cat" (half and half); the item vectors are noise. Only the injected vectors can tell the two apart."""
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(n, 8)).astype(np.float32)
    users[:, 0] = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * np.abs(users[:, 0])
    items = rng.normal(size=(n, 8)).astype(np.float32)
    reqs = [xrec_request(ExplainerConfig(profiles=False), "movielens", "film", "", "")] * n
    targets = ["dog" if u[0] > 0 else "cat" for u in users]
    return reqs, targets, users, items


@pytest.mark.parametrize("all_layers", [True, False])
def test_the_adapters_carry_each_pairs_vectors_and_the_llm_does_not_train(sharp_lm, all_layers):
    """Trained on 16 planted pairs, scored on 16 others: giving each test pair another pair's vectors (a
    shift by one, which flips every target's sign) must cost NLL. One constant vector for all pairs, or
    vectors that reach the wrong rows, cannot lower the held-out NLL and lose nothing to the shuffle."""
    lm = sharp_lm
    train = examples(lm, *_planted(lm, 16, seed=0), 512)
    reqs, targets, users, items = _planted(lm, 16, seed=1)
    test = examples(lm, reqs, targets, users, items, 512)
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig(dropout=0.0))
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    out = train_adapters(lm, adapters, train, test, AdapterTrainConfig(learning_rate=0.1, batch_size=4, epochs=15),
                         all_layers, seed=0, progress=False)
    shift = np.roll(np.arange(16), 1)
    shuffled = examples(lm, reqs, targets, users[shift], items[shift], 512)
    with Injector(lm.model, lm.token_ids, all_layers) as inj:
        nll_shuffled = mean_loss(lm, inj, adapters, shuffled, 8)
        nll_again = mean_loss(lm, inj, adapters, test, 8)
    assert nll_again == pytest.approx(out["test_nll_after"], rel=1e-6)
    # measured: after 8.6-9.0, shuffled 9.3-10.6, before 10.87 (mean over the word and the end-of-turn token)
    assert out["test_nll_after"] < out["test_nll_before"] - 0.5
    assert nll_shuffled > out["test_nll_after"] + 0.3
    assert out["base_parameters_with_grad"] == 0
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())


def test_generation_is_cached(lm, tmp_path):
    reqs, _, users, items = _data(3)
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig())
    cfg = GenerateConfig(max_new_tokens=6, batch_size=2)
    keys = [f"u{k}|i{k}" for k in range(3)]
    cache = tmp_path / "cache.sqlite"
    texts, stats = generate_explanations(lm, adapters, users, items, reqs, keys, True, cfg, "g", cache, progress=False)
    assert stats["generated"] == 3 and stats["cached"] == 0 and len(texts) == 3 and stats["new_tokens"] > 0
    again, stats2 = generate_explanations(lm, adapters, users, items, reqs, keys, True, cfg, "g", cache, progress=False)
    assert again == texts and stats2 == {"generated": 0, "cached": 3, "new_tokens": 0}
    # other adapter weights are other answers: the cache keys on the pair and the weights
    with torch.no_grad():
        adapters.user.experts[0].linear.weight.add_(1.0)
    _, stats3 = generate_explanations(lm, adapters, users, items, reqs, keys, True, cfg, "g", cache, progress=False)
    assert stats3["generated"] == 3


def test_generation_never_emits_a_reserved_token_even_when_the_model_prefers_them(sharp_lm):
    """A hook on the LM head makes the reserved tokens every step's top logits; the generated ids (not
    the decoded text, which hides special tokens) must still hold none of them."""
    lm = sharp_lm
    reqs, _, users, items = _data(3)
    prompts = [lm.prompt_ids(r) for r in reqs]
    reserved = [lm.token_ids[t] for t in SPECIAL_TOKENS]

    def prefer_reserved(module, args, output):
        output = output.clone()
        output[..., reserved] += 1e3
        return output

    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig()).eval()
    with torch.no_grad():
        u, i = adapters(torch.from_numpy(users), torch.from_numpy(items))
    handle = lm.model.get_output_embeddings().register_forward_hook(prefer_reserved)
    try:
        ids = torch.tensor([prompts[0]])
        with torch.no_grad():
            top = lm.model(input_ids=ids).logits[0, -1].argmax()
        assert int(top) in reserved  # without suppression, greedy decoding would emit one
        with Injector(lm.model, lm.token_ids, True) as inj:
            new = generate_ids(lm, inj, u, i, prompts, 5)
    finally:
        handle.remove()
    assert new.shape == (3, 5)
    assert not torch.isin(new, torch.tensor(reserved)).any()


def _greedy_alone(lm: FrozenLM, adapters: Adapters, user: np.ndarray, item: np.ndarray, prompt: list[int],
                  steps: int) -> list[int]:
    """Reference: one pair, no padding, no cache, one full forward per new token, reserved tokens masked."""
    ids = list(prompt)
    reserved = [lm.token_ids[t] for t in SPECIAL_TOKENS]
    with torch.no_grad():
        u, i = adapters(torch.from_numpy(user[None]), torch.from_numpy(item[None]))
        with Injector(lm.model, lm.token_ids, True) as inj, inj.vectors(u, i):
            for _ in range(steps):
                logits = lm.model(input_ids=torch.tensor([ids])).logits[0, -1]
                logits[reserved] = -float("inf")
                ids.append(int(logits.argmax()))
                if ids[-1] in lm.backend.eos_ids:
                    break
    return ids[len(prompt):]


def test_batched_generation_gives_each_pair_its_own_answer(sharp_lm, tmp_path):
    """Prompts of different lengths (sorted and left-padded in batches) and distinct vectors: every
    pair's explanation is what that pair gives alone, and the vectors change the answers."""
    lm = sharp_lm
    titles = ["a", "a much longer film title than the others", "mid length title", "b c"]
    reqs, _, users, items = _data(4, titles=titles, seed=3)
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig()).eval()
    with torch.no_grad():
        for e in adapters.user.experts:
            e.linear.weight.mul_(50.0)  # the user vector matters to the sharp model's greedy choice
    keys = [f"u{k}|i{k}" for k in range(4)]
    texts, _ = generate_explanations(lm, adapters, users, items, reqs, keys, True, GenerateConfig(4, 3), "g",
                                     tmp_path / "c.sqlite", progress=False)
    alone = [_greedy_alone(lm, adapters, users[k], items[k], lm.prompt_ids(reqs[k]), 4) for k in range(4)]
    ref = [" ".join(lm.tokenizer.decode([t for t in a if t not in lm.backend.eos_ids], skip_special_tokens=True)
                    .split()) for a in alone]
    assert texts == ref
    swapped = [_greedy_alone(lm, adapters, users[(k + 1) % 4], items[k], lm.prompt_ids(reqs[k]), 4)
               for k in range(4)]
    assert swapped != alone  # the reference itself depends on the user vectors


def test_state_hash_follows_the_weights():
    a = Adapters(4, 8)
    h = state_hash(a)
    with torch.no_grad():
        a.item.w_gate.add_(1e-3)
    assert state_hash(a) != h


def test_mean_loss_of_nothing_is_none(lm):
    adapters = Adapters(8, lm.hidden)
    assert mean_loss(lm, Injector(lm.model, lm.token_ids), adapters, [], 4) is None


def test_mean_loss_weighs_each_batch_by_its_explanation_tokens(lm):
    """Token-weighted: batches of one give the loss of the whole batch at once (the targets differ in length)."""
    reqs, _, users, items = _data(2)
    ex = examples(lm, reqs, ["short", "a much longer explanation with many more tokens in it"], users, items, 512)
    assert len(ex[0].ids) - ex[0].start != len(ex[1].ids) - ex[1].start
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig(dropout=0.0, noisy_gating=False)).eval()
    injector = Injector(lm.model, lm.token_ids)
    with injector, torch.no_grad():
        whole = float(batch_loss(lm, injector, adapters, ex))
        one_by_one = mean_loss(lm, injector, adapters, ex, 1)
    assert one_by_one == pytest.approx(whole, rel=1e-5)


# --- device and dtype ----------------------------------------------------------------------------
def _train_and_generate(lm: FrozenLM, tmp_path, all_layers: bool = True) -> tuple[dict, list[str], Adapters]:
    reqs, targets, users, items = _data(4)
    ex = examples(lm, reqs, targets, users, items, 512)
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig())
    out = train_adapters(lm, adapters, ex, ex, AdapterTrainConfig(learning_rate=0.01, batch_size=2, epochs=1), all_layers,
                         seed=0, progress=False)
    texts, stats = generate_explanations(lm, adapters, users, items, reqs, [str(k) for k in range(4)], all_layers,
                                         GenerateConfig(max_new_tokens=3, batch_size=4), "g", tmp_path / "c.sqlite",
                                         progress=False)
    assert stats["generated"] == 4 and stats["new_tokens"] > 0
    return out, texts, adapters


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("all_layers", [True, False])
def test_train_and_generate_run_on_a_model_of_another_dtype(tiny_model_dir, lm, tmp_path, dtype, all_layers):
    """float32 adapters feed a float64 or bfloat16 LLM (a dtype mismatch fails as a device one does): the
    NLLs are those of the float32 model (to the dtype's precision) and the adapters stay float32."""
    reference, _, _ = _train_and_generate(lm, tmp_path / "ref", all_layers)
    other = load_frozen(_spec(tiny_model_dir))
    other.model.to(dtype)
    out, texts, adapters = _train_and_generate(other, tmp_path, all_layers)
    assert len(texts) == 4
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in adapters.parameters())
    tol = 1e-6 if dtype == torch.float64 else 1e-2
    assert out["test_nll_before"] == pytest.approx(reference["test_nll_before"], rel=tol)
    assert out["test_nll_after"] == pytest.approx(reference["test_nll_after"], rel=tol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_train_and_generate_on_cuda(tiny_model_dir, lm, tmp_path, dtype):
    """The tiny model on the GPU: training, the NLLs and generation run (ids, masks, adapters and injected
    vectors on the model's device and dtype), match the CPU's numbers, and the adapters come back to the CPU."""
    reference, ref_texts, _ = _train_and_generate(lm, tmp_path / "cpu")
    gpu = load_frozen(_spec(tiny_model_dir, device="cuda", dtype=dtype))
    assert gpu.device.type == "cuda"
    out, texts, adapters = _train_and_generate(gpu, tmp_path / "gpu")
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in adapters.parameters())
    tol = 1e-4 if dtype == "float32" else 1e-2
    assert out["test_nll_before"] == pytest.approx(reference["test_nll_before"], rel=tol)
    assert out["test_nll_after"] == pytest.approx(reference["test_nll_after"], rel=tol)
    assert len(texts) == 4


@pytest.mark.gpu
def test_injection_matches_on_cuda_and_cpu(tiny_model_dir, lm):
    """The hooks on a CUDA model given CPU vectors: the same logits as on the CPU."""
    reqs, _, users, items = _data(2, titles=["a", "a longer title"])
    prompts = [lm.prompt_ids(r) for r in reqs]
    gpu = load_frozen(_spec(tiny_model_dir, device="cuda", dtype="float32"))
    torch.manual_seed(0)
    adapters = Adapters(8, lm.hidden, MoEConfig()).eval()
    with torch.no_grad():
        u, i = adapters(torch.from_numpy(users), torch.from_numpy(items))
    logits = []
    for m in (lm, gpu):
        width = max(map(len, prompts))
        ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts], device=m.device)
        mask = (torch.arange(width)[None] >= torch.tensor([width - len(p) for p in prompts])[:, None]).long()
        with Injector(m.model, m.token_ids, True) as inj, inj.vectors(u, i), torch.no_grad():
            logits.append(m.model(input_ids=ids, attention_mask=mask.to(m.device)).logits[:, -1].cpu())
        with Injector(m.model, m.token_ids, True) as inj:
            generate_ids(m, inj, u, i, prompts, 2)
    assert torch.allclose(logits[0], logits[1], atol=1e-4)
