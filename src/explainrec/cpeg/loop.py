"""CPEG's Discrimination + Refinement loop, run in rounds (paper 000 §3.2).

Round 1 asks prompt P for every pair in one ``LLM.chat`` call; round r asks
P_retry, with the pair's earlier wrong answers as error examples, for the
pairs still unsolved, up to ``1 + max_retries`` rounds. A pair is solved when
the model picks the positive item and writes a non-empty explanation; that
explanation is the verified ground truth. Decoding is greedy and every call
goes through the LLM layer's response cache, so a rerun (or a killed run
started again) reproduces the same prompts and repeats no finished call.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from explainrec.seeding import stable_rng
from explainrec.cpeg.parse import Parsed, parse_answer
from explainrec.cpeg.prompts import SYSTEM_PROMPT, Candidate, ErrorExample, user_message
from explainrec.config import check_int, check_layer
from explainrec.errors import InputError
from explainrec.llm.types import ChatRequest, Completion

COLUMNS = ("split", "user_id", "item_id", "candidates", "choice", "attempts", "success", "explanation",
           "verified", "parse_failures")


class ChatModel(Protocol):
    """What the loop needs from :class:`explainrec.llm.LLM`."""

    def chat(self, requests: Sequence[ChatRequest], desc: str | None = None) -> list[Completion]: ...


@dataclass(frozen=True)
class CPEGConfig:
    """The ``cpeg`` section: ``max_retries`` extra rounds after the first; ``max_new_tokens``
    per answer; the prompts show the profiles of ``profile_layer`` (-1: each node's last),
    reviews cut to ``max_review_chars`` and candidate profiles to ``max_profile_chars``
    (None: whole); ``seed`` (params' top-level seed) orders the candidates."""

    max_retries: int = 2
    max_new_tokens: int = 96
    profile_layer: int = -1
    max_review_chars: int = 300
    max_profile_chars: int | None = 240
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("max_retries", 0), ("max_new_tokens", 1), ("max_review_chars", 0)):
            check_int(getattr(self, name), name, low, expected=f"an integer >= {low}")
        check_int(self.max_profile_chars, "max_profile_chars", 20, none_ok=True,
                  expected="an integer >= 20, or null (whole profiles)")
        check_layer(self.profile_layer, "profile_layer")


@dataclass
class Pair:
    """One (user, positive item) pair and what the model has answered so far."""

    split: str
    user_id: str
    item_id: str
    user_profile: str
    review: str | None
    candidates: list[Candidate]
    attempts: list[Parsed] = field(default_factory=list)

    @property
    def positive(self) -> int:
        """The 1-based number of the positive item in the shown list."""
        return [c.item_id for c in self.candidates].index(self.item_id) + 1

    @property
    def success(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].ok and self.attempts[-1].choice == self.positive

    def errors(self) -> list[ErrorExample]:
        """Every earlier attempt as an error example (all of them were wrong, or the loop would have
        stopped); an unreadable one is shown as such, without its pick."""
        return [ErrorExample(a.choice if a.ok else None, a.explanation) for a in self.attempts]

    def request(self, config: CPEGConfig) -> ChatRequest:
        user = user_message(self.user_profile, self.review, self.candidates, self.errors(), config.max_review_chars,
                            config.max_profile_chars)
        return ChatRequest.of(SYSTEM_PROMPT, user, max_new_tokens=config.max_new_tokens, temperature=0.0)


def build_pairs(
    negatives: pd.DataFrame,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    user_profiles: Mapping[str, str],
    item_profiles: Mapping[str, str],
    seed: int,
    source: str = "negatives",
) -> list[Pair]:
    """One :class:`Pair` per row of the negatives table: the positive, hard and
    random items shuffled with an RNG seeded from (seed, user_id, item_id).

    ``interactions`` (the train and test splits) gives each pair's review;
    ``items`` gives titles.
    """
    reviews: dict[tuple[str, str], str | None] = {}
    if "review" in interactions.columns:
        for u, i, r in zip(interactions["user_id"].astype(str), interactions["item_id"].astype(str),
                           interactions["review"]):
            reviews[(u, i)] = None if pd.isna(r) else str(r)
    titles: dict[str, str | None] = {}
    if "title" in items.columns:
        titles = {str(i): (None if pd.isna(t) or not str(t).strip() else str(t))
                  for i, t in zip(items["item_id"], items["title"])}

    def profile(table: Mapping[str, str], key: str, kind: str) -> str:
        if key not in table:
            raise InputError(source, f"{kind}_id", f"a {kind} with a profile (the profiles stage's output)", key)
        return table[key]

    pairs = []
    for row in negatives.itertuples(index=False):
        u, i = str(row.user_id), str(row.item_id)
        ids = [i, *map(str, row.hard), *map(str, row.random)]
        if len(set(ids)) != len(ids):
            raise InputError(source, "hard/random", f"negatives distinct from each other and from item {i!r}", ids)
        order = stable_rng(seed, "cpeg", u, i).permutation(len(ids))
        cands = [Candidate(ids[j], titles.get(ids[j]), profile(item_profiles, ids[j], "item")) for j in order]
        pairs.append(Pair(str(row.split), u, i, profile(user_profiles, u, "user"), reviews.get((u, i)), cands))
    return pairs


def run_rounds(pairs: Sequence[Pair], llm: ChatModel, config: CPEGConfig, desc: str = "cpeg") -> list[Pair]:
    """Ask the model in rounds until every pair is solved or has had ``1 + max_retries`` attempts."""
    for r in range(1 + config.max_retries):
        todo = [p for p in pairs if not p.success]
        if not todo:
            break
        outs = llm.chat([p.request(config) for p in todo], desc=f"{desc} try {r + 1}")
        for p, out in zip(todo, outs):
            p.attempts.append(parse_answer(out.text, [c.title for c in p.candidates]))
    return list(pairs)


def result_table(pairs: Sequence[Pair]) -> pd.DataFrame:
    """One row per pair: the shown candidates, the last pick, attempts, the explanation and whether it is verified."""
    rows = []
    for p in pairs:
        last = p.attempts[-1] if p.attempts else None
        ok = p.success
        rows.append({
            "split": p.split,
            "user_id": p.user_id,
            "item_id": p.item_id,
            "candidates": [c.item_id for c in p.candidates],
            "choice": p.candidates[last.choice - 1].item_id if last and last.choice else None,
            "attempts": len(p.attempts),
            "success": ok,
            "explanation": last.explanation if last else "",
            "verified": ok,
            "parse_failures": sum(1 for a in p.attempts if not a.ok),
        })
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.astype({"split": "string", "user_id": "string", "item_id": "string", "choice": "string",
                      "attempts": "int64", "success": "bool", "explanation": "string", "verified": "bool",
                      "parse_failures": "int64"})


def split_metrics(pairs: Sequence[Pair]) -> dict[str, Any]:
    n = len(pairs)
    if not n:
        return {"pairs": 0}
    first = sum(1 for p in pairs if p.attempts and p.attempts[0].ok and p.attempts[0].choice == p.positive)
    solved = sum(1 for p in pairs if p.success)
    return {
        "pairs": n,
        "candidates": round(sum(len(p.candidates) for p in pairs) / n, 3),
        "first_try_accuracy": round(first / n, 4),
        "accuracy_after_retries": round(solved / n, 4),
        "mean_attempts": round(sum(len(p.attempts) for p in pairs) / n, 4),
        "parse_failures": sum(1 for p in pairs for a in p.attempts if not a.ok),
        "unverified_share": round((n - solved) / n, 4),
    }


@dataclass
class CPEGResult:
    table: pd.DataFrame
    metrics: dict[str, Any]


def run_cpeg(
    negatives: pd.DataFrame,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    user_profiles: Mapping[str, str],
    item_profiles: Mapping[str, str],
    llm: ChatModel,
    config: CPEGConfig,
    source: str = "negatives",
) -> CPEGResult:
    """Run CPEG for every pair of ``negatives``: the explanations table and per-split metrics
    (the caller adds the LLM's statistics)."""
    t0 = time.perf_counter()
    pairs = build_pairs(negatives, interactions, items, user_profiles, item_profiles, config.seed, source)
    run_rounds(pairs, llm, config)
    metrics: dict[str, Any] = {"max_retries": config.max_retries}
    for name in sorted({p.split for p in pairs} | {"train", "test"}):
        metrics[name] = split_metrics([p for p in pairs if p.split == name])
    metrics["all"] = split_metrics(pairs)
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    return CPEGResult(result_table(pairs), metrics)


def write_explanations(table: pd.DataFrame, path: str | Path) -> None:
    """Write the explanations table with explicit types (list<string> candidates, nullable choice)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("split", pa.string()), ("user_id", pa.string()), ("item_id", pa.string()),
        ("candidates", pa.list_(pa.string())), ("choice", pa.string()), ("attempts", pa.int64()),
        ("success", pa.bool_()), ("explanation", pa.string()), ("verified", pa.bool_()),
        ("parse_failures", pa.int64()),
    ])
    cols = {name: [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v
                   for v in table[name].tolist()] for name in COLUMNS}
    pq.write_table(pa.Table.from_pydict(cols, schema=schema), path)
