"""Ground-truth quality (paper 000 §4.4): candidates, two judging runs, win rates, position bias."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from explainrec.core.errors import ParamError
from explainrec.core.rewrite import REWRITE_SYSTEM, clean_rewrite, rewrite_reviews
from explainrec.evaluation.ground_truth import KM, candidate_sets, judge, select_pairs, win_rates
from explainrec.llm.types import Completion


class PositionJudge:
    """Always picks the candidate shown at ``position``: the most position-biased judge there is."""

    identity = "position-judge"

    def __init__(self, position: str):
        self.position, self.requests = position, []

    def chat(self, requests, desc=None):
        self.requests += list(requests)
        return [Completion(self.position, 1, 1) for _ in requests]


def pairs(n: int) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "item_id": [f"i{i}" for i in range(n)]})


def source(n: int, text: str, skip: tuple[int, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(n) if i not in skip],
                         "item_id": [f"i{i}" for i in range(n) if i not in skip],
                         "explanation": [f"{text} {i}" for i in range(n) if i not in skip]})


def test_candidates_need_two_sources_and_skip_empty_texts():
    p = pairs(3)
    review = source(3, "review").assign(explanation=["great", None, "  "])
    sets = candidate_sets(p, {"review": review, "cpeg_a": source(3, "a"), "cpeg_b": source(3, "b", skip=(1,))})
    assert [(u, [s for s, _ in c]) for u, _, c in sets] == [("u0", ["review", "cpeg_a", "cpeg_b"]),
                                                             ("u2", ["cpeg_a", "cpeg_b"])]


def test_a_position_biased_judge_shows_up_as_disagreement():
    p = pairs(6)
    sets = candidate_sets(p, {"cpeg_a": source(6, "a"), "cpeg_b": source(6, "b"), "xrec": source(6, "x")})
    llm = PositionJudge("1")
    table, m = judge(llm, sets, {f"u{i}": "likes jazz" for i in range(6)}, {}, seed=3)
    assert len(llm.requests) == 12  # two runs per pair, one chat call
    assert (table.order_b.map(list) == table.order_a.map(lambda o: list(o)[::-1])).all()  # run b reverses run a
    assert m["run_a"]["first_position_rate"] == 1.0 and m["run_a"]["first_position_chance"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["consistent_share"] == 0.0  # the first item of run a is the last of run b
    total_wins = sum(v["wins"] for v in m["sources"].values())
    assert total_wins == 12 and all(v["candidate_in"] == 6 for v in m["sources"].values())
    # each source was shown in all 12 readable judgements; the picks split over the sources
    assert sum(v["win_rate"] for v in m["sources"].values()) == pytest.approx(1.0, abs=1e-3)


def test_unreadable_picks_are_counted_not_guessed():
    t = pd.DataFrame({"sources": [["a", "b"], ["a", "b"]], "pick_a": ["a", None], "pick_b": ["a", None],
                      "position_a": [1, None], "position_b": [2, None]})
    m = win_rates(t)
    assert m["run_a"] == {"readable": 1, "unreadable": 1, "first_position_rate": 1.0, "first_position_chance": 0.5,
                          "first_position_ci_low": 0.025, "first_position_ci_high": 1.0}
    assert m["sources"]["a"] == {"candidate_in": 2, "wins": 2, "win_rate": 1.0}
    assert m["sources"]["b"]["win_rate"] == 0.0 and m["consistent_share"] == 1.0


def test_xrec_rewrite_prompt_holds_the_review_only():
    class Echo:
        def chat(self, requests, desc=None):
            self.requests = list(requests)
            return [Completion('{ "The user would enjoy it for its tone." }', 1, 1) for _ in requests]

    llm = Echo()
    t = rewrite_reviews(llm, pairs(3), {("u0", "i0"): "Warm  tone,\nsolid build.", ("u1", "i1"): " ", ("u2", "i2"): None})
    assert list(t.user_id) == ["u0"] and t.explanation[0] == "The user would enjoy it for its tone."
    (_, system), (_, user) = llm.requests[0].messages
    assert system == REWRITE_SYSTEM and json.loads(user) == {"review": "Warm tone, solid build."}
    assert clean_rewrite('"plain"') == "plain"


def test_pairs_and_variants():
    neg = pd.DataFrame({"split": ["train", "test", "test", "test"], "user_id": ["a", "b", "c", "d"],
                        "item_id": ["1", "2", "3", "4"]})
    assert list(select_pairs(neg, None, 0).user_id) == ["b", "c", "d"]
    two = select_pairs(neg, 2, 0)
    assert len(two) == 2 and two.equals(select_pairs(neg, 2, 0))
    from explainrec.core.config import from_section
    from explainrec.experiments.ground_truth import GroundTruthConfig

    def variants(d: dict) -> GroundTruthConfig:
        return from_section(GroundTruthConfig, {"variants": d}, "ground_truth")

    assert variants({"k2_m5": {"k": 2, "m": 5}}).variant("k2_m5") == KM("k2_m5", 2, 5)
    with pytest.raises(ParamError, match=r"ground_truth.variants.x.m': expected a value"):
        variants({"x": {"k": 2}})
    with pytest.raises(ParamError, match="ground_truth.variants.x.m"):
        variants({"x": {"k": 2, "m": -1}})
    with pytest.raises(ParamError, match=r"ground_truth.variants.x.k \+ m"):
        variants({"x": {"k": 0, "m": 0}})


def test_the_likelihood_judge_picks_on_every_pair():
    """A judge with log-probabilities that prefers the first number: every judgement has a pick,
    so position bias is measured on all of them."""
    import math

    from explainrec.llm.types import Scored

    class FirstIsLikely(PositionJudge):
        def scoring_unavailable(self):
            return None

        def score(self, requests, desc=None):
            self.requests += list(requests)
            return [Scored(tuple(math.log(0.6 if o == "1" else 0.4 / (len(r.options) - 1)) for o in r.options))
                    for r in requests]

    sets = candidate_sets(pairs(5), {"cpeg_a": source(5, "a"), "cpeg_b": source(5, "b")})
    llm = FirstIsLikely("junk")
    table, m = judge(llm, sets, {}, {}, seed=1)
    assert m["choice"] == "likelihood" and "choice_notice" not in m
    assert [r.options for r in llm.requests] == [("1", "2")] * 10
    assert m["run_a"]["unreadable"] == m["run_b"]["unreadable"] == 0 and m["both_readable"] == 5
    assert m["run_a"]["first_position_rate"] == 1.0 and m["consistent_share"] == 0.0
    assert (table.probability_a == 0.6).all() and table.answer_a.eq("").all()
    # a judge without log-probabilities parses its answers, and says so
    _, m = judge(PositionJudge("2"), sets, {}, {}, seed=1)
    assert m["choice"] == "generate" and "parsing" in m["choice_notice"] and m["run_a"]["first_position_rate"] == 0.0
