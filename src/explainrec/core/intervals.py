"""Confidence intervals for the rates the stages report (CPEG accuracy, judge agreement)."""

from __future__ import annotations

from typing import Any


def rate_with_interval(k: int, n: int, confidence: float = 0.95) -> dict[str, Any]:
    """``k`` of ``n`` as a rate with its exact (Clopper-Pearson) binomial interval, via scipy;
    rate and interval are None when ``n`` is 0. Flat keys (``ci_low``, ``ci_high``): `dvc metrics
    show` drops lists."""
    from scipy.stats import binomtest

    if n == 0:
        return {"k": 0, "n": 0, "rate": None, "ci_low": None, "ci_high": None}
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return {"k": int(k), "n": int(n), "rate": round(k / n, 4), "ci_low": round(float(ci.low), 4),
            "ci_high": round(float(ci.high), 4)}
