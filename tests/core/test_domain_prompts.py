"""LR-Recsys prompts: the paper's three styles and Ablation 3's wording, with the dataset's domain words."""

from __future__ import annotations

import pytest

from explainrec.core.domain_prompts import DOMAINS, answer_opening, opening, resolve_domain, user_message
from explainrec.core.errors import ParamError


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


# App. C.2.1 and C.2.2 of paper 003, copied from the paper
PAPER_HOTEL = (
    "[Example Input]\nPast Hotel Profiles: Peppers Gallery Hotel is a luxurious 5-star hotel located in the heart of "
    "Sydney, Australia. The hotel is housed in a historic building that has been beautifully restored to combine "
    "modern comfort with traditional elegance. The hotel's unique art collection and contemporary design make it a "
    "perfect choice for art lovers, couples, and business travelers seeking a luxurious and sophisticated experience. "
    "The hotel's central location allows guests to easily explore Sydney's famous landmarks and cultural attractions. "
    "Whether you're looking to relax and unwind or experience the best of Sydney, Peppers Gallery Hotel is the "
    "perfect choice.\nCurrent Hotel Profile: Escape the hustle and bustle of Amsterdam and indulge in a luxurious "
    "stay at the Sheraton Amsterdam Airport Hotel and Conference Center. Conveniently located just minutes from "
    "Amsterdam Airport Schiphol, this 5-star hotel offers spacious rooms, a fitness center, and an on-site "
    "restaurant. Perfect for both business and leisure travelers seeking a comfortable and relaxing retreat.\n\n"
    "[Example Output]\nExplanation: The consumer did not stay at this hotel because the consumer is not interested "
    "in visiting Amsterdam or staying at an airport hotel and the hotel is located at the Amsterdam airport.")
PAPER_YELP = (
    "[Example Input]\nLast Restaurant Profile: Claim Jumper is a restaurant that offers a unique dining experience, "
    "known for its delicious food and friendly service. The menu features a variety of dishes that are sure to please "
    "any palate. Whether you are looking for a casual dining experience or a romantic dinner for two, Claim Jumper is "
    "the perfect choice.\nCurrent Restaurant Profile: Feast Buffet is a hotel restaurant that offers a wide variety "
    "of international cuisine. The restaurant is perfect for families, couples, and business travelers who are "
    "looking for a delicious and affordable meal. Overall, Feast Buffet is a great option for anyone looking for a "
    "delicious and affordable meal in a comfortable and welcoming environment.\n\n[Example Output]\nExplanation: The "
    "consumer visited this restaurant because the consumer is looking for a romantic dining place and the restaurant "
    "offers a delicious and affordable dining experience for couples.")


def test_one_shot_examples_are_the_papers_texts_word_for_word():
    hotel = user_message("history", "contrastive", DOMAINS["hotel"], False, ["X"], "Z")
    assert PAPER_HOTEL in hotel
    assert hotel.startswith("[Instruction]\nProvide a reason for why this consumer did not stay at the current hotel, "
                            "based on the provided profile of the past hotels the consumer stayed at and the profile "
                            "of the current hotel. Answer with exactly one sentence with the following format: \"The "
                            "consumer did not stay at this hotel because the consumer ... and the hotel ...\"")
    assert PAPER_YELP in user_message("last_item", "contrastive", DOMAINS["restaurant"], True, ["X"], "Z")
    # another domain keeps the paper's example passages, under its own labels
    movie = user_message("history", "contrastive", DOMAINS["movie"], True, ["X"], "Z")
    assert PAPER_HOTEL.split("\n")[1].replace("Past Hotel Profiles", "Past Movie Profiles") in movie
