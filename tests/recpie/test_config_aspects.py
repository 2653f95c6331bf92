"""RecPIE's params (one-line errors naming the param) and the Coverage metric."""

from __future__ import annotations

import pytest

from explainrec.config import from_section
from explainrec.errors import ParamError
from explainrec.recpie.aspects import aspect_request, coverage, mentions, parse_aspects
from explainrec.recpie.config import ExplainerConfig, RecPIEConfig, RLConfig


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
    assert isinstance(c.explainer, ExplainerConfig) and c.explainer.target_modules == ("q_proj",)
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
