"""Read a candidate number and an explanation out of a (small) model's answer.

Accepted, in this order of trust: an answer label (``Answer: [3]``,
``**Answer:** 3``, ``Answer: item 3``), a bracketed number (``[3]``), an item
reference (``Item 3``, ``item number 3``, ``option #3``), a choice verb
(``I choose item number 3``, ``I pick 3``), a bare number opening the answer
(``3.``), then a candidate's title (exact up to case and punctuation, or
without its year and trailing article: "Lion King" for "Lion King, The (1994)").
The text before the explanation is searched first, then the whole answer. A
number outside 1..n is a failure (it is not replaced by a later one), and so
is an empty explanation. Without an ``Explanation:`` label the explanation is
the answer without its answer line (or, for a one-line answer, the rest of
that line after the choice).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUM = r"\[?\s*#?\s*(\d+)\s*\]?"
_REF = r"(?:item|option|candidate|choice|movie|product|business|game)?\s*(?:number|no\.?|num\.?|#)?\s*"
PATTERNS = (
    re.compile(r"\banswer\s*(?:is)?\s*[:=\-]?\s*" + _REF + _NUM, re.I),
    re.compile(r"\[\s*(\d+)\s*\]"),
    re.compile(r"\b(?:item|option|candidate)\s*(?:number|no\.?|num\.?|#)?\s*(\d+)\b", re.I),
    re.compile(r"\b(?:choose|chose|pick|picked|select|selected|go with)\s+" + _REF + _NUM, re.I),
    re.compile(r"\A\s*\(?(\d+)\s*(?:[.):]|$)", re.M),  # a bare number opening the answer: "3." / "3)"
)
_EXPLANATION = re.compile(r"\bexplanation\s*(?::|[-\u2013\u2014]\s)", re.I)
_MARKDOWN = re.compile(r"\*+|__|`|^\s*#+\s*", re.M)


@dataclass(frozen=True)
class Parsed:
    """``choice``: the 1-based candidate number, or None; ``error`` is None when
    the answer is usable (a choice in range and a non-empty explanation).
    ``probability``: the model's probability of the choice among the numbers it
    could pick, when the choice was made by likelihood (None when parsed)."""

    choice: int | None
    explanation: str
    error: str | None = None
    probability: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _number(text: str) -> tuple[int, int, int] | None:
    """(number, start, end) of the first match of the most trusted pattern."""
    for pat in PATTERNS:
        m = pat.search(text)
        if m:
            return int(m.group(1)), m.start(), m.end()
    return None


_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_ARTICLE = re.compile(r",\s*(the|a|an|la|le|les|il|das|der|die|el)\s*$", re.I)


def _title_patterns(title: str) -> list[re.Pattern[str]]:
    """The title, then its core (no trailing "(1995)", no trailing ", The"), word by word:
    punctuation, quotes and case may differ, word boundaries may not."""
    out = []
    for variant in (title, _ARTICLE.sub("", _YEAR.sub("", title))):
        words = re.findall(r"\w+", variant)
        if words and len(" ".join(words)) >= 4:
            out.append(re.compile(r"\b" + r"\W+".join(map(re.escape, words)) + r"\b", re.I))
    return out


def _title(text: str, titles: Sequence[str | None]) -> tuple[int, int, int] | None:
    """(1-based index, start, end) of the earliest (then longest) title mention."""
    hits = []
    for n, t in enumerate(titles, 1):
        for pat in _title_patterns((t or "").strip()):
            m = pat.search(text)
            if m:
                hits.append((m.start(), -(m.end() - m.start()), n))
    if not hits:
        return None
    pos, neg_len, n = min(hits)
    return n, pos, pos - neg_len


def _line_span(text: str, start: int, end: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return a, len(text) if b < 0 else b


def parse_answer(text: str, titles: Sequence[str | None]) -> Parsed:
    """Parse ``text`` against candidates whose titles are ``titles`` (one per candidate, in shown order)."""
    clean = _MARKDOWN.sub("", text or "").strip()
    n = len(titles)
    m = _EXPLANATION.search(clean)
    head = clean[: m.start()] if m else clean

    found = None
    for part in (head, clean) if m else (clean,):
        found = _number(part) or _title(part, titles)
        if found:
            break
    if m:
        explanation = clean[m.end() :].strip()
    elif found:  # the text without the answer line, else the rest of that line
        a, b = _line_span(clean, found[1], found[2])
        explanation = (clean[:a] + clean[b:]).strip() or clean[found[2] : b].lstrip(" .,:;)-]").strip()
    else:
        explanation = clean
    explanation = " ".join(explanation.split())

    if found is None:
        return Parsed(None, explanation, "no item number or title found")
    choice = found[0]
    if not 1 <= choice <= n:
        return Parsed(None, explanation, f"item number {choice} is not in 1..{n}")
    if not explanation:
        return Parsed(choice, "", "empty explanation")
    return Parsed(choice, explanation)
