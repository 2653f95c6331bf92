"""A store of prompt KV caches, so a prompt that opens like an earlier one skips that opening's prefill.

Keys are token ids; a stored entry of tokens ``S`` serves any prompt whose first
``n`` tokens equal ``S[:n]`` (causal attention: the keys and values of a position
depend only on the tokens up to it), so one entry covers the shared system
message of a task and, for a CPEG retry, everything up to its error examples.
Least recently used entries go first once the store holds more than its byte budget.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class PrefixEntry:
    """One prompt's tokens and, per layer, its keys and values (``[heads, tokens, head_dim]`` each)."""

    ids: np.ndarray
    kv: list[tuple[Any, Any]]

    @property
    def nbytes(self) -> int:
        return sum(k.element_size() * k.nelement() + v.element_size() * v.nelement() for k, v in self.kv)


def common_prefix_len(a: np.ndarray, b: np.ndarray) -> int:
    """Length of the longest common prefix of two token-id arrays."""
    n = min(len(a), len(b))
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if len(diff) else n


class PrefixStore:
    """Least-recently-used prompt KV caches within ``max_bytes`` (0: store nothing)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[int, PrefixEntry] = OrderedDict()
        self._next = 0
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, ids: Sequence[int]) -> tuple[PrefixEntry | None, int]:
        """The entry sharing the longest opening with ``ids`` and that length, which is kept
        under ``len(ids)`` so at least one token is left to compute the next-token logits."""
        arr = np.asarray(ids)
        best, best_n, best_key = None, 0, None
        for key, e in self._entries.items():
            n = common_prefix_len(e.ids, arr)
            if n > best_n:
                best, best_n, best_key = e, n, key
        if best_key is not None:
            self._entries.move_to_end(best_key)
        return best, min(best_n, len(arr) - 1)

    def add(self, ids: Sequence[int], kv: list[tuple[Any, Any]]) -> PrefixEntry:
        """Store a prompt's KV and return its entry (not kept when it alone exceeds the budget)."""
        entry = PrefixEntry(np.asarray(ids), kv)
        size = entry.nbytes
        if size > self.max_bytes:
            return entry
        self._entries[self._next] = entry
        self._next += 1
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.nbytes -= old.nbytes
        return entry

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0
