"""The PGHIS prompts of paper 000 §3.1: P_init (layer 0) and P_agg (layers 1..n).

The paper gives the opening of each system prompt; the rest of each prompt
(what to write, how long) is ours, worded so that a small model can follow
it. The system prompt is fixed per node type and comes first, the node's
data after it.
"""

from __future__ import annotations

from collections.abc import Sequence

PROFILE_RULES = "Answer with the profile only, in at most four sentences, without lists or headings."

P_INIT_USER = (
    "You will serve as an assistant to help me determine which types of items a specific user is likely to enjoy. "
    "I will provide you with the items the user has interacted with, the user's ratings and, when available, "
    "the user's reviews. Write a profile of the user: which types of items they enjoy, which they dislike, and "
    "what they care about. " + PROFILE_RULES
)
P_INIT_ITEM = (
    "You will serve as an assistant to help me summarize which types of users would enjoy a specific item. "
    "I will provide you with the item's title, description and categories, or, when those are missing, the "
    "reviews users wrote about it. Write a profile of the item: what it is and which types of users would "
    "enjoy it. " + PROFILE_RULES
)
P_AGG_USER = (
    "You will serve as an assistant to help me update the user profile. I will provide you with the user's "
    "current profile and the profiles of items the user has interacted with. You should summarize the common "
    "features of the interacted items and then update the original user profile. " + PROFILE_RULES
)
P_AGG_ITEM = (
    "You will serve as an assistant to help me update the item profile. I will provide you with the item's "
    "current profile and the profiles of users who have interacted with the item. You should summarize the "
    "common features of the interacted users and then update the original item profile. " + PROFILE_RULES
)
SYSTEM = {("user", "init"): P_INIT_USER, ("item", "init"): P_INIT_ITEM,
          ("user", "agg"): P_AGG_USER, ("item", "agg"): P_AGG_ITEM}


def closing(kind: str, updated: bool = False) -> str:
    """The last line of every profile prompt: small models follow the last instruction best."""
    what = "updated profile" if updated else "profile"
    return f'Write the {what} of this {kind} in three sentences, starting with "This {kind}".'


def init_user_prompt(attributes: str, history: Sequence[str]) -> str:
    lines = [f"User attributes: {attributes}"] if attributes else []
    lines.append("Interaction history:")
    lines.extend(f"- {h}" for h in history)
    lines += ["", closing("user")]
    return "\n".join(lines)


def init_item_prompt(description: Sequence[str], reviews: Sequence[str]) -> str:
    lines = list(description)
    if reviews:
        lines.append("Reviews by users who interacted with it:")
        lines.extend(f"- {r}" for r in reviews)
    lines += ["", closing("item")]
    return "\n".join(lines)


def agg_prompt(kind: str, own: str, neighbours: Sequence[str]) -> str:
    other = "item" if kind == "user" else "user"
    lines = [f"Current {kind} profile: {own}", f"Profiles of interacted {other}s:"]
    lines.extend(f"{i}. {p}" for i, p in enumerate(neighbours, 1))
    lines += ["", closing(kind, updated=True)]
    return "\n".join(lines)
