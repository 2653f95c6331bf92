"""The supervised fine-tuning prompt of paper 000 (§3.3, Fig. 4).

The instruction, the two profiles and the ``Reason for Interaction:`` cue form
the *user* turn; the base model's chat template wraps it, and the target
explanation is the *assistant* turn. The same prompt serves training (the
``sft`` stage), generation (the ``generate`` stage) and the ablations (the base
model without SFT, layer-0 profiles): every caller builds it here.

Targets are normalised to start with :data:`RESPONSE_PREFIX` ("The user would
interact with the item because"), as in Fig. 4 (whose "would interacted" is
read as the typo it is), so the fine-tuned model always answers in one form.
"""

from __future__ import annotations

import re
from typing import Any

from explainrec.llm.types import ChatRequest

INSTRUCTION = (
    "You are an AI assistant specialized in understanding user profile and item profile. "
    "Based on the given user profile and item profile, generate a reason why this user would interact with this item."
)
RESPONSE_PREFIX = "The user would interact with the item because"

# "The user would interact(ed) with the/this item(,) because" in any case, and a bare leading "Because"
_PREFIX_RE = re.compile(
    r"^\s*the user would (?:interact|interacted|like to interact) with (?:the|this) item,?\s+because\b[\s,:]*",
    re.IGNORECASE)
_BECAUSE_RE = re.compile(r"^\s*because\b[\s,:]*", re.IGNORECASE)
# first words that are lower-cased when they follow "because" (anything else, e.g. a title, keeps its case)
_COMMON_STARTS = frozenset(
    "the this that these those a an he she they it its his her their user users item as since given both "
    "with of in on for there who which what when while although though".split()
)


def build_prompt(user_profile: str, item_profile: str) -> str:
    """The Fig. 4 user turn for one pair (profiles stripped of surrounding whitespace)::

        <INSTRUCTION>
        User Profile:
        <user_profile>
        Item Profile:
        <item_profile>
        Reason for Interaction:
    """
    return (f"{INSTRUCTION}\nUser Profile:\n{str(user_profile).strip()}\n"
            f"Item Profile:\n{str(item_profile).strip()}\nReason for Interaction:")


def normalise_target(explanation: str) -> str:
    """``explanation`` rewritten to start with :data:`RESPONSE_PREFIX`.

    A text that already starts with it (any case, "interacted" too) gets the
    canonical prefix; a leading "Because" is dropped before the prefix is
    added; the first word after "because" is lower-cased when it is a common
    word (the, he, they, as, ...) not followed by a capitalised word (a title
    such as "The Godfather" keeps its case), so "He loves jazz." becomes "The
    user would interact with the item because he loves jazz.". Whitespace is
    collapsed.
    An empty text stays empty (callers drop such pairs).
    """
    text = " ".join(str(explanation).split())
    if not text:
        return ""
    body = _PREFIX_RE.sub("", text, count=1)
    if body == text:
        body = _BECAUSE_RE.sub("", text, count=1)
    if not body:
        return RESPONSE_PREFIX + "."
    words = body.split(" ", 2)
    first, second = words[0], (words[1] if len(words) > 1 else "")
    title = second[:1].isupper()  # "The Godfather ...", "A Clockwork Orange ..." keep their case
    if (first.lower().strip(",.;:'\"") in _COMMON_STARTS and first[:1].isupper() and first[1:] == first[1:].lower()
            and not title):
        body = body[0].lower() + body[1:]
    return f"{RESPONSE_PREFIX} {body}"


def strip_prefix(text: str) -> str:
    """The reason without the fixed :data:`RESPONSE_PREFIX` (for scoring the informative part only)."""
    return _PREFIX_RE.sub("", " ".join(str(text).split()), count=1)


def prompt_messages(user_profile: str, item_profile: str) -> list[dict[str, str]]:
    """The prompt as the one-turn conversation trl's prompt-completion datasets take."""
    return [{"role": "user", "content": build_prompt(user_profile, item_profile)}]


def chat_request(user_profile: str, item_profile: str, **gen: Any) -> ChatRequest:
    """The prompt as a :class:`ChatRequest` for ``LLM.chat`` (no system turn, as in training);
    ``gen`` are :class:`~explainrec.llm.types.GenParams` fields such as ``max_new_tokens``."""
    return ChatRequest.of(None, build_prompt(user_profile, item_profile), **gen)
