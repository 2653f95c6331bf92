"""The CPEG prompts: P (Discrimination) and P_retry (Refinement), paper 000 §3.2.

The system prompt is the paper's P plus a strict answer format a small model
can follow; it is the same for every pair and every attempt, so it forms a
shared prefix. The user message carries what varies: the user profile, the
user's review of the positive item, the numbered candidates and, from the
second attempt on, the earlier wrong answers as error examples (P_retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explainrec.core.text import truncate

SYSTEM_PROMPT = (
    "You will serve as an assistant to help me find the item a specific user has interacted with and explain "
    "why the user would interact with the item. I will provide you with the profile of the user, the review of "
    "the item written by the user, and a list of items with profiles. Exactly one item in the list is the item "
    "the user has interacted with. Your task is to find that item, using the user profile, the review and the "
    "item profiles, and to explain why the user would interact with it.\n"
    "\n"
    "Answer in exactly this format:\n"
    "Answer: [number of the item]\n"
    "Explanation: The user would interact with the item because ...\n"
    "\n"
    "The explanation is one or two sentences about the user's preferences and the item's features. "
    "Do not mention the item's number or the review in the explanation."
)

#: the answer's opening that the likelihood choice scores the candidate numbers after
ANSWER_OPENING = "Answer: ["
#: every explanation opens so (paper 000 Fig. 4; the SFT targets and the evaluation expect it)
EXPLANATION_OPENING = "The user would interact with the item because"


def explanation_opening(choice: int) -> str:
    """The answer up to the explanation's first words, for the candidate number ``choice``."""
    return f"{ANSWER_OPENING}{choice}]\nExplanation: {EXPLANATION_OPENING}"


RETRY_HEADER = "These answers were wrong:"
RETRY_FOOTER = "Do not choose them again. Choose a different item and answer in the required format."
NO_REVIEW = "(no review)"


@dataclass(frozen=True)
class Candidate:
    """One item shown to the model."""

    item_id: str
    title: str | None
    profile: str


@dataclass(frozen=True)
class ErrorExample:
    """A wrong earlier attempt: the candidate number it chose (None when the
    answer could not be read) and its explanation."""

    choice: int | None
    explanation: str


def _candidate_line(n: int, c: Candidate, max_chars: int | None) -> str:
    head = f"[{n}] {c.title}" if c.title else f"[{n}]"
    profile = truncate(c.profile, max_chars) if max_chars is not None else " ".join(c.profile.split())
    return f"{head}\nProfile: {profile}"


#: error examples quote at most this much of a wrong explanation, so retry prompts stay short
MAX_ERROR_CHARS = 200


def _error_line(e: ErrorExample, candidates: Sequence[Candidate]) -> str:
    if e.choice is None:
        return "- Your answer could not be read (it did not name one item number from the list)."
    c = candidates[e.choice - 1]
    name = f"[{e.choice}] {c.title}" if c.title else f"[{e.choice}]"
    expl = truncate(e.explanation, MAX_ERROR_CHARS) or "(no explanation)"
    return f"- Answer: {name}. Explanation: {expl}"


def discrimination_message(
    user_profile: str,
    review: str | None,
    candidates: Sequence[Candidate],
    errors: Sequence[ErrorExample] = (),
    max_review_chars: int = 300,
    max_profile_chars: int | None = None,
) -> str:
    """The variable part of P (no ``errors``) or of P_retry (with them); each
    candidate's profile cut to ``max_profile_chars`` (None: whole)."""
    review_text = truncate(review, max_review_chars) if review is not None and str(review).strip() else NO_REVIEW
    parts = [
        f"User profile: {' '.join(user_profile.split())}",
        f"Review written by the user: {review_text}",
        f"Items ({len(candidates)}):\n"
        + "\n".join(_candidate_line(n, c, max_profile_chars) for n, c in enumerate(candidates, 1)),
    ]
    if errors:
        parts.append("\n".join([RETRY_HEADER, *(_error_line(e, candidates) for e in errors), RETRY_FOOTER]))
    parts.append(f"Which item (1-{len(candidates)}) has the user interacted with, and why?")
    return "\n\n".join(parts)
