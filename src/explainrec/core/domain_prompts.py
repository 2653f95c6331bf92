"""The explanation prompts of paper 003 (App. C.2, C.5), with the dataset's domain words.

Three styles, one per dataset in the paper:

``zero_shot`` (C.2.3, Amazon Movie)
    "Given the profiles of the watching history of this consumer {seq}, can you provide a
    reason for why this consumer watched the following recommended movie with profile {cand}? ..."
``history`` (C.2.1, TripAdvisor)
    "[Instruction] Provide a reason for why this consumer stayed at the current hotel, based on
    the provided profile of the past hotels ..." with the paper's one-shot example.
``last_item`` (C.2.2, Yelp)
    the same instruction about the *last* item only, with the paper's Yelp example.

``alternative`` is Ablation 3's prompt (C.5): "Can you explain the reason why this consumer
watches this movie with profile {cand}, based on the profiles of previously watched movies
{seq}? ...", and its negative twin ("does not watch"), which the paper does not print.

The domain words ("movie", "watched", "did not watch" ...) come from the dataset; the
one-shot examples are the paper's hotel and restaurant texts whatever the domain (they
show the answer format, not the domain). Every answer opens with the format's first
words ("The consumer watched this movie because"), given as the start of the assistant
turn, so the model only writes the reason; generation stops at the end of the sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from explainrec.core.config import check_bool, check_choice, check_int, check_layer
from explainrec.core.errors import ParamError
from explainrec.core.text import truncate

STYLES = ("zero_shot", "history", "last_item")
PROMPTS = ("contrastive", "alternative")


@dataclass(frozen=True)
class Domain:
    """The words a prompt uses for the dataset's items and the consumer's action."""

    item: str
    items: str
    did: str  # "watched"
    did_not: str  # "did not watch"
    does: str  # "watches"
    does_not: str  # "does not watch"
    history: str  # "watching history"


DOMAINS = {
    "movie": Domain("movie", "movies", "watched", "did not watch", "watches", "does not watch", "watching history"),
    "product": Domain("product", "products", "purchased", "did not purchase", "purchases", "does not purchase",
                      "purchase history"),
    "restaurant": Domain("restaurant", "restaurants", "visited", "did not visit", "visits", "does not visit",
                         "visiting history"),
    "hotel": Domain("hotel", "hotels", "stayed at", "did not stay at", "stays at", "does not stay at",
                    "stay history"),
    "game": Domain("game", "games", "played", "did not play", "plays", "does not play", "playing history"),
    "item": Domain("item", "items", "chose", "did not choose", "chooses", "does not choose", "history"),
}
#: the domain of each dataset format (``lrrecsys.explain.domain: auto``)
FORMAT_DOMAINS = {"movielens": "movie", "amazon": "product", "yelp": "restaurant", "steam": "game",
                  "precomputed": "item"}


def resolve_domain(name: str, dataset_format: str | None) -> Domain:
    """``name`` from :data:`DOMAINS`, or the dataset format's domain for ``auto``."""
    if name == "auto":
        name = FORMAT_DOMAINS.get(dataset_format or "", "item")
    if name not in DOMAINS:
        raise ParamError("domain", "auto or one of " + ", ".join(DOMAINS), name)
    return DOMAINS[name]


# The paper's one-shot examples (App. C.2.1 and C.2.2), word for word as printed.
_HOTEL_PAST = (
    "Peppers Gallery Hotel is a luxurious 5-star hotel located in the heart of Sydney, Australia. The hotel is "
    "housed in a historic building that has been beautifully restored to combine modern comfort with traditional "
    "elegance. The hotel's unique art collection and contemporary design make it a perfect choice for art lovers, "
    "couples, and business travelers seeking a luxurious and sophisticated experience. The hotel's central location "
    "allows guests to easily explore Sydney's famous landmarks and cultural attractions. Whether you're looking to "
    "relax and unwind or experience the best of Sydney, Peppers Gallery Hotel is the perfect choice.")
_HOTEL_CURRENT = (
    "Escape the hustle and bustle of Amsterdam and indulge in a luxurious stay at the Sheraton Amsterdam Airport "
    "Hotel and Conference Center. Conveniently located just minutes from Amsterdam Airport Schiphol, this 5-star "
    "hotel offers spacious rooms, a fitness center, and an on-site restaurant. Perfect for both business and leisure "
    "travelers seeking a comfortable and relaxing retreat.")
_HOTEL_OUT = {
    True: "The consumer stayed at this hotel because the consumer is traveling for business and the hotel is "
          "luxurious and conveniently located at the airport.",
    False: "The consumer did not stay at this hotel because the consumer is not interested in visiting Amsterdam "
           "or staying at an airport hotel and the hotel is located at the Amsterdam airport.",
}
_YELP_LAST = (
    "Claim Jumper is a restaurant that offers a unique dining experience, known for its delicious food and "
    "friendly service. The menu features a variety of dishes that are sure to please any palate. Whether you are "
    "looking for a casual dining experience or a romantic dinner for two, Claim Jumper is the perfect choice.")
_YELP_CURRENT = (
    "Feast Buffet is a hotel restaurant that offers a wide variety of international cuisine. The restaurant is "
    "perfect for families, couples, and business travelers who are looking for a delicious and affordable meal. "
    "Overall, Feast Buffet is a great option for anyone looking for a delicious and affordable meal in a "
    "comfortable and welcoming environment.")
_YELP_OUT = {
    True: "The consumer visited this restaurant because the consumer is looking for a romantic dining place and "
          "the restaurant offers a delicious and affordable dining experience for couples.",
    False: "The consumer did not visit this restaurant because the consumer is looking for a fine dining "
           "experience and the restaurant offers only affordable and buffet options.",
}


def opening(d: Domain, positive: bool) -> str:
    """The answer's first words, which the model continues."""
    return f"The consumer {d.did if positive else d.did_not} this {d.item} because"


def _instruction(d: Domain, positive: bool, past: str) -> str:
    act = d.did if positive else d.did_not
    return (f"[Instruction]\nProvide a reason for why this consumer {act} the current {d.item}, based on the "
            f"provided profile of {past} the consumer {d.did} and the profile of the current {d.item}. Answer "
            f"with exactly one sentence with the following format: \"{opening(d, positive)} the consumer ... "
            f"and the {d.item} ...\"")


def user_message(style: str, prompt: str, d: Domain, positive: bool, history: list[str], candidate: str) -> str:
    """The user turn for one explanation: ``history`` holds the history items' texts (oldest
    first), ``candidate`` the candidate's text."""
    if style not in STYLES:
        raise ParamError("style", "one of " + ", ".join(STYLES), style)
    if prompt not in PROMPTS:
        raise ParamError("prompt", "one of " + ", ".join(PROMPTS), prompt)
    seq = " | ".join(history) if history else "(none)"
    if prompt == "alternative":
        act = d.does if positive else d.does_not
        return (f"Can you explain the reason why this consumer {act} this {d.item} with profile {candidate}, "
                f"based on the profiles of previously {d.did} {d.items} {seq}? Answer with one sentence with the "
                f"following format: {opening(d, positive)} ...")
    if style == "zero_shot":
        act = d.did if positive else d.did_not
        return (f"Given the profiles of the {d.history} of this consumer {seq}, can you provide a reason for why "
                f"this consumer {act} the following recommended {d.item} with profile {candidate}? Answer with "
                f"one sentence with the following format: {opening(d, positive)}...")
    Item = d.item.capitalize()
    if style == "history":
        head = _instruction(d, positive, f"the past {d.items}")
        example = (f"[Example Input]\nPast {Item} Profiles: {_HOTEL_PAST}\nCurrent {Item} Profile: {_HOTEL_CURRENT}"
                   f"\n\n[Example Output]\nExplanation: {_HOTEL_OUT[positive]}")
        return f"{head}\n\n{example}\n\n[Input]\nPast {Item} Profiles: {seq}\nCurrent {Item} Profile: {candidate}"
    last = history[-1] if history else "(none)"
    head = _instruction(d, positive, f"the last {d.item}")
    example = (f"[Example Input]\nLast {Item} Profile: {_YELP_LAST}\nCurrent {Item} Profile: {_YELP_CURRENT}"
               f"\n\n[Example Output]\nExplanation: {_YELP_OUT[positive]}")
    return f"{head}\n\n{example}\n\n[Input]\nLast {Item} Profile: {last}\nCurrent {Item} Profile: {candidate}"


def answer_opening(style: str, prompt: str, d: Domain, positive: bool) -> str:
    """What the assistant turn starts with (the one-shot styles answer "Explanation: ...")."""
    one_shot = style != "zero_shot" and prompt == "contrastive"
    return ("Explanation: " if one_shot else "") + opening(d, positive)


@dataclass(frozen=True)
class ExplainConfig:
    """``lrrecsys.explain`` (and the overrides of ``lrrecsys.explanation_sets``)."""

    style: str = "zero_shot"
    prompt: str = "contrastive"
    profile_augmentation: bool = True
    domain: str = "auto"
    profile_layer: int = 0
    max_profile_chars: int | None = 80
    max_new_tokens: int = 32

    def __post_init__(self) -> None:
        check_choice(self.style, "style", STYLES)
        check_choice(self.prompt, "prompt", PROMPTS)
        check_bool(self.profile_augmentation, "profile_augmentation")
        check_choice(self.domain, "domain", ("auto", *DOMAINS))
        check_layer(self.profile_layer, "profile_layer")
        check_int(self.max_profile_chars, "max_profile_chars", none_ok=True)
        check_int(self.max_new_tokens, "max_new_tokens")


def item_texts(items: pd.DataFrame, profiles: Mapping[str, str], config: ExplainConfig) -> dict[str, str]:
    """``{item_id: text}``: "title: profile" with profile augmentation, else the title
    (an item without a title is named by its id)."""
    out = {}
    for item_id, title in zip(items["item_id"].astype(str), items["title"]):
        name = str(title) if not pd.isna(title) and str(title).strip() else f"item {item_id}"
        profile = profiles.get(item_id) if config.profile_augmentation else None
        if profile:
            text = " ".join(profile.split())
            if config.max_profile_chars is not None:
                text = truncate(text, config.max_profile_chars)
            name = f"{name}: {text}"
        out[item_id] = name
    return out
