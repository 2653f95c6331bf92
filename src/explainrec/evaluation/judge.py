"""LLM judges of generated explanations: XRec's GPTScore and a pairwise-choice judge.

GPTScore (XRec's prompt): a judge LLM reads a prediction and its reference and
answers a score from 0 to 100. With a judge that gives token log-probabilities
(the local backend, servers with ``logprobs``) the score is G-Eval's: the
probability-weighted mean of 0..100 as the answer's start
(:meth:`explainrec.llm.LLM.score`), so every pair gets one; otherwise the number
in the generated answer is parsed, and answers without one are counted
(``unscored``), never imputed. The metrics name the method of each score.

The choice judge (paper 000, section 4.4) shows a user's and an item's profile
and numbered candidate explanations, and asks which one best explains the
interaction; by likelihood of each number when it can, by parsing otherwise.

Both go through :class:`explainrec.llm.client.LLM`, which batches, deduplicates
and caches the requests; decoding is greedy (``temperature=0``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from explainrec.core.errors import ParamError
from explainrec.evaluation.text import _check, _stats
from explainrec.llm.types import ChatRequest, ScoreRequest

#: the answers GPTScore's probability-weighted mean runs over
SCORE_OPTIONS = tuple(str(v) for v in range(101))

#: XRec's judge prompt, verbatim
SYSTEM_PROMPT = ("Score the given explanation against the ground truth on a scale from 0 to 100, focusing on the "
                 "alignment of meanings rather than the formatting. Provide your score as a number and do not "
                 "provide any other text.")

CHOICE_PROMPT = ("You are given the profile of a user and the profile of an item the user interacted with, and "
                 "several numbered explanations. Which explanation best explains why the user interacted with the "
                 "item? Answer with the number of that explanation only.")

#: both judges answer with a number on one line: generation stops at the line's end
ANSWER_STOP = ("\n",)

# a number not glued to a word or to another number: "85", "85.5", "-5"; not "85th", "gpt4", "1.2.3"
_NUMBER = r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w]|\.\d)"
_OUT_OF_100 = re.compile(rf"({_NUMBER})\s*(?:/|out\s+of)\s*100(?![\w]|\.\d)", re.IGNORECASE)


def _numbers(text: str) -> set[float]:
    return {float(m) for m in re.findall(_NUMBER, text)}


def _single(values: set[float]) -> float | None:
    return next(iter(values)) if len(values) == 1 else None


def parse_score(text: str) -> float | None:
    """The 0-100 score in a judge's answer, or None when there is none or it is ambiguous.

    Rule: if the text has scores written as ``N/100`` or ``N out of 100``, those are the
    candidates; otherwise every number in the text is. The score is the candidates' value
    when they all have one value (``"85"``, ``" 85.5 "``, ``"**90**"``, ``"Score: 85/100"``,
    ``"I'd give it 70 out of 100"``, ``"85. Final: 85"``); None when there is no candidate,
    when candidates differ (``"8/10"``, ``"Score: 85, confidence 3"``), or when the value lies
    outside [0, 100] (``"150"``, ``"-5"``). Numbers glued to letters (``"gpt4"``) do not count.
    """
    text = str(text or "")
    explicit = {float(m) for m in _OUT_OF_100.findall(text)}
    value = _single(explicit if explicit else _numbers(text))
    return value if value is not None and 0.0 <= value <= 100.0 else None


def score_request(prediction: str, reference: str, max_new_tokens: int = 16) -> ChatRequest:
    """XRec's judge request: :data:`SYSTEM_PROMPT` and ``{"prediction": ..., "reference": ...}`` as JSON."""
    user = json.dumps({"prediction": str(prediction), "reference": str(reference)})
    return ChatRequest.of(SYSTEM_PROMPT, user, max_new_tokens=max_new_tokens, temperature=0.0, stop=ANSWER_STOP)


def gptscore(llm: Any, cands: Sequence[str], refs: Sequence[str], max_new_tokens: int = 16,
             desc: str = "gptscore") -> dict[str, Any]:
    """GPTScore of each candidate against its reference (XRec's prompt: :func:`score_request`).

    When ``llm`` can score options (:func:`~explainrec.llm.client.scoring_unavailable`): the
    probability-weighted mean over the answers 0..100
    (:data:`SCORE_OPTIONS`), one scoring per pair; a pair whose options got no
    probability at all, and every pair of a judge without log-probabilities, is
    scored by parsing its generated answer (:func:`parse_score`). Returns ``mean``
    and ``std`` (population std) over the scored pairs (nan when none), ``n``,
    ``scored``, ``unscored``, ``scored_by`` (``{"probability", "parsed"}`` counts),
    ``option_mass`` (mean probability that the answer starts with a score, for the
    probability scores), ``per_sample`` (input order, None where unscored) and
    ``judge`` (``llm.identity``, None when it has none).
    """
    from explainrec.llm.client import scoring_unavailable

    cands, refs = _check(cands, refs)
    requests = [score_request(c, r, max_new_tokens) for c, r in zip(cands, refs)]
    per: list[float | None] = [None] * len(requests)
    by = {"probability": 0, "parsed": 0}
    masses = []
    todo = list(range(len(requests)))
    if requests and scoring_unavailable(llm) is None:
        scored = llm.score([ScoreRequest(r.messages, SCORE_OPTIONS) for r in requests], desc=desc)
        todo = []
        for i, sc in enumerate(scored):
            if sc.best is None:
                todo.append(i)
                continue
            per[i] = float(sum(p * int(v) for p, v in zip(sc.probs, SCORE_OPTIONS)))
            masses.append(sc.covered)
            by["probability"] += 1
    if todo:
        answers = llm.chat([requests[i] for i in todo], desc=desc)
        for i, a in zip(todo, answers):
            per[i] = parse_score(a.text)
            by["parsed"] += per[i] is not None
    values = [s for s in per if s is not None]
    mean, std = _stats(values)
    return {"mean": mean, "std": std, "n": len(per), "scored": len(values), "unscored": len(per) - len(values),
            "scored_by": by, "option_mass": round(sum(masses) / len(masses), 4) if masses else None,
            "per_sample": per, "judge": getattr(llm, "identity", None)}


def choice_request(user_profile: str, item_profile: str, candidates: Sequence[str],
                   max_new_tokens: int = 8) -> ChatRequest:
    """Ask which of ``candidates`` (numbered from 1) best explains why the user interacted with the item."""
    candidates = [str(c) for c in candidates]
    if len(candidates) < 2:
        raise ParamError("candidates", "at least two explanations to choose from", len(candidates))
    listed = "\n".join(f"{i}. {c}" for i, c in enumerate(candidates, 1))
    user = f"User profile:\n{user_profile}\n\nItem profile:\n{item_profile}\n\nExplanations:\n{listed}"
    return ChatRequest.of(CHOICE_PROMPT, user, max_new_tokens=max_new_tokens, temperature=0.0, stop=ANSWER_STOP)


def parse_choice(text: str, n: int) -> int | None:
    """The 1-based choice in a judge's answer (``"2"``, ``"[2]"``, ``"Answer: 2"``,
    ``"Explanation 2"``), or None.

    Rule: every number in the text is a candidate; the choice is their value when they all
    have one value, it is a whole number and lies in 1..n. None for no number, several
    different numbers, a fraction, or a number out of range.
    """
    value = _single(_numbers(str(text or "")))
    if value is None or not value.is_integer() or not 1 <= value <= n:
        return None
    return int(value)
