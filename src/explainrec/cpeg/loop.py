"""CPEG's Discrimination + Refinement loop, run in rounds (paper 000 §3.2).

Round 1 asks prompt P for every pair at once; round r asks P_retry, with the
pair's earlier wrong answers as error examples, for the pairs still unsolved, up
to ``1 + max_retries`` rounds. A pair is solved when the model picks the positive
item and writes a non-empty explanation; that explanation is the verified ground
truth. How the model picks (``cpeg.choice``):

* ``likelihood`` (the default, for backends with token log-probabilities): the
  candidate numbers not tried yet are scored as the continuation of the answer's
  opening ``Answer: [`` (:meth:`explainrec.llm.LLM.score`) and the most likely is
  the pick; the model then writes the explanation for that pick, continuing
  ``Answer: [n]\nExplanation: The user would interact with the item because``.
  Every attempt has a pick: no answer is unreadable.
* ``generate``: the model writes the whole answer and :func:`parse_answer` reads
  it (what a backend without log-probabilities gets, with a notice).

Decoding is greedy and every call goes through the LLM layer's response cache,
so a rerun (or a killed run started again) repeats no finished call.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from explainrec.core.seeding import stable_rng
from explainrec.cpeg.parse import Parsed, parse_answer
from explainrec.cpeg.prompts import ANSWER_OPENING, EXPLANATION_OPENING, SYSTEM_PROMPT, Candidate, ErrorExample, \
    discrimination_message, explanation_opening
from explainrec.core.config import check_int, check_layer
from explainrec.core.errors import InputError, ParamError
from explainrec.core.intervals import rate_with_interval
from explainrec.llm.types import ChatRequest, Completion, GenerationConfig, ScoreRequest, Scored

#: how the model's pick is read: option likelihoods, or its free-text answer parsed
CHOICES = ("likelihood", "generate")

COLUMNS = ("split", "user_id", "item_id", "candidates", "choice", "attempts", "success", "explanation",
           "verified", "parse_failures", "choice_probability")


class ChatModel(Protocol):
    """What the loop needs from :class:`explainrec.llm.LLM` (``score`` only in likelihood mode)."""

    def chat(self, requests: Sequence[ChatRequest], desc: str | None = None) -> list[Completion]: ...

    def score(self, requests: Sequence[ScoreRequest], desc: str | None = None) -> list[Scored]: ...

    def scoring_unavailable(self) -> str | None: ...


def choice_mode(requested: str, llm: Any, param: str = "cpeg.choice") -> tuple[str, str | None]:
    """The choice mode that runs, and a one-line notice when ``likelihood`` was asked for but the
    model gives no log-probabilities (then ``generate`` runs)."""
    if requested == "generate":
        return "generate", None
    from explainrec.llm.client import scoring_unavailable

    reason = scoring_unavailable(llm)
    if reason is None:
        return "likelihood", None
    return "generate", f"{param} is likelihood, but {reason}: its free-text answers are parsed instead (generate)"


@dataclass(frozen=True)
class CPEGConfig:
    """The ``cpeg`` section: ``max_retries`` extra rounds after the first; ``max_new_tokens``
    per answer; the prompts show the profiles of ``profile_layer`` (-1: each node's last),
    reviews cut to ``max_review_chars`` and candidate profiles to ``max_profile_chars``
    (None: whole); ``choice``: ``likelihood`` or ``generate`` (the module's docstring);
    ``seed`` (params' top-level seed) orders the candidates."""

    max_retries: int = 2
    max_new_tokens: int = 96
    profile_layer: int = -1
    max_review_chars: int = 300
    max_profile_chars: int | None = 240
    choice: str = "likelihood"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ParamError("choice", f"one of {', '.join(CHOICES)}", self.choice)
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
        """P (first attempt) or P_retry, for the model to answer in free text."""
        user = discrimination_message(self.user_profile, self.review, self.candidates, self.errors(), config.max_review_chars,
                            config.max_profile_chars)
        return ChatRequest.of(SYSTEM_PROMPT, user, max_new_tokens=config.max_new_tokens, temperature=0.0)

    def untried(self) -> list[int]:
        """The candidate numbers no earlier attempt picked."""
        tried = {a.choice for a in self.attempts}
        return [n for n in range(1, len(self.candidates) + 1) if n not in tried]

    def choice_request(self, config: CPEGConfig) -> ScoreRequest:
        """The same prompt, scored: which untried number follows ``Answer: [``."""
        return ScoreRequest(self.request(config).messages + (("assistant", ANSWER_OPENING),),
                            tuple(str(n) for n in self.untried()))

    def explanation_request(self, config: CPEGConfig, choice: int) -> ChatRequest:
        """The same prompt with the answer written up to the explanation: the model explains ``choice``."""
        messages = self.request(config).messages + (("assistant", explanation_opening(choice)),)
        return ChatRequest(messages, GenerationConfig(max_new_tokens=config.max_new_tokens, temperature=0.0, stop=("\n",)))


def candidate_pairs(
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


def _choose(todo: Sequence[Pair], llm: ChatModel, config: CPEGConfig, desc: str) -> list[Parsed]:
    """Likelihood mode: each pair's most likely untried number, then the model's explanation of it."""
    requests = [p.choice_request(config) for p in todo]
    scored = llm.score(requests, desc=f"{desc} choose")
    picks = [(int(req.options[sc.best]), sc.probs[sc.best]) if sc.best is not None else (None, None)
             for req, sc in zip(requests, scored)]
    chosen = [(p, c) for p, (c, _) in zip(todo, picks) if c is not None]
    outs = iter(llm.chat([p.explanation_request(config, c) for p, c in chosen], desc=f"{desc} explain"))
    attempts = []
    for choice, prob in picks:
        if choice is None:
            attempts.append(Parsed(None, "", "no candidate number got any probability"))
            continue
        text = " ".join(next(outs).text.split())
        explanation = f"{EXPLANATION_OPENING} {text}" if text else ""
        attempts.append(Parsed(choice, explanation, None if text else "empty explanation", round(prob, 4)))
    return attempts


def run_rounds(pairs: Sequence[Pair], llm: ChatModel, config: CPEGConfig, desc: str = "cpeg",
               mode: str = "generate") -> list[Pair]:
    """Ask the model in rounds until every pair is solved or has had ``1 + max_retries`` attempts;
    ``mode`` is ``likelihood`` or ``generate`` (as :func:`choice_mode` resolved it)."""
    for r in range(1 + config.max_retries):
        todo = [p for p in pairs if not p.success and p.untried()]
        if not todo:
            break
        if mode == "likelihood":
            attempts = _choose(todo, llm, config, f"{desc} try {r + 1}")
        else:
            outs = llm.chat([p.request(config) for p in todo], desc=f"{desc} try {r + 1}")
            attempts = [parse_answer(out.text, [c.title for c in p.candidates]) for p, out in zip(todo, outs)]
        for p, a in zip(todo, attempts):
            p.attempts.append(a)
    return list(pairs)


def result_table(pairs: Sequence[Pair]) -> pd.DataFrame:
    """One row per pair: the shown candidates, the last pick (with its probability in likelihood mode),
    attempts, the explanation and whether it is verified."""
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
            "choice_probability": last.probability if last else None,
        })
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.astype({"split": "string", "user_id": "string", "item_id": "string", "choice": "string",
                      "attempts": "int64", "success": "bool", "explanation": "string", "verified": "bool",
                      "parse_failures": "int64", "choice_probability": "Float64"})


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def split_metrics(pairs: Sequence[Pair], max_retries: int = 0, mode: str = "generate") -> dict[str, Any]:
    """Accuracy per try (among the pairs that reached it) and after retries, each with its exact 95 %
    binomial interval and the chance of a random pick among the untried candidates beside it."""
    n = len(pairs)
    if not n:
        return {"pairs": 0}
    per_try = []
    for t in range(1 + max_retries):
        reached = [p for p in pairs if len(p.attempts) > t]
        if not reached:
            break
        right = sum(1 for p in reached if p.attempts[t].ok and p.attempts[t].choice == p.positive)
        per_try.append({"try": t + 1, **rate_with_interval(right, len(reached)),
                        "chance": _mean([1 / (len(p.candidates) - t) for p in reached])})
    solved = sum(1 for p in pairs if p.success)
    after = {**rate_with_interval(solved, n),
             "chance": _mean([min(1.0, (1 + max_retries) / len(p.candidates)) for p in pairs])}
    probs = [a.probability for p in pairs for a in p.attempts if a.probability is not None]
    return {
        "pairs": n,
        "candidates": round(sum(len(p.candidates) for p in pairs) / n, 3),
        "first_try_accuracy": per_try[0]["rate"] if per_try else 0.0,
        "accuracy_after_retries": after["rate"],
        "first_try": per_try[0] if per_try else None,
        "after_retries": after,
        "per_try": per_try,
        "mean_attempts": round(sum(len(p.attempts) for p in pairs) / n, 4),
        "parse_failures": sum(1 for p in pairs for a in p.attempts if not a.ok),
        # likelihood mode picks a number on every attempt; only an empty explanation can fail
        "unreadable_possible": mode == "generate",
        "mean_choice_probability": _mean(probs),
        "unverified_share": round((n - solved) / n, 4),
    }


def accuracy_line(m: Mapping[str, Any]) -> str:
    """One split's metrics in a line: first try and after retries, each with interval and chance."""
    def part(name: str, d: Mapping[str, Any]) -> str:
        return f"{name} {d['rate']:.1%} [{d['ci_low']:.1%}, {d['ci_high']:.1%}] (chance {d['chance']:.1%})"

    return (f"{m['pairs']} pairs, {part('first try', m['first_try'])}, {part('after retries', m['after_retries'])}, "
            f"{m['parse_failures']} unreadable")


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
    (the caller adds the LLM's statistics; ``choice_notice`` says when likelihood fell back to generate)."""
    t0 = time.perf_counter()
    pairs = candidate_pairs(negatives, interactions, items, user_profiles, item_profiles, config.seed, source)
    mode, notice = choice_mode(config.choice, llm)
    run_rounds(pairs, llm, config, mode=mode)
    metrics: dict[str, Any] = {"choice": mode, "max_retries": config.max_retries}
    if notice:
        metrics["choice_notice"] = notice
    for name in sorted({p.split for p in pairs} | {"train", "test"}):
        metrics[name] = split_metrics([p for p in pairs if p.split == name], config.max_retries, mode)
    metrics["all"] = split_metrics(pairs, config.max_retries, mode)
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
        ("parse_failures", pa.int64()), ("choice_probability", pa.float64()),
    ])
    cols = {name: [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v
                   for v in table[name].tolist()] for name in COLUMNS}
    pq.write_table(pa.Table.from_pydict(cols, schema=schema), path)
