"""Seeds that depend only on what they are for, never on iteration order.

``stable_rng(seed, "pghis", "user", "u42", 2)`` is the same generator in every
run and every process, whatever else is in the data, so adding one node or
one interaction does not reshuffle anybody else's sample.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_rng(seed: int, *parts: object) -> np.random.Generator:
    """A numpy generator seeded from ``seed`` and ``parts`` through sha256 (not Python's salted ``hash``)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in (seed, *parts)).encode()).digest()
    return np.random.default_rng(np.random.SeedSequence(list(np.frombuffer(digest, dtype=np.uint32))))
