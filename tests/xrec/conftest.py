"""One torch thread for the XRec tests too: LR-Recsys's autouse fixture (its docstring says why)."""

from __future__ import annotations

from tests.lrrecsys.conftest import one_thread  # noqa: F401  (an autouse fixture, registered by the import)
