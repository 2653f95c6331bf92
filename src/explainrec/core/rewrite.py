"""XRec's ground truth (paper 001, Eq. 14 and its Fig. 5 prompt): an LLM rewrites the user's
review of an item into one line of at most 50 words explaining why the user would enjoy it.

The XRec adapter stage trains on these rewrites; the ground-truth study judges them
against CPEG's explanations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from explainrec.llm.types import ChatRequest

#: XRec's ground-truth prompt (paper 001, Fig. 5), with "business" read as "item"
REWRITE_SYSTEM = (
    "You will serve as an assistant to help me explain why the user would enjoy the item. "
    "I will provide you with the review of the item written by the user. Here are the instructions:\n"
    "1. The basic information will be described in JSON format, with the following attributes:\n"
    '{ "review": "review of the item written by the user" }\n'
    "Requirements:\n"
    "1. Please provide your answer in STRING format in one line.\n"
    "2. Please ensure the answer is no longer than 50 words."
)


def rewrite_request(review: str, max_new_tokens: int) -> ChatRequest:
    """XRec's Eq. 14 request: the review alone, as JSON."""
    return ChatRequest.of(REWRITE_SYSTEM, json.dumps({"review": " ".join(str(review).split())}),
                          max_new_tokens=max_new_tokens, temperature=0.0)


def clean_rewrite(text: str) -> str:
    """The answer on one line, without the quotes or braces the prompt's format invites."""
    return " ".join(str(text).split()).strip().strip("{}").strip().strip('"').strip()


def rewrite_reviews(llm: Any, pairs: pd.DataFrame, reviews: Mapping[tuple[str, str], str | None],
                    max_new_tokens: int = 80) -> pd.DataFrame:
    """XRec-style ground truths for the ``pairs`` that have a non-empty review:
    ``user_id, item_id, review, explanation``."""
    rows = [(u, i, reviews[(u, i)]) for u, i in zip(pairs["user_id"], pairs["item_id"])
            if (reviews.get((u, i)) or "").strip()]
    outs = llm.chat([rewrite_request(r, max_new_tokens) for _, _, r in rows], desc="gt xrec rewrite") if rows else []
    return pd.DataFrame({"user_id": [u for u, _, _ in rows], "item_id": [i for _, i, _ in rows],
                         "review": [r for _, _, r in rows], "explanation": [clean_rewrite(o.text) for o in outs]},
                        columns=["user_id", "item_id", "review", "explanation"]).astype("string")
