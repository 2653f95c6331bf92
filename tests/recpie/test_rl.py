"""The reward r(e) = 1 / (1 + |y - f(x, e)|) and one GRPO step on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainrec.core.domain_prompts import DOMAINS
from explainrec.core.errors import ParamError
from explainrec.recpie.config import RecPIEExplainerConfig, RLConfig
from explainrec.recpie.explainer import build_explainer, explanation_request, render
from explainrec.recpie.rl import grpo_update, reward


def test_reward_values_shape_and_bounds():
    y = np.array([0.0, 0.5, 1.0, 0.25])
    y_hat = np.array([0.0, 0.0, 0.0, 0.75])
    r = reward(y, y_hat)
    assert r.shape == (4,)
    np.testing.assert_allclose(r, [1.0, 1 / 1.5, 0.5, 1 / 1.5])  # exact: 1; the worst on [0, 1]: 1/2
    assert reward(np.array([0.2]), np.array([0.3]))[0] > reward(np.array([0.2]), np.array([0.6]))[0]


def test_reward_rejects_mismatched_or_nan():
    with pytest.raises(ParamError, match="y_hat"):
        reward(np.zeros(3), np.zeros(2))
    with pytest.raises(ParamError, match="finite"):
        reward(np.zeros(1), np.array([np.nan]))


def _target_logprob(explainer, prompt: str, word_id: int) -> float:
    ids = torch.tensor([explainer.tokenizer(prompt)["input_ids"]])
    with torch.no_grad():
        logits = explainer.model(input_ids=ids).logits[0, -1]
    return float(torch.log_softmax(logits.float(), -1)[word_id])


def test_one_grpo_step_raises_the_rewarded_words_probability(tiny):
    explainer = build_explainer(tiny, 2, 4, RecPIEExplainerConfig(lora_r=4), 0)
    tok = explainer.tokenizer
    request = explanation_request(["fun drama"], "dark comedy", 0, True, DOMAINS["movie"], "zero_shot", "contrastive",
                                  RecPIEExplainerConfig())
    prompt = render(explainer, request)
    word = "funny"
    word_id = tok.convert_tokens_to_ids(word)

    def prefers_word(prompts, completions, **_):
        return [float(c.split().count(word)) for c in completions]

    before = _target_logprob(explainer, prompt, word_id)
    out = grpo_update(explainer, {"prompt": [prompt] * 4}, prefers_word,
                      RLConfig(steps=1, num_generations=16, max_completion_length=12, learning_rate=0.05,
                               temperature=1.0, num_iterations=1), seed=0)
    after = _target_logprob(explainer, prompt, word_id)
    assert out["rl_steps"] == 1 and out["rl_reward"] is not None and out["rl_reward"] > 0
    assert after > before + 0.05, (before, after)


def _prompt(explainer, user: int = 0) -> str:
    return render(explainer, explanation_request(["fun drama"], "dark comedy", user, True, DOMAINS["movie"],
                                                 "zero_shot", "contrastive", RecPIEExplainerConfig()))


def _word_reward(word: str):
    def prefers_word(prompts, completions, **_):
        return [c.split().count(word) + 0.1 * len(c.split()) for c in completions]

    return prefers_word


def _clip_run(tmp_path, num_iterations: int, name: str) -> tuple[dict, dict, dict]:
    from tests.recpie.conftest import tiny_backend

    explainer = build_explainer(tiny_backend(tmp_path / name), 2, 4, RecPIEExplainerConfig(lora_r=4), 0)
    explainer.soft_prompt.set_users(torch.arange(8, dtype=torch.float32).reshape(2, 4) / 8)
    before = {k: v.clone() for k, v in explainer.trainable_state().items()}
    out = grpo_update(explainer, {"prompt": [_prompt(explainer, 0), _prompt(explainer, 1)]}, _word_reward("funny"),
                      RLConfig(steps=2, num_generations=8, prompts_per_step=2, max_completion_length=8,
                               learning_rate=0.2, num_iterations=num_iterations), seed=0)
    return out, before, explainer.trainable_state()


def test_the_clip_acts_with_several_iterations_per_batch_and_never_with_one(tmp_path):
    """With 2 optimiser steps per generation batch and a large learning rate, the second pass's ratio to
    the sampling policy leaves [1 - eps, 1 + eps] and trl clips some tokens; with 1 iteration trl sets the
    old log-probabilities to the current ones, the ratio is 1 and nothing is clipped."""
    two, before, after = _clip_run(tmp_path, 2, "two")
    assert two["rl_steps"] == 2
    region = [e["clip_ratio/region_mean"] for e in two["rl_log"]]
    assert region[0] == 0.0 and region[1] > 0.0, region  # the first pass samples: ratio 1
    assert two["rl_clip_ratio"] == pytest.approx(np.mean(region), abs=1e-6) and two["rl_clip_ratio"] > 0
    # the step trains the projection and every LoRA matrix (B starts at zero, so A only moves from step 2)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert {"soft_prompt.proj.weight", "soft_prompt.proj.bias"} <= changed
    lora = [k for k in before if k.startswith("lora.")]
    assert lora and set(lora) <= changed, sorted(set(lora) - changed)
    assert torch.equal(before["soft_prompt.users"], after["soft_prompt.users"])  # E_c is the recommender's

    one, _, _ = _clip_run(tmp_path, 1, "one")
    assert one["rl_steps"] == 2
    assert [e["clip_ratio/region_mean"] for e in one["rl_log"]] == [0.0, 0.0] and one["rl_clip_ratio"] == 0.0


def test_trl_completions_follow_the_soft_prompt(tmp_path):
    """Two identical explainers and seeds, one with a zero projection: the completions trl samples in the
    GRPO step differ, so the soft prompt acts in trl's generation too."""
    from tests.recpie.conftest import tiny_backend

    seen: dict[str, list[str]] = {}

    def run(name: str, scale: float) -> None:
        explainer = build_explainer(tiny_backend(tmp_path / name, sharp=True), 2, 4, RecPIEExplainerConfig(lora_r=4), 0)
        torch.manual_seed(1)
        explainer.soft_prompt.set_users(torch.randn(2, 4))
        with torch.no_grad():
            explainer.soft_prompt.proj.weight.normal_(0, scale)

        def record(prompts, completions, **_):
            seen.setdefault(name, []).extend(completions)
            return [float(len(c)) for c in completions]

        grpo_update(explainer, {"prompt": [_prompt(explainer, 0), _prompt(explainer, 1)]}, record,
                    RLConfig(steps=1, num_generations=8, prompts_per_step=2, max_completion_length=8,
                             learning_rate=1e-6, num_iterations=1), seed=0)

    run("off", 0.0)
    run("on", 3.0)
    assert len(seen["off"]) == len(seen["on"]) == 16
    assert seen["off"] != seen["on"]


def _reward_setup():
    from explainrec.core.recommender.encoded import encode_pairs
    from explainrec.core.recommender.model import ModelConfig
    from explainrec.core.recommender.train import TrainConfig, targets
    from explainrec.recpie.explainer import explanation_head
    from explainrec.recpie.recommender import TextEmbedder, fit_recommender, with_explanations
    from tests.recpie.conftest import HashingEncoder, tiny_pairs

    pairs, _ = tiny_pairs()
    embedder = TextEmbedder("sentence", HashingEncoder())
    heads = {k: explanation_head(DOMAINS["movie"], k, "user") for k in (True, False)}
    words = ["fun", "dark", "drama", "comedy", "long", "story", "music", "boring", "great", "action", "romance",
             "funny"]
    texts = {k: [f"{heads[k]} the user likes {words[i % 12]} {words[(i * 5 + int(k)) % 12]}."
                 for i in range(len(pairs))] for k in (True, False)}
    vectors = np.stack([embedder(texts[True]), embedder(texts[False])], axis=1)
    enc = encode_pairs(pairs, vectors, 2)
    rows = np.flatnonzero((pairs["split"] == "train").to_numpy())
    train_in = with_explanations(enc.train, vectors[rows])
    rec = fit_recommender(ModelConfig(history=2), TrainConfig(epochs=30, patience=0, val_fraction=0.0,
                                                              learning_rate=0.05),
                          train_in, enc.train_ratings, enc.n_users, enc.n_items, 0).model
    return rec, embedder, heads, train_in, vectors[rows], targets(enc.train_ratings, "regression")


def test_each_reward_is_its_own_rows_eq_1():
    """The reward function trl calls maps each completion to its own train row and target: for a shuffled
    batch mixing positive and negative completions, reward j = 1 / (1 + |y_row - f(x_row, e_j)|) with e_j
    completion j in place of the row's explanation of its kind, computed row by row."""
    from explainrec.core.recommender.train import predict
    from explainrec.recpie.explainer import sentence
    from explainrec.recpie.loop import _reward_fn
    from explainrec.recpie.recommender import with_explanations

    rec, embedder, heads, train_in, vectors, y01 = _reward_setup()
    assert len(set(np.round(y01, 6))) > 3  # distinct targets
    fn = _reward_fn(rec, embedder, heads, train_in, vectors, y01)
    rows = [7, 0, 11, 3, 3, 9, 5, 1]
    positive = [True, False, True, True, False, False, True, False]
    completions = ["the user likes drama", "the movie is boring", "great music and story", "funny comedy",
                   "dark action", "long romance story", "the user is fun", "actors are great"]
    got = np.asarray(fn(prompts=[""] * len(rows), completions=completions, row=rows, positive=positive))
    expected = []
    for r, p, c in zip(rows, positive, completions):
        v = vectors[r].copy()
        v[0 if p else 1] = embedder([sentence(heads[p], c)])[0]
        y_hat, _ = predict(rec, with_explanations(train_in.subset(torch.tensor([r])), v[None]))
        expected.append(1.0 / (1.0 + abs(float(y01[r]) - float(y_hat[0]))))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert len(set(np.round(expected, 6))) == len(expected)  # a row mix-up would show
    # the explanation matters: other completions give other rewards for the same rows
    other = fn(prompts=[""] * len(rows), completions=completions[::-1], row=rows, positive=positive)
    assert not np.allclose(other, got)


def test_grpo_steps_land_one_row_each_in_the_live_folder(tiny, tmp_path):
    from explainrec.core.curves import curves
    from explainrec.recpie.rl import log_rl_steps
    from tests.core.test_curves import tsv

    explainer = build_explainer(tiny, 2, 4, RecPIEExplainerConfig(lora_r=4), 0)
    out = grpo_update(explainer, {"prompt": [_prompt(explainer, 0), _prompt(explainer, 1)]}, _word_reward("funny"),
                      RLConfig(steps=2, num_generations=2, prompts_per_step=1, max_completion_length=4,
                               num_iterations=1), seed=0)
    with curves(tmp_path / "c") as live:
        assert log_rl_steps(live, out["rl_log"], 5) == 7
    assert out["rl_steps"] == 2 and len(out["rl_log"]) == 2
    loss = tsv(tmp_path / "c", "rl/loss")
    assert loss["step"].tolist() == [5, 6] and loss["loss"].tolist() == [e["loss"] for e in out["rl_log"]]
    reward_curve = tsv(tmp_path / "c", "rl/reward")
    assert reward_curve["reward"].tolist() == [e["reward"] for e in out["rl_log"] if "reward" in e]
    # write_outputs logs every round's log the same way, steps numbered on across rounds
    with curves(tmp_path / "rounds") as live:
        step = log_rl_steps(live, out["rl_log"], 1, {"rl/round": 0})
        assert log_rl_steps(live, out["rl_log"], step, {"rl/round": 1}) == 5
    assert tsv(tmp_path / "rounds", "rl/round")["round"].tolist() == [0, 0, 1, 1]
