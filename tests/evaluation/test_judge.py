"""GPTScore and the choice judge, with a scripted LLM: no model runs."""

from __future__ import annotations

import json
import math

import pytest

from explainrec.core.errors import ParamError
from explainrec.evaluation.judge import SCORE_OPTIONS, SYSTEM_PROMPT, choice_request, gptscore, parse_choice, \
    parse_score
from explainrec.llm.types import ChatRequest, Completion, Scored


class ScriptedLLM:
    """Answers each request with the next scripted text, and records the calls."""

    identity = "scripted-judge"

    def __init__(self, answers: list[str]):
        self.answers = list(answers)
        self.calls: list[tuple[list[ChatRequest], str | None]] = []

    def chat(self, requests, desc=None):
        requests = list(requests)
        self.calls.append((requests, desc))
        return [Completion(self.answers.pop(0), 1, 1) for _ in requests]


@pytest.mark.parametrize("text, expected", [
    ("85", 85.0), (" 85.5 ", 85.5), ("Score: 85/100", 85.0), ("85/100", 85.0), ("90 / 100.", 90.0),
    ("I'd give it 70 out of 100", 70.0), ("**90**", 90.0), ("0", 0.0), ("100", 100.0), ("85%", 85.0),
    ("85. Final score: 85", 85.0),          # one value, written twice
    ("Score: 85/100 (i.e. 0.85)", 85.0),    # an N/100 form wins over other numbers
    ("junk", None), ("", None), (None, None), ("no number here", None),
    ("150", None), ("-5", None), ("150/100", None),  # out of [0, 100]
    ("8/10", None), ("Score: 85, confidence 3", None), ("70 or 80", None),  # ambiguous
])
def test_parse_score(text, expected):
    assert parse_score(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2", 2), ("[2]", 2), ("Answer: 2", 2), ("Explanation 2", 2), ("Explanation 2.", 2), (" 1\n", 1),
    ("3", None), ("0", None), ("1 or 2", None), ("2.5", None), ("junk", None), ("", None),
])
def test_parse_choice(text, expected):
    assert parse_choice(text, 2) == expected


def test_gptscore_counts_unparseable_and_never_imputes():
    llm = ScriptedLLM(["80", "Score: 60/100", "I cannot judge this.", "150"])
    cands, refs = ["good fit", "ok", "??", "great"], ["a fine fit", "fine", "something", "great"]
    out = gptscore(llm, cands, refs)
    assert out["per_sample"] == [80.0, 60.0, None, None]
    assert (out["scored"], out["unscored"], out["n"], out["judge"]) == (2, 2, 4, "scripted-judge")
    assert out["scored_by"] == {"probability": 0, "parsed": 2} and out["option_mass"] is None
    assert out["mean"] == pytest.approx(70.0) and out["std"] == pytest.approx(10.0)  # pstdev of 80, 60
    # one chat call with one request per pair: XRec's prompt and the pair as JSON, greedy
    assert len(llm.calls) == 1
    requests, desc = llm.calls[0]
    assert desc == "gptscore" and len(requests) == 4
    for req, c, r in zip(requests, cands, refs):
        (role0, system), (role1, user) = req.messages
        assert (role0, role1) == ("system", "user")
        assert system == SYSTEM_PROMPT and "scale from 0 to 100" in system
        assert json.loads(user) == {"prediction": c, "reference": r}
        assert req.params.temperature == 0.0 and req.params.max_new_tokens == 16


def test_gptscore_none_parsed_and_empty():
    out = gptscore(ScriptedLLM(["n/a", "?"]), ["a", "b"], ["c", "d"], max_new_tokens=4)
    assert math.isnan(out["mean"]) and math.isnan(out["std"]) and out["unscored"] == 2
    llm = ScriptedLLM([])
    empty = gptscore(llm, [], [])
    assert empty["n"] == 0 and math.isnan(empty["mean"]) and llm.calls == []

    class NoIdentity:
        def chat(self, requests, desc=None):
            return [Completion("50", 1, 1) for _ in requests]

    assert gptscore(NoIdentity(), ["a"], ["b"])["judge"] is None
    with pytest.raises(ParamError, match="refs"):
        gptscore(ScriptedLLM([]), ["a"], [])


def test_choice_request():
    req = choice_request("likes jazz", "a jazz album", ["because of the jazz", "because it is cheap"])
    (_, system), (_, user) = req.messages
    assert "best explains why the user interacted with the item" in system and "number" in system
    assert "likes jazz" in user and "a jazz album" in user
    assert "1. because of the jazz" in user and "2. because it is cheap" in user
    assert req.params.temperature == 0.0
    with pytest.raises(ParamError, match="candidates"):
        choice_request("u", "i", ["only one"])


class ScoringLLM(ScriptedLLM):
    """A judge with log-probabilities: ``dists`` gives each scoring's {option: probability}."""

    can_score = True

    def __init__(self, dists: list[dict[str, float]], answers: list[str] = ()):
        super().__init__(list(answers))
        self.dists, self.scored = list(dists), []

    def scoring_unavailable(self):
        return None

    def score(self, requests, desc=None):
        out = []
        for req in requests:
            self.scored.append(req)
            d = self.dists.pop(0)
            out.append(Scored(tuple(math.log(d[o]) if d.get(o) else -math.inf for o in req.options)))
        return out


def test_gptscore_by_probability_is_the_weighted_mean_of_the_scores():
    llm = ScoringLLM([{"85": 1.0}, {"60": 0.25, "80": 0.25}, {}, {"100": 0.1, "0": 0.1}], answers=["70"])
    out = gptscore(llm, ["a", "b", "c", "d"], ["w", "x", "y", "z"])
    # concentrated on one score: that score; two equal scores: their mean (renormalised over 0..100)
    assert out["per_sample"] == [pytest.approx(85.0), pytest.approx(70.0), 70.0, pytest.approx(50.0)]
    assert out["scored_by"] == {"probability": 3, "parsed": 1} and out["unscored"] == 0
    assert out["option_mass"] == pytest.approx((1.0 + 0.5 + 0.2) / 3, abs=1e-4)
    assert llm.scored[0].options == SCORE_OPTIONS and llm.scored[0].messages[0] == ("system", SYSTEM_PROMPT)
    # the pair whose options got no probability was asked in free text, and parsed
    assert [len(reqs) for reqs, _ in llm.calls] == [1]
