"""RecPIE's params (one-line errors naming the param) and the Coverage metric."""

from __future__ import annotations

import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import ParamError
from explainrec.recpie.aspects import (aspect_request, aspect_texts, coverage, derive_aspects, mentions, pair_reviews,
                                       parse_aspects)
from explainrec.recpie.config import RecPIEExplainerConfig, RecPIEConfig, RLConfig


@pytest.mark.parametrize("section, param", [
    ({"rounds": 0}, "recpie.rounds"),
    ({"warm_start": "yes"}, "recpie.warm_start"),
    ({"encoder": "distilbert"}, "recpie.encoder"),
    ({"max_train_pairs": 1}, "recpie.max_train_pairs"),
    ({"kl_pairs": -1}, "recpie.kl_pairs"),
    ({"rl": {"num_generations": 1}}, "recpie.rl.num_generations"),
    ({"rl": {"learning_rate": 0}}, "recpie.rl.learning_rate"),
    ({"rl": {"loss_type": "ppo"}}, "recpie.rl.loss_type"),
    ({"rl": {"beta": -0.1}}, "recpie.rl.beta"),
    ({"rl": "fast"}, "recpie.rl"),
    ({"explainer": {"target_modules": []}}, "recpie.explainer.target_modules"),
    ({"explainer": {"person": "customer"}}, "recpie.explainer.person"),
    ({"explainer": {"template": "app_b2"}}, "recpie.explainer.template"),
    ({"rl": {"num_iterations": 0}}, "recpie.rl.num_iterations"),
    ({"rl": {"steps": 5, "num_iterations": 2}}, "recpie.rl.steps"),
    ({"explainer": {"lora_r": 0}}, "recpie.explainer.lora_r"),
    ({"explainer": {"colour": 1}}, "recpie.explainer.colour"),
    ({"typo": 1}, "recpie.typo"),
])
def test_bad_params_name_the_param_on_one_line(section, param):
    with pytest.raises(ParamError) as err:
        from_section(RecPIEConfig, section, "recpie")
    assert err.value.param == param
    assert "\n" not in str(err.value) and f"param '{param}'" in str(err.value)


def test_nested_sections_become_dataclasses_and_rounds_is_not_fingerprinted():
    c = from_section(RecPIEConfig, {"rounds": 3, "rl": {"steps": 2}, "explainer": {"target_modules": ["q_proj"]}},
                     "recpie")
    assert isinstance(c.rl, RLConfig) and c.rl.steps == 2
    assert isinstance(c.explainer, RecPIEExplainerConfig) and c.explainer.target_modules == ("q_proj",)
    assert "rounds" not in c.fingerprint()
    assert RecPIEConfig(rounds=5).fingerprint() == RecPIEConfig(rounds=2).fingerprint()
    assert RecPIEConfig(warm_start=False).fingerprint() != RecPIEConfig().fingerprint()


def test_parse_aspects():
    assert parse_aspects("1. Dark humor, 2) romance; great soundtrack, Dark humor", 3) == [
        "dark humor", "romance", "great soundtrack"]
    assert parse_aspects(" \"Science-fiction\", the, action and adventure", 3) == ["science fiction", "action", "adventure"]
    assert parse_aspects("", 3) == []
    # echoes of the request and of the title, and bare numbers, are not aspects
    assert parse_aspects("Toy Story 1995, genre, 1, animation, mood: playful", 3, "Toy Story (1995)") == [
        "animation", "playful"]


def test_mentions_and_coverage():
    e = "The user watched this movie because the user likes dramatic stories and the movie has dark humor."
    assert mentions(e, "drama") and mentions(e, "dark humor") and mentions(e, "story") is False
    assert mentions(e, "stories")
    assert not mentions(e, "the")  # no content word
    assert coverage([e, e], [["drama", "romance"], ["dark humor", "stories", "action", "comedy"]]) == \
        pytest.approx((1 / 2 + 2 / 4) / 2)
    assert coverage([e], [[]]) is None
    assert coverage([e, "x"], [["drama"], []]) == 1.0


def test_aspect_request_is_cacheable_and_deterministic():
    a, b = aspect_request("Toy Story: a fun animation", 3, 24), aspect_request("Toy Story: a fun animation", 3, 24)
    assert a == b and a.params.max_new_tokens == 24 and "with 3 single-word keywords" in a.messages[-2][1]


def test_rl_generation_batches_and_the_default_makes_the_clip_act():
    assert RLConfig(steps=12, num_iterations=2).generation_batches == 6
    assert RLConfig(steps=3, num_iterations=1).generation_batches == 3
    assert RLConfig().num_iterations > 1  # the default update is PPO-style clipped, not a plain policy gradient


def test_app_a1_prompt_in_the_domains_words():
    from explainrec.core.domain_prompts import DOMAINS
    from explainrec.recpie.explainer import app_a1_message, explanation_request

    neg = app_a1_message(DOMAINS["product"], False, ["A", "B"], "C", "user")
    assert neg.startswith("Provide a reason for why this user did not purchase this product, based on the provided "
                          "profile of the past products the user purchased, and the profile of the current product. "
                          "Answer with exactly one sentence in the following format: 'The user did not purchase this "
                          "product because the user ... and the product ...'.")
    assert neg.endswith("Profiles of the past products: A | B\nProfile of the current product: C")
    r = explanation_request(["A"], "C", 3, True, DOMAINS["movie"], "history", "contrastive", RecPIEExplainerConfig())
    assert r.messages[-2][1].startswith("<recpie_user_3> Provide a reason for why this user watched this movie")
    assert r.messages[-1][1] == "The user watched this movie because"
    old = explanation_request(["A"], "C", 3, True, DOMAINS["movie"], "zero_shot", "contrastive",
                              RecPIEExplainerConfig(template="lrrecsys"))
    assert "Given the profiles of the watching history of this user" in old.messages[-2][1]


def test_reviews_give_the_aspect_terms_where_the_dataset_has_them():
    """A tiny interactions table: the pair with a review gets its aspects from that review (its item's
    title kept for context and echo removal), the pair without one from its item text."""
    import pandas as pd

    pairs = pd.DataFrame({"pair_id": ["test:u1:i1", "test:u2:i2", "test:u3:i1"], "split": "test",
                          "user_id": ["u1", "u2", "u3"], "item_id": ["i1", "i2", "i1"],
                          "timestamp": pd.array([10, 20, 30], dtype="Int64")})
    interactions = pd.DataFrame({"user_id": pd.array(["u1", "u2", "u3", "u1"], dtype="string"),
                                 "item_id": pd.array(["i1", "i2", "i1", "i1"], dtype="string"),
                                 "timestamp": pd.array([10, 20, 30, 5], dtype="Int64"),
                                 "review": pd.array(["Great  strings,\nwarm tone.", None, "", "older review"],
                                                    dtype="string")})
    reviews = pair_reviews(pairs, interactions)
    assert reviews == {"test:u1:i1": "Great strings, warm tone."}  # same user, item and time; empty ones dropped
    assert pair_reviews(pairs, interactions.drop(columns="review")) == {}
    texts = {"i1": "Fender Strat: an electric guitar", "i2": "Capo: a clamp"}
    sources = aspect_texts(pairs, texts, reviews)
    assert sources["test:u1:i1"] == ("review", "Fender Strat\nReview: Great strings, warm tone.", "Fender Strat")
    assert sources["test:u2:i2"] == ("item", "Capo: a clamp", "Capo")
    assert sources["test:u3:i1"] == ("item", "Fender Strat: an electric guitar", "Fender Strat")

    class Answers:
        def __init__(self):
            self.asked = []

        def chat(self, requests, desc=None):
            from explainrec.llm.types import Completion

            self.asked += [r.messages[-2][1] for r in requests]
            return [Completion("strings, tone, fender" if "Review:" in r.messages[-2][1] else "guitar, clamp, music",
                               1, 1) for r in requests]

    llm = Answers()
    aspects = derive_aspects(llm, sources, 3)
    assert len(llm.asked) == 3 and sum("as this review sees it" in t for t in llm.asked) == 1
    assert aspects == {"test:u1:i1": ["strings", "tone"], "test:u2:i2": ["guitar", "clamp", "music"],
                       "test:u3:i1": ["guitar", "clamp", "music"]}
