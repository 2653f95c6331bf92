"""Coverage (paper 002 Table 2, App. C.3): the share of a pair's aspect terms its explanation mentions.

With the bundled 135M model the derived terms are rough (it often echoes the title or the request);
:func:`parse_aspects` drops those echoes, and an item may keep fewer than ``n`` terms or none
(such pairs are left out of Coverage).

Datasets with aspect terms give them; MovieLens-100K, the default data, has none, so
:func:`derive_aspects` asks the LLM once per item for ``n`` aspect terms from its text (title
and profile), through the project's LLM layer: every answer is cached by content, so later
rounds and reruns ask nothing. :func:`coverage` counts an aspect as mentioned when each of its
content words (stop words dropped) occurs in the explanation, case-insensitively, as a word
or the start of one ("drama" matches "dramas" and "dramatic").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from explainrec.llm.types import ChatRequest

_WORD = re.compile(r"[a-z0-9']+")
#: words of the request's own wording, which a small model echoes instead of answering
_TEMPLATE = frozenset("genre genres mood moods theme themes aspect aspects keyword keywords word words single this "
                      "item its example 1st 2nd 3rd".split())
_STOP = frozenset("a an the of and or in on at to for with from by its it is this that movie film product item "
                  "very more most".split())


def aspect_request(text: str, n: int, max_new_tokens: int) -> ChatRequest:
    """Ask for ``n`` keywords (genre, mood, theme ...) of the item described by ``text``, comma-separated."""
    return ChatRequest.of(None, f"{text}\nDescribe this item with {n} single-word keywords (for example its genre, "
                                "its mood and its theme), separated by commas.",
                          opening="Keywords:", max_new_tokens=max_new_tokens, stop=("\n\n",))


def parse_aspects(text: str, n: int, title: str = "") -> list[str]:
    """The first ``n`` distinct terms of a comma/semicolon/newline-separated answer: numbering, numbers, words of one or two letters,
    the request's own words and the item's ``title`` words dropped, lower case, at most three words each."""
    banned = set(_WORD.findall(title.lower()))
    out: list[str] = []
    for part in re.split(r"[,;\n]|\band\b", text.lower()):
        words = [w for w in _WORD.findall(re.sub(r"^\s*\d+[.)]\s*", "", part))
                 if len(w) > 2 and not w.isdigit() and w not in _TEMPLATE and w not in banned]
        term = " ".join(words[:3])
        if term and term not in out and any(w not in _STOP for w in words[:3]):
            out.append(term)
        if len(out) == n:
            break
    return out


def derive_aspects(llm: Any, texts: Mapping[str, str], n: int, max_new_tokens: int = 24) -> dict[str, list[str]]:
    """``{item_id: [aspect, ...]}`` (at most ``n`` each) from ``llm`` (an :class:`~explainrec.llm.client.LLM`,
    cached), one request per item of ``texts``."""
    ids = sorted(texts)
    answers = llm.chat([aspect_request(texts[i], n, max_new_tokens) for i in ids], desc="recpie aspects")
    return {i: parse_aspects(a.text, n, texts[i].split(":", 1)[0]) for i, a in zip(ids, answers)}


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def mentions(explanation: str, aspect: str) -> bool:
    """True when every content word of ``aspect`` opens a word of ``explanation``."""
    words = _WORD.findall(explanation.lower())
    needed = _content(aspect)
    return bool(needed) and all(any(w.startswith(a) for w in words) for a in needed)


def coverage(explanations: Sequence[str], aspects: Sequence[Sequence[str]]) -> float | None:
    """Mean over the explanations that have aspects of the share of their aspects mentioned; None
    when no explanation has any."""
    shares = [sum(mentions(e, a) for a in terms) / len(terms) for e, terms in zip(explanations, aspects) if terms]
    return round(sum(shares) / len(shares), 6) if shares else None
