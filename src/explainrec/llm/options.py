"""The probability of each option as the start of an answer, from next-token distributions.

A :class:`~explainrec.llm.types.ScoreRequest` asks how likely each option
(``"1"`` ... ``"8"``, or ``"0"`` ... ``"100"``) is as what the model writes next.
An option can take several tokens (``"12"`` is ``1``, ``2`` for SmolLM2) and one
option can open another (``"1"`` and ``"12"``), so :func:`walk_options` walks
the tree of answer openings, one next-token distribution per node:

* a token whose text, added to the node's, is still the opening of some longer
  option makes a child node, looked at one token further (when its path's
  probability is at least :data:`MIN_MASS`);
* otherwise its probability goes to the longest option the text starts with where
  the option's word ends there (``"3"``, ``"3]"`` and ``"3."`` count for option
  ``"3"``, ``"35"`` and ``"3rd"`` do not; at node ``"1"`` a ``"]"`` counts for ``"1"``
  and a ``"2"`` leads to ``"12"``), or to none (``"The"``).

Leading whitespace of the answer does not count. Each backend says which tokens a
node's distribution lists (:data:`Step`): the local one gives every token whose
text is an opening of an option plus its :data:`TOP_K` most likely, a server its
``top_logprobs``. Mass the walk does not see is left out, never guessed, and
:attr:`Scored.covered` reports how much of the distribution the options got.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from explainrec.llm.types import ScoreRequest, Scored

#: nodes whose path probability is below this are not expanded (their mass is left out)
MIN_MASS = 1e-4
#: the local backend lists this many most likely tokens at each node, besides the option openings
TOP_K = 64

#: one node to expand: the request, the path of tokens so far (backend handles) and the texts
#: a listed token would need to be an opening of some option (the backend may list more)
Query = tuple[ScoreRequest, tuple[Any, ...], frozenset[str]]
#: a node's listed tokens: (handle, text, log-probability)
Step = Callable[[list[Query]], list[list[tuple[Any, str, float]]]]


def _openings(remainders: Sequence[str]) -> frozenset[str]:
    return frozenset(r[:j] for r in remainders for j in range(1, len(r) + 1))


def walk_options(requests: Sequence[ScoreRequest], step: Step, min_mass: float = MIN_MASS) -> list[list[float]]:
    """The log-probability of each option of each request (``-inf`` where none was seen).

    ``step`` is called once per depth of the tree with every node of that depth, of
    every request, so a backend can batch them.
    """
    out = [[-math.inf] * len(r.options) for r in requests]
    frontier: list[tuple[int, tuple[Any, ...], str, float]] = [(n, (), "", 0.0) for n in range(len(requests))]
    while frontier:
        queries = [(requests[n], path, _openings([o[len(text):] if text else o for o in requests[n].options
                                                   if o.startswith(text)]))
                   for n, path, text, _ in frontier]
        listed = step(queries)
        deeper = []
        for (n, path, text, lp), tokens in zip(frontier, listed):
            options = requests[n].options
            seen: set[Any] = set()
            for handle, piece, tlp in tokens:
                if handle in seen:
                    continue
                seen.add(handle)
                s = text + piece if text else piece.lstrip()
                if not s:
                    continue  # whitespace before the answer
                total = lp + tlp
                if any(len(o) > len(s) and o.startswith(s) for o in options):
                    if math.exp(total) >= min_mass:
                        deeper.append((n, path + (handle,), s, total))
                    continue
                ends = [j for j, o in enumerate(options)
                        if s.startswith(o) and (len(s) == len(o) or not s[len(o)].isalnum())]
                if ends:
                    j = max(ends, key=lambda k: len(options[k]))
                    out[n][j] = float(np.logaddexp(out[n][j], total))
        frontier = deeper
    return out


def score_with(requests: Sequence[ScoreRequest], step: Step, prompt_tokens: Callable[[ScoreRequest], int],
               min_mass: float = MIN_MASS) -> list[Scored]:
    """:func:`walk_options` as :class:`Scored` results, with each request's prompt length."""
    logprobs = walk_options(requests, step, min_mass)
    return [Scored(tuple(lp), prompt_tokens(r)) for r, lp in zip(requests, logprobs)]
