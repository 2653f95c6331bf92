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


def deterministic_torch(warn_only: bool = True) -> None:
    """Make torch pick its deterministic kernels for the rest of the process.

    On 2 CPU threads the backward of advanced indexing (``table[index]`` with repeated indices:
    ``index_put_`` with ``accumulate=True``) adds the rows in whatever order the threads finish,
    so two runs of the same training differ in the last bits and, through early stopping, in
    everything after (measured: 5 different gradients in 5 tries of one 200,000-row lookup). In
    deterministic mode torch sorts the indices first, at no measurable cost there. On CUDA it also
    needs cuBLAS's fixed workspace (set here before CUDA starts). ``warn_only``: an op that has no
    deterministic kernel warns instead of failing (the tests call it with ``False`` on the CPU paths).
    """
    import os

    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
