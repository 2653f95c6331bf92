"""Positive and negative explanations for every pair, from the ``llm`` (paper 003 §3.4.1, Algorithm 1 steps 2-4).

Each item is shown as its title and, with profile augmentation (§3.6), its PGHIS
layer-0 profile (the LLM-written item profile this repository already has); without
it, by its title only ("names only", Table 4's "w/o Profile Augmentation"). All
requests go through the LLM layer in two batched calls, the positives first: a
negative prompt repeats its positive's opening (the history), so the backend's
prefix reuse skips that prefill. Every call is cached by content, so a killed
run repeats none of its finished calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainrec.core.domain_prompts import Domain, ExplainConfig, answer_opening, item_texts, opening, user_message
from explainrec.core.errors import InputError
from explainrec.core.io import read_table
from explainrec.llm.client import LLM
from explainrec.llm.types import ChatRequest

COLUMNS = ["pair_id", "split", "positive", "negative"]
FILE = "explanations.parquet"
STOP = (".", "\n")


def requests(pairs: pd.DataFrame, texts: Mapping[str, str], config: ExplainConfig, domain: Domain,
             positive: bool) -> list[ChatRequest]:
    """One chat request per pair, for the positive or the negative explanation."""
    start = answer_opening(config.style, config.prompt, domain, positive)
    return [ChatRequest.of(None, user_message(config.style, config.prompt, domain, positive,
                                              [texts[h] for h in history], texts[item]),
                           opening=start, max_new_tokens=config.max_new_tokens, stop=STOP)
            for item, history in zip(pairs["item_id"], pairs["history"])]


def _sentence(head: str, completion: str) -> str:
    body = " ".join(completion.split())
    return f"{head} {body}".rstrip(" ,;:") + "."


def explain_pairs(pairs: pd.DataFrame, items: pd.DataFrame, profiles: Mapping[str, str], llm: LLM,
                  config: ExplainConfig, domain: Domain) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The explanations table (:data:`COLUMNS`; each text opens with the format's words and is one
    sentence) and its metrics (counts, empty completions, mean words)."""
    texts = item_texts(items, profiles, config)
    missing = sorted(({i for h in pairs["history"] for i in h} | set(pairs["item_id"])) - set(texts))
    if missing:
        raise InputError("items.parquet", "item_id", "a row for every candidate and history item",
                         got=f"{len(missing)} missing, e.g. {missing[:3]}")
    out = pairs[["pair_id", "split"]].copy()
    empty = {}
    for positive, col in ((True, "positive"), (False, "negative")):
        answers = llm.chat(requests(pairs, texts, config, domain, positive), desc=f"lrrecsys {col}")
        head = opening(domain, positive)
        out[col] = [_sentence(head, a.text) for a in answers]
        empty[col] = sum(not a.text.strip() for a in answers)
    words = {c: round(float(np.mean([len(t.split()) for t in out[c]])), 2) if len(out) else None
             for c in ("positive", "negative")}
    metrics = {
        "pairs": int(len(out)),
        "style": config.style,
        "prompt": config.prompt,
        "profile_augmentation": config.profile_augmentation,
        "domain": domain.item,
        "empty": empty,
        "mean_words": words,
        "identical_pos_neg_reason": int(sum(
            p.split(" because", 1)[-1] == n.split(" because", 1)[-1] for p, n in zip(out["positive"], out["negative"]))),
    }
    return out[COLUMNS].reset_index(drop=True), metrics


def read_explanations(folder: str | Path) -> pd.DataFrame:
    """An lrrecsys_explain stage's table."""
    return read_table(Path(folder) / FILE, "LR-Recsys explanations", "an lrrecsys_explain stage", tuple(COLUMNS))
