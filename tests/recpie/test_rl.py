"""The reward r(e) = 1 / (1 + |y - f(x, e)|) and one GRPO step on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainrec.errors import ParamError
from explainrec.lrrecsys.prompts import DOMAINS
from explainrec.recpie.config import ExplainerConfig, RLConfig
from explainrec.recpie.explainer import build_explainer, explanation_request, render
from explainrec.recpie.rl import grpo_update, reward


def test_reward_values_shape_and_bounds():
    y = np.array([0.0, 0.5, 1.0, 0.25])
    y_hat = np.array([0.0, 0.0, 0.0, 0.75])
    r = reward(y, y_hat)
    assert r.shape == (4,)
    np.testing.assert_allclose(r, [1.0, 1 / 1.5, 0.5, 1 / 1.5])  # exact: 1; the worst on [0, 1]: 1/2
    grid = np.linspace(0, 1, 11)
    rr = reward(grid[:, None].repeat(11, 1).ravel(), np.tile(grid, 11))
    assert rr.min() >= 0.5 and rr.max() == 1.0
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
    explainer = build_explainer(tiny, 2, 4, ExplainerConfig(lora_r=4), 0)
    tok = explainer.tokenizer
    request = explanation_request(["fun drama"], "dark comedy", 0, True, DOMAINS["movie"], "zero_shot", "contrastive",
                                  ExplainerConfig())
    prompt = render(explainer, request)
    word = "funny"
    word_id = tok.convert_tokens_to_ids(word)

    def prefers_word(prompts, completions, **_):
        return [float(c.split().count(word)) for c in completions]

    before = _target_logprob(explainer, prompt, word_id)
    out = grpo_update(explainer, {"prompt": [prompt] * 4}, prefers_word,
                      RLConfig(steps=1, num_generations=16, max_completion_length=12, learning_rate=0.05,
                               temperature=1.0), seed=0)
    after = _target_logprob(explainer, prompt, word_id)
    assert out["rl_steps"] == 1 and out["rl_reward"] is not None and out["rl_reward"] > 0
    assert after > before + 0.05, (before, after)
