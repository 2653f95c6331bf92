"""The CPEG rounds against a scripted model: retries with error examples, never-solved
pairs, first-try successes, parse failures, resuming from the cache."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import InputError, ParamError
from explainrec.cpeg.loop import CPEGConfig, candidate_pairs, run_cpeg, write_explanations
from explainrec.cpeg.prompts import RETRY_HEADER, SYSTEM_PROMPT, truncate
from explainrec.llm import LLM, Completion, ResponseCache
from tests.cpeg import make_world


class ScriptedBackend:
    """Plays a script per user: 'right', 'wrong' (picks the first other item) or 'junk'.
    Finds the candidates' numbers from the '[n] Title iXX' lines of the prompt."""

    identity = "fake:scripted"
    preferred_batch = 64

    def __init__(self, scripts: dict[str, list[str]], positives: dict[str, str]):
        self.scripts, self.positives = scripts, positives
        self.calls: dict[str, int] = {}
        self.prompts: dict[str, list[str]] = {}
        self.generate_calls = 0

    def generate(self, batch):
        self.generate_calls += 1
        outs = []
        for req in batch:
            assert req.messages[0] == ("system", SYSTEM_PROMPT) and req.params.temperature == 0.0
            text = req.messages[-1][1]
            user = re.search(r"User profile: This user \((u\d+)\)", text).group(1)
            n = self.calls.get(user, 0)
            self.calls[user] = n + 1
            self.prompts.setdefault(user, []).append(text)
            shown = {iid: int(num) for num, iid in re.findall(r"^\[(\d+)\] Title (i\d+)$", text, re.M)}
            act = self.scripts[user][min(n, len(self.scripts[user]) - 1)]
            pos = shown[self.positives[user]]
            wrong = next(v for k, v in shown.items() if k != self.positives[user])
            if act == "junk":
                out = "I like turtles."
            else:
                choice = pos if act == "right" else wrong
                out = f"Answer: [{choice}]\nExplanation: reason {n + 1} of {user}."
            outs.append(Completion(out, len(text), 5))
        return outs


@pytest.fixture
def setup():
    world = make_world(n_users=5)
    # one pair per user: its first train item; negatives: 2 + 3 non-interacted items
    train = world.splits["train"].groupby("user_id").head(1).reset_index(drop=True)
    seen = world.interactions.groupby("user_id")["item_id"].apply(set).to_dict()
    rows = []
    for u, i in zip(train.user_id, train.item_id):
        free = [x for x in sorted(world.item_profiles) if x not in seen[u]]
        rows.append({"split": "train", "user_id": u, "item_id": i, "hard": free[:2], "random": free[5:8]})
    negatives = pd.DataFrame(rows)
    world.user_profiles = {u: f"This user ({u}) likes films." for u in world.user_profiles}
    positives = dict(zip(negatives.user_id, negatives.item_id))
    return world, negatives, positives


SCRIPTS = {"u0": ["wrong", "wrong", "right"], "u1": ["wrong"], "u2": ["right"], "u3": ["junk", "right"],
           "u4": ["junk"]}


def run(world, negatives, llm, **kw):
    return run_cpeg(negatives, world.splits["train"], world.items, world.user_profiles,
                                 world.item_profiles, llm, CPEGConfig(seed=3, **kw))


def test_rounds_retries_and_error_examples(setup):
    world, negatives, positives = setup
    backend = ScriptedBackend(SCRIPTS, positives)
    res = run(world, negatives, LLM(backend, None, progress=False))
    t = res.table.set_index("user_id")
    assert backend.generate_calls == 3  # one batched call per round

    a = t.loc["u0"]  # wrong, wrong, right
    assert a.attempts == 3 and a.success and a.verified and a.explanation == "reason 3 of u0."
    assert a.choice == positives["u0"] and a.parse_failures == 0
    p1, p2, p3 = backend.prompts["u0"]
    assert RETRY_HEADER not in p1 and "reason" not in p1
    assert RETRY_HEADER in p2 and "reason 1 of u0." in p2 and "reason 2 of u0." not in p2
    assert RETRY_HEADER in p3 and "reason 1 of u0." in p3 and "reason 2 of u0." in p3
    assert "Do not choose them again" in p3
    # the error example names the wrongly chosen candidate
    wrong_num = re.search(r"- Answer: \[(\d+)\] Title (i\d+)", p2)
    assert wrong_num and wrong_num.group(2) != positives["u0"]
    # the candidates are shown in the same order in every try
    order = [re.findall(r"^\[\d+\] Title (i\d+)$", p, re.M) for p in (p1, p2, p3)]
    assert order[0] == order[1] == order[2] == list(a.candidates)

    b = t.loc["u1"]  # never right
    assert b.attempts == 3 and not b.success and not b.verified
    assert b.explanation == "reason 3 of u1." and b.choice != positives["u1"]

    c = t.loc["u2"]  # right at once
    assert c.attempts == 1 and c.verified and c.explanation == "reason 1 of u2." and len(backend.prompts["u2"]) == 1

    d = t.loc["u3"]  # unreadable, then right
    assert d.attempts == 2 and d.verified and d.parse_failures == 1
    assert "could not be read" in backend.prompts["u3"][1]

    e = t.loc["u4"]  # never readable
    assert e.attempts == 3 and not e.verified and pd.isna(e.choice) and e.parse_failures == 3
    assert e.explanation == "I like turtles."

    m = res.metrics["train"]
    assert m["pairs"] == 5 and m["first_try_accuracy"] == 0.2 and m["accuracy_after_retries"] == 0.6
    assert m["mean_attempts"] == (3 + 3 + 1 + 2 + 3) / 5 and m["parse_failures"] == 4 and m["unverified_share"] == 0.4
    assert res.metrics["test"] == {"pairs": 0}


def test_max_retries_zero_and_resume_from_cache(setup, tmp_path):
    world, negatives, positives = setup
    backend = ScriptedBackend(SCRIPTS, positives)
    cache = ResponseCache(tmp_path / "c.sqlite")
    first = run(world, negatives, LLM(backend, cache, progress=False), max_retries=0)
    assert first.table["attempts"].tolist() == [1] * 5
    # a rerun (as after a kill) asks nothing again; the next round only asks the new prompts
    again = LLM(ScriptedBackend(SCRIPTS, positives), cache, progress=False)
    second = run(world, negatives, again, max_retries=0)
    pd.testing.assert_frame_equal(first.table, second.table)
    assert again.stats.llm_calls == 0 and again.stats.cache_hits == 5
    more = LLM(ScriptedBackend(SCRIPTS, positives), cache, progress=False)
    run(world, negatives, more, max_retries=1)
    assert more.stats.cache_hits == 5 and more.stats.llm_calls == 4  # u0, u1, u3, u4 retried


def test_candidates_seeded_per_pair(setup):
    world, negatives, _ = setup
    args = (world.splits["train"], world.items, world.user_profiles, world.item_profiles)
    a = candidate_pairs(negatives, *args, seed=1)
    b = candidate_pairs(negatives.iloc[[2]], *args, seed=1)
    c = candidate_pairs(negatives, *args, seed=2)
    ids = lambda p: [x.item_id for x in p.candidates]  # noqa: E731
    assert ids(a[2]) == ids(b[0])
    assert sorted(ids(a[2])) == sorted([negatives.item_id[2], *negatives.hard[2], *negatives.random[2]])
    assert [ids(p) for p in a] != [ids(p) for p in c]
    # the review of the pair (u0's first train item has one or not) and titles reach the prompt
    msg = a[0].request(CPEGConfig()).messages[-1][1]
    assert "Title " in msg and ("review by u0" in msg or "(no review)" in msg)


def test_review_truncated_and_profiles_required(setup):
    world, negatives, _ = setup
    long = "word " * 200
    assert len(truncate(long, 50)) <= 50 and truncate(long, 50).endswith("...")
    world.splits["train"].loc[:, "review"] = long
    pairs = candidate_pairs(negatives, world.splits["train"], world.items, world.user_profiles, world.item_profiles, 1)
    msg = pairs[0].request(CPEGConfig(max_review_chars=40)).messages[-1][1]
    assert "word word" in msg and long.strip() not in msg
    with pytest.raises(InputError, match="item_id"):
        candidate_pairs(negatives, world.splits["train"], world.items, world.user_profiles, {}, 1)
    with pytest.raises(ParamError, match=r"cpeg\.max_retries"):
        from_section(CPEGConfig, {"max_retries": -1}, "cpeg")


def test_table_written_with_types(setup, tmp_path):
    world, negatives, positives = setup
    res = run(world, negatives, LLM(ScriptedBackend(SCRIPTS, positives), None, progress=False))
    write_explanations(res.table, tmp_path / "e.parquet")
    import pyarrow.parquet as pq

    schema = pq.read_schema(tmp_path / "e.parquet")
    assert str(schema.field("candidates").type) == "list<element: string>"
    assert str(schema.field("choice").type) == "string" and str(schema.field("verified").type) == "bool"
    back = pd.read_parquet(tmp_path / "e.parquet")
    assert back["verified"].tolist() == res.table["verified"].tolist()
    assert back["choice"].isna().sum() == 1  # u4: nothing readable


class LikelihoodBackend(ScriptedBackend):
    """A backend with log-probabilities: per user, the script says which shown item it finds most
    likely at each try ('right', or 'wrong': the first other untried item); it explains any pick."""

    identity = "fake:likelihood"

    def __init__(self, scripts, positives):
        super().__init__(scripts, positives)
        self.scored: list = []

    def scoring_unavailable(self):
        return None

    def score(self, batch):
        import math

        from explainrec.llm.types import Scored

        out = []
        for req in batch:
            self.scored.append(req)
            assert req.messages[-1] == ("assistant", "Answer: [")
            text = req.messages[1][1]
            user = re.search(r"User profile: This user \((u\d+)\)", text).group(1)
            n = self.calls.get(user, 0)
            self.calls[user] = n + 1
            shown = {iid: int(num) for num, iid in re.findall(r"^\[(\d+)\] Title (i\d+)$", text, re.M)}
            pos = str(shown[self.positives[user]])
            act = self.scripts[user][min(n, len(self.scripts[user]) - 1)]
            want = pos if act == "right" else next(o for o in req.options if o != pos)
            out.append(Scored(tuple(math.log(0.7 if o == want else 0.3 / (len(req.options) - 1))
                                    for o in req.options), len(text)))
        return out

    def generate(self, batch):
        outs = []
        for req in batch:
            role, opening = req.messages[-1]
            assert role == "assistant" and opening.startswith("Answer: [") and req.params.stop == ("\n",)
            assert opening.endswith("Explanation: The user would interact with the item because")
            outs.append(Completion(f"it fits pick {opening.split('[')[1].split(']')[0]}.", 1, 3))
        return outs


def test_likelihood_choice_every_attempt_picks_and_retries_exclude_tried_numbers(setup):
    world, negatives, positives = setup
    scripts = {"u0": ["wrong", "wrong", "right"], "u1": ["wrong"], "u2": ["right"], "u3": ["wrong", "right"],
               "u4": ["wrong"]}
    backend = LikelihoodBackend(scripts, positives)
    res = run(world, negatives, LLM(backend, None, progress=False))
    assert res.metrics["choice"] == "likelihood" and "choice_notice" not in res.metrics
    t = res.table.set_index("user_id")
    assert t.loc["u0"].attempts == 3 and t.loc["u0"].verified and t.loc["u2"].attempts == 1
    assert t.loc["u0"].explanation.startswith("The user would interact with the item because it fits pick")
    assert (t.parse_failures == 0).all() and t.choice.notna().all() and (t.choice_probability == 0.7).all()
    # a retry scores only the numbers not tried yet, and shows the wrong picks as error examples
    u0 = [r for r in backend.scored if "(u0)" in r.messages[1][1]]
    assert [len(r.options) for r in u0] == [6, 5, 4]
    assert RETRY_HEADER in u0[1].messages[1][1] and "it fits pick" in u0[1].messages[1][1]
    m = res.metrics["train"]
    assert m["first_try"] == {"try": 1, "k": 1, "n": 5, "rate": 0.2, "ci_low": 0.0051, "ci_high": 0.7164, "chance": 0.1667}
    assert [d["n"] for d in m["per_try"]] == [5, 4, 3] and [d["chance"] for d in m["per_try"]] == [0.1667, 0.2, 0.25]
    assert m["after_retries"]["k"] == 3 and m["after_retries"]["chance"] == 0.5
    assert m["unreadable_possible"] is False and m["mean_choice_probability"] == 0.7


def test_a_model_without_logprobs_gets_generate_with_a_notice(setup):
    world, negatives, positives = setup
    res = run(world, negatives, LLM(ScriptedBackend(SCRIPTS, positives), None, progress=False))
    assert res.metrics["choice"] == "generate" and res.metrics["train"]["unreadable_possible"] is True
    assert res.metrics["choice_notice"].startswith("cpeg.choice is likelihood, but the ScriptedBackend backend")
    assert "choice_notice" not in run(world, negatives, LLM(ScriptedBackend(SCRIPTS, positives), None,
                                                             progress=False), choice="generate").metrics
    with pytest.raises(ParamError, match=r"cpeg\.choice': expected one of likelihood, generate"):
        from_section(CPEGConfig, {"choice": "vote"}, "cpeg")
