"""The supervised fine-tuning prompt of paper 000 (§3.3, Fig. 4), and the form of its targets.

The instruction, the two profiles and the ``Reason for Interaction:`` cue form
the *user* turn; the base model's chat template wraps it, and the target
explanation is the *assistant* turn. With an item title (and categories, when
the dataset has them) the item's name goes between the two profiles, as in
XRec's prompt ("book name: ..."); without, the prompt is Fig. 4's exactly. The
same prompt serves training (the ``sft`` stage), generation (the ``generate``
stage) and the ablations: every caller builds it here.

A target has one opening, never two (:func:`normalise_target`):

* ``as_written``: a text that states its own opening ("The user would buy the
  book because ...", "You would enjoy the business for ...", "Fans of the
  series will enjoy ...") is kept as written; :data:`RESPONSE_PREFIX` ("The user
  would interact with the item because", Fig. 4's, whose "would interacted" is
  read as the typo it is) is put in front of a text without one ("Because ...",
  "He loves jazz.").
* ``fig4``: every target in Fig. 4's form: an opening that ends in "because" is
  replaced by the prefix; a text with an opening of another shape ("... would
  buy the book for its plot") is kept as written, since the prefix in front of
  it would make two.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from explainrec.llm.types import ChatRequest

#: how SFT targets are put in shape (:func:`normalise_target`)
TARGET_FORMS = ("as_written", "fig4")

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
# a text that states who would do what, in its first clause: "The user would ...", "You would ...",
# "Readers will ...", "The user, a long-time fan of SciFi, would ..."
_OWN_OPENING_RE = re.compile(r"^\s*(?!because\b)[^.!?;:]{0,80}?\b(?:would|will|might|may|should|could)\b", re.IGNORECASE)
# such an opening up to its "because" (any subject and verb: "The user would buy the book because")
_OPENING_BECAUSE_RE = re.compile(_OWN_OPENING_RE.pattern + r"[^.!?;:]{0,120}?\bbecause\b[\s,:]*", re.IGNORECASE)
# an opening with the user (or the reader) as subject: what a second opening starts with
_USER_OPENING_RE = re.compile(r"^\s*(?:(?:the|this) (?:user|reader|customer)|you)\s+(?:would|will|might|may|should|could)\b",
                              re.IGNORECASE)
# first words that are lower-cased when they follow "because" (anything else, e.g. a title, keeps its case)
_COMMON_STARTS = frozenset(
    "the this that these those a an he she they it its his her their user users item as since given both "
    "with of in on for there who which what when while although though".split()
)


def build_prompt(user_profile: str, item_profile: str, title: str | None = None,
                 categories: str | None = None) -> str:
    """The user turn for one pair (texts stripped of surrounding whitespace). Fig. 4's::

        <INSTRUCTION>
        User Profile:
        <user_profile>
        Item Profile:
        <item_profile>
        Reason for Interaction:

    with ``Item Title:`` / ``Item Categories:`` lines before ``Item Profile:`` when
    ``title`` / ``categories`` are given (an empty or missing one is left out).
    """
    lines = [INSTRUCTION, "User Profile:", str(user_profile).strip()]
    for header, value in (("Item Title:", title), ("Item Categories:", categories)):
        text = _text(value)
        if text:
            lines += [header, text]
    lines += ["Item Profile:", str(item_profile).strip(), "Reason for Interaction:"]
    return "\n".join(lines)


def _text(value: object) -> str:
    """A cell as one line of text; '' for None, NA and blanks."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return " ".join(str(value).split())


def normalise_target(explanation: str, form: str = "as_written") -> str:
    """``explanation`` with exactly one opening, in the ``form`` (one of :data:`TARGET_FORMS`).

    A text that opens with Fig. 4's prefix (any case, "interacted" too) gets the
    canonical one, unless another opening follows it ("... because the user
    would buy the book because ..."): then the prefix goes and the inner
    opening is the text's own. Where the prefix is added, a leading "Because" is dropped first and the
    first word after "because" is lower-cased when it is a common word (the,
    he, they, as, ...) not followed by a capitalised word (a title such as "The
    Godfather" keeps its case), so "He loves jazz." becomes "The user would
    interact with the item because he loves jazz.". Whitespace is collapsed. An
    empty text stays empty (callers drop such pairs).
    """
    if form not in TARGET_FORMS:
        raise ValueError(f"form: expected one of {', '.join(TARGET_FORMS)}, got {form!r}")
    text = " ".join(str(explanation).split())
    if not text:
        return ""
    body = _PREFIX_RE.sub("", text, count=1)  # Fig. 4's own opening, any variant, becomes the canonical one
    if body != text and _USER_OPENING_RE.match(body):  # two openings: the inner one is the text's own
        text = body = body[0].upper() + body[1:]
    if body == text:
        body = _BECAUSE_RE.sub("", text, count=1)
    if body == text:
        if form == "fig4" and _OPENING_BECAUSE_RE.match(text):
            body = _OPENING_BECAUSE_RE.sub("", text, count=1)
        elif _OWN_OPENING_RE.match(text):
            return text
    if not body:
        return RESPONSE_PREFIX + "."
    words = body.split(" ", 2)
    first, second = words[0], (words[1] if len(words) > 1 else "")
    title = second[:1].isupper()  # "The Godfather ...", "A Clockwork Orange ..." keep their case
    if (first.lower().strip(",.;:'\"") in _COMMON_STARTS and first[:1].isupper() and first[1:] == first[1:].lower()
            and not title):
        body = body[0].lower() + body[1:]
    return f"{RESPONSE_PREFIX} {body}"


def has_two_openings(text: str) -> bool:
    """True for "The user would interact with the item because the user would buy the book because ...":
    an opening up to its "because" followed at once by another with the user as subject."""
    text = " ".join(str(text).split())
    m = _OPENING_BECAUSE_RE.match(text)
    return bool(m) and bool(_USER_OPENING_RE.match(text[m.end():]))


def strip_prefix(text: str) -> str:
    """The reason without the fixed :data:`RESPONSE_PREFIX` (for scoring the informative part only)."""
    return _PREFIX_RE.sub("", " ".join(str(text).split()), count=1)


def prompt_messages(prompt: str) -> list[dict[str, str]]:
    """A prompt (:func:`build_prompt`'s) as the one-turn conversation trl's prompt-completion datasets take."""
    return [{"role": "user", "content": prompt}]


def chat_request(prompt: str, **gen: Any) -> ChatRequest:
    """A prompt (:func:`build_prompt`'s) as a :class:`ChatRequest` for ``LLM.chat`` (no system turn, as
    in training); ``gen`` are :class:`~explainrec.llm.types.GenerationConfig` fields such as ``max_new_tokens``."""
    return ChatRequest.of(None, prompt, **gen)
