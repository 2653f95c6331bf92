"""LR-Recsys prompts: the paper's three styles and Ablation 3's wording, with the dataset's domain words."""

from __future__ import annotations

import pytest

from explainrec.errors import ParamError
from explainrec.lrrecsys.prompts import DOMAINS, answer_opening, opening, resolve_domain, user_message


def test_domain_words_from_the_dataset_format():
    assert resolve_domain("auto", "movielens").item == "movie"
    assert resolve_domain("auto", "yelp").did == "visited"
    assert resolve_domain("auto", "something-new").item == "item"
    assert resolve_domain("hotel", "movielens").did == "stayed at"
    with pytest.raises(ParamError, match="domain"):
        resolve_domain("boat", None)


def test_zero_shot_is_the_amazon_prompt_and_pos_neg_share_the_history_prefix():
    d = DOMAINS["movie"]
    pos = user_message("zero_shot", "contrastive", d, True, ["A: a film", "B: b film"], "C: c film")
    neg = user_message("zero_shot", "contrastive", d, False, ["A: a film", "B: b film"], "C: c film")
    assert pos.startswith("Given the profiles of the watching history of this consumer A: a film | B: b film, "
                          "can you provide a reason for why this consumer watched the following recommended movie "
                          "with profile C: c film?")
    assert "did not watch the following recommended movie" in neg
    first_difference = next(i for i, (a, b) in enumerate(zip(pos, neg)) if a != b)
    assert first_difference > pos.index("B: b film")  # the history comes before the first difference
    assert opening(d, True) == "The consumer watched this movie because"
    assert answer_opening("zero_shot", "contrastive", d, False) == "The consumer did not watch this movie because"


def test_one_shot_styles_and_the_alternative_prompt():
    d = DOMAINS["restaurant"]
    hist = user_message("history", "contrastive", d, True, ["X", "Y"], "Z")
    assert hist.startswith("[Instruction]\nProvide a reason for why this consumer visited the current restaurant")
    assert "[Example Output]" in hist and "Past Restaurant Profiles: X | Y\nCurrent Restaurant Profile: Z" in hist
    last = user_message("last_item", "contrastive", d, False, ["X", "Y"], "Z")
    assert "Last Restaurant Profile: Y\nCurrent Restaurant Profile: Z" in last and "did not visit" in last
    assert answer_opening("history", "contrastive", d, True).startswith("Explanation: The consumer visited")
    alt = user_message("history", "alternative", DOMAINS["movie"], True, ["X"], "Z")
    assert alt.startswith("Can you explain the reason why this consumer watches this movie with profile Z, "
                          "based on the profiles of previously watched movies X?")
    assert "does not watch" in user_message("zero_shot", "alternative", DOMAINS["movie"], False, ["X"], "Z")
    assert answer_opening("history", "alternative", d, True) == "The consumer visited this restaurant because"
    with pytest.raises(ParamError, match="style"):
        user_message("few_shot", "contrastive", d, True, [], "Z")
