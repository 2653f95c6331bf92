"""Coverage (paper 002 Table 2, App. C.3): the share of a pair's aspect terms its explanation mentions.

The paper's datasets give three aspect terms per (user, item) pair (footnote 5), and for Google
Maps it has an LLM infer them "based on the review text and business descriptions" (App. C.1).
Here, for each test pair (Coverage is measured on the test explanations):

* where the dataset has a review of the pair (:func:`pair_reviews`: the ``review`` column of the
  filtered interactions; Amazon, Yelp, Steam), the LLM derives ``n`` terms from that review and
  the item's title (:func:`aspect_request` with ``source="review"``): text the explainer never
  reads;
* otherwise (MovieLens-100K, the default data, has no reviews) from the item's own text, its
  title and profile, which is **the same text the explainer reads** in its prompt: Coverage
  then measures how much of the item text's keywords the explanation repeats, not whether it
  finds what a reviewer cared about.

Every answer is cached by content in the project's LLM layer, so later rounds and reruns ask
nothing. With the bundled 135M model the derived terms are rough (it often echoes the title or
the request); :func:`parse_aspects` drops those echoes, and a pair may keep fewer than ``n``
terms or none (such pairs are left out of Coverage). :func:`coverage` counts an aspect as
mentioned when each of its content words (stop words dropped) occurs in the explanation,
case-insensitively, as a word or the start of one ("drama" matches "dramas" and "dramatic").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from explainrec.llm.types import ChatRequest

_WORD = re.compile(r"[a-z0-9']+")
#: words of the request's own wording, which a small model echoes instead of answering
_TEMPLATE = frozenset("genre genres mood moods theme themes aspect aspects keyword keywords word words single this "
                      "item its example 1st 2nd 3rd".split())
_STOP = frozenset("a an the of and or in on at to for with from by its it is this that movie film product item "
                  "very more most".split())


#: where a pair's aspect terms come from
SOURCES = ("item", "review")


def aspect_request(text: str, n: int, max_new_tokens: int, source: str = "item") -> ChatRequest:
    """Ask for ``n`` keywords (genre, mood, theme ...) of the item described by ``text``
    (``source="item"``), or of the item as the review in ``text`` sees it (``"review"``), comma-separated."""
    from explainrec.core.config import check_choice

    check_choice(source, "source", SOURCES)
    ask = ("Describe this item with" if source == "item"
           else "Describe the item as this review sees it with")
    return ChatRequest.of(None, f"{text}\n{ask} {n} single-word keywords (for example its genre, "
                                "its mood and its theme), separated by commas.",
                          opening="Keywords:", max_new_tokens=max_new_tokens, stop=("\n\n",))


def pair_reviews(pairs: pd.DataFrame, interactions: pd.DataFrame) -> dict[str, str]:
    """``{pair_id: review}`` for the pairs whose interaction (same user, item and timestamp) has a
    non-empty ``review`` in ``interactions`` (the filtered interactions table); empty when the
    table has no ``review`` column or none is filled (MovieLens)."""
    if "review" not in interactions.columns or pairs.empty:
        return {}
    keys = ["user_id", "item_id", "timestamp"]
    left = pairs[["pair_id", *keys]].copy()
    right = interactions[[*keys, "review"]].copy()
    for frame in (left, right):
        frame["user_id"] = frame["user_id"].astype(str)
        frame["item_id"] = frame["item_id"].astype(str)
        frame["timestamp"] = pd.to_numeric(frame["timestamp"], errors="coerce").astype("Int64")
    right = right.drop_duplicates(keys, keep="last")
    merged = left.merge(right, on=keys, how="left")
    out = {}
    for pid, review in zip(merged["pair_id"].astype(str), merged["review"]):
        text = "" if review is None or pd.isna(review) else " ".join(str(review).split())
        if text:
            out[pid] = text
    return out


def aspect_texts(pairs: pd.DataFrame, texts: Mapping[str, str], reviews: Mapping[str, str] | None = None,
                 max_review_chars: int = 1000) -> dict[str, tuple[str, str, str]]:
    """``{pair_id: (source, text, title)}`` for every pair of ``pairs``: its review with the item's title
    when ``reviews`` has one (source ``review``), else the item's text ``texts[item_id]`` (``item``);
    ``title`` is what :func:`parse_aspects` drops echoes of."""
    out = {}
    for pid, item in zip(pairs["pair_id"].astype(str), pairs["item_id"].astype(str)):
        item_text = texts[item]
        title = item_text.split(":", 1)[0]
        review = (reviews or {}).get(pid)
        if review:
            out[pid] = ("review", f"{title}\nReview: {review[:max_review_chars]}", title)
        else:
            out[pid] = ("item", item_text, title)
    return out


def parse_aspects(text: str, n: int, title: str = "") -> list[str]:
    """The first ``n`` distinct terms of a comma/semicolon/newline-separated answer: numbering, numbers, words of one or two letters,
    the request's own words and the item's ``title`` words dropped, lower case, at most three words each."""
    banned = set(_WORD.findall(title.lower()))
    out: list[str] = []
    for part in re.split(r"[,;\n]|\band\b", text.lower()):
        words = [w for w in _WORD.findall(re.sub(r"^\s*\d+[.)]\s*", "", part))
                 if len(w) > 2 and not w.isdigit() and w not in _TEMPLATE and w not in banned]
        term = " ".join(words[:3])
        if term and term not in out and any(w not in _STOP for w in words[:3]):
            out.append(term)
        if len(out) == n:
            break
    return out


def derive_aspects(llm: Any, sources: Mapping[str, tuple[str, str, str]], n: int,
                   max_new_tokens: int = 24) -> dict[str, list[str]]:
    """``{key: [aspect, ...]}`` (at most ``n`` each) from ``llm`` (an :class:`~explainrec.llm.client.LLM`,
    cached), one request per distinct (source, text) of ``sources`` (``{key: (source, text, title)}``,
    as :func:`aspect_texts` gives): pairs of one item without reviews share one request."""
    keys = sorted(sources)
    distinct = list(dict.fromkeys(sources[k][:2] for k in keys))
    answers = llm.chat([aspect_request(text, n, max_new_tokens, source) for source, text in distinct],
                       desc="recpie aspects")
    by_text = {d: a.text for d, a in zip(distinct, answers)}
    return {k: parse_aspects(by_text[sources[k][:2]], n, sources[k][2]) for k in keys}


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def mentions(explanation: str, aspect: str) -> bool:
    """True when every content word of ``aspect`` opens a word of ``explanation``."""
    words = _WORD.findall(explanation.lower())
    needed = _content(aspect)
    return bool(needed) and all(any(w.startswith(a) for w in words) for a in needed)


def coverage(explanations: Sequence[str], aspects: Sequence[Sequence[str]]) -> float | None:
    """Mean over the explanations that have aspects of the share of their aspects mentioned; None
    when no explanation has any."""
    shares = [sum(mentions(e, a) for a in terms) / len(terms) for e, terms in zip(explanations, aspects) if terms]
    return round(sum(shares) / len(shares), 6) if shares else None
