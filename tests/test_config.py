"""The shared params checks in explainrec.config."""

from __future__ import annotations

import pytest

from explainrec.config import check_count
from explainrec.errors import ParamError


def test_check_count():
    assert check_count(3, "s.k") == 3 and check_count(None, "s.k", none_ok=True) is None
    for bad in (0, -1, 2.5, True, "3", None):
        with pytest.raises(ParamError, match=r"param 's.k': expected a positive integer"):
            check_count(bad, "s.k")
    with pytest.raises(ParamError, match=r"param 'f.max': expected a positive integer or null, got 0"):
        check_count(0, "f.max", "a positive integer or null", none_ok=True)
