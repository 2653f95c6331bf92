"""One torch thread for the LR-Recsys tests (the library never sets threads)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: with torch's intra-op threads on a busy 2-core machine (two pytest
    workers) a [B, 8] matmul waits on spinning threads (35 s instead of 0.5 s for a learning test).
    The tests run on one thread and give the old count back."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
