"""Ground-truth quality (paper 000 §4.4): which explanation of an interaction is best?

For a seeded sample of test pairs, candidate ground truths come from

* ``review``: the user's own review of the item (when the dataset has reviews);
* ``xrec``: XRec's ground truth, an LLM rewrite of that review (paper 001 Eq. 14,
  its Fig. 5 prompt: the review alone, one line, at most 50 words);
* ``cpeg_<variant>``: CPEG run with ``k`` hard and ``m`` random negatives per
  variant (paper 000 uses (0, 7), (2, 5), (5, 2) and (2, 10)).

A judge LLM sees the user's and the item's profile and the candidates,
numbered, and names the best one. Candidate order is shuffled per pair (seeded
by the pair); a second run shows every pair's candidates in the reverse order,
so position bias shows up as disagreement between the runs and as a first-place
pick rate above chance. Win rate of a source = its picks / the readable
judgements in which it was a candidate, both runs pooled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from explainrec.core.errors import ParamError
from explainrec.core.intervals import rate_with_interval
from explainrec.core.seeding import stable_rng
from explainrec.llm.types import ScoreRequest

REVIEW, XREC = "review", "xrec"


@dataclass(frozen=True)
class KM:
    """One CPEG variant of the comparison: ``k`` hard and ``m`` random negatives."""

    name: str
    k: int
    m: int

    def __post_init__(self) -> None:
        from explainrec.core.config import check_int

        check_int(self.k, "k", 0)
        check_int(self.m, "m", 0)
        if self.k + self.m < 1:
            raise ParamError("k + m", "at least 1 negative", self.k + self.m)


def select_pairs(negatives: pd.DataFrame, max_pairs: int | None, seed: int) -> pd.DataFrame:
    """The compared pairs: the negatives table's test pairs (user_id, item_id), a seeded
    sample of at most ``max_pairs``, in the table's order."""
    from explainrec.core.sampling import cap_pairs

    test = negatives[negatives["split"].astype(str) == "test"][["user_id", "item_id"]].astype(str)
    return cap_pairs(test.drop_duplicates(), max_pairs, seed, "ground_truth")


def candidate_sets(pairs: pd.DataFrame, sources: Mapping[str, pd.DataFrame]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """``(user_id, item_id, [(source, explanation), ...])`` per pair, sources in the given
    order, empty explanations left out; pairs with fewer than two candidates are dropped."""
    lookup = {name: {(str(u), str(i)): " ".join(str(e).split()) for u, i, e in
                     zip(df["user_id"], df["item_id"], df["explanation"]) if pd.notna(e) and str(e).strip()}
              for name, df in sources.items()}
    out = []
    for u, i in zip(pairs["user_id"].astype(str), pairs["item_id"].astype(str)):
        cands = [(name, table[(u, i)]) for name, table in lookup.items() if (u, i) in table]
        if len(cands) >= 2:
            out.append((u, i, cands))
    return out


def judge(llm: Any, sets: Sequence[tuple[str, str, list[tuple[str, str]]]], user_profiles: Mapping[str, str],
          item_profiles: Mapping[str, str], seed: int, max_new_tokens: int = 8) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Two judging runs over ``sets`` (seeded order, then the reverse); the per-pair picks and the metrics.

    With a judge that gives log-probabilities the pick is the most likely candidate number
    (``choice: likelihood``; every judgement has a pick, so position bias is measured on
    every pair), else the number parsed from its answer (``generate``, with a notice)."""
    from explainrec.evaluation.judge import choice_request, parse_choice
    from explainrec.llm.client import scoring_unavailable

    runs: list[list[list[int]]] = [[], []]
    requests = []
    for u, i, cands in sets:
        order = [int(j) for j in stable_rng(seed, "gt-judge", u, i).permutation(len(cands))]
        for r, o in enumerate((order, order[::-1])):
            runs[r].append(o)
            requests.append(choice_request(user_profiles.get(u, ""), item_profiles.get(i, ""),
                                           [cands[j][1] for j in o], max_new_tokens))
    reason = scoring_unavailable(llm)
    mode = "likelihood" if reason is None else "generate"
    picks: list[tuple[int | None, float | None, str]] = []
    if requests and mode == "likelihood":
        numbers = [tuple(str(k) for k in range(1, len(cands) + 1)) for _, _, cands in sets for _ in "ab"]
        scored = llm.score([ScoreRequest(req.messages, opts) for req, opts in zip(requests, numbers)], desc="gt judge")
        picks = [(sc.best + 1, round(sc.probs[sc.best], 4), "") if sc.best is not None else (None, None, "")
                 for sc in scored]
    elif requests:
        answers = llm.chat(requests, desc="gt judge")
        picks = [(None, None, a.text) for a in answers]
    rows = []
    for n, (u, i, cands) in enumerate(sets):
        row: dict[str, Any] = {"user_id": u, "item_id": i, "sources": [s for s, _ in cands]}
        for r, tag in enumerate("ab"):
            order = runs[r][n]
            pick, prob, answer = picks[2 * n + r]
            if mode == "generate":
                pick = parse_choice(answer, len(cands))
            row[f"order_{tag}"] = [cands[j][0] for j in order]
            row[f"position_{tag}"] = pick
            row[f"pick_{tag}"] = cands[order[pick - 1]][0] if pick else None
            row[f"probability_{tag}"] = prob
            row[f"answer_{tag}"] = answer
        rows.append(row)
    table = pd.DataFrame(rows, columns=["user_id", "item_id", "sources", "order_a", "order_b", "position_a",
                                        "position_b", "pick_a", "pick_b", "probability_a", "probability_b",
                                        "answer_a", "answer_b"])
    metrics = {"choice": mode, **({"choice_notice": f"the judge picks by parsing its answers: {reason}"}
                                  if reason else {}), **win_rates(table)}
    return table, metrics


def win_rates(table: pd.DataFrame) -> dict[str, Any]:
    """Win rate per source, first-place pick rate per run against chance, and run agreement."""
    sources = sorted({s for ss in table["sources"] for s in ss})
    metrics: dict[str, Any] = {"pairs_judged": len(table), "sources": {}}
    readable = {tag: table[table[f"pick_{tag}"].notna()] for tag in "ab"}
    for s in sources:
        shown = sum(int(sum(s in ss for ss in readable[tag]["sources"])) for tag in "ab")
        wins = sum(int((readable[tag][f"pick_{tag}"] == s).sum()) for tag in "ab")
        metrics["sources"][s] = {"candidate_in": int(sum(s in ss for ss in table["sources"])), "wins": wins,
                                 "win_rate": round(wins / shown, 4) if shown else None}
    for tag in "ab":
        r = readable[tag]
        metrics[f"run_{tag}"] = {
            "readable": len(r), "unreadable": len(table) - len(r),
            "first_position_rate": round(float((r[f"position_{tag}"] == 1).mean()), 4) if len(r) else None,
            **{f"first_position_{k}": v for k, v in
               rate_with_interval(int((r[f"position_{tag}"] == 1).sum()), len(r)).items() if k.startswith("ci_")},
            "first_position_chance": round(float((1 / r["sources"].str.len()).mean()), 4) if len(r) else None,
        }
    both = table[table["pick_a"].notna() & table["pick_b"].notna()]
    metrics["consistent_share"] = round(float((both["pick_a"] == both["pick_b"]).mean()), 4) if len(both) else None
    metrics["both_readable"] = len(both)
    return metrics
