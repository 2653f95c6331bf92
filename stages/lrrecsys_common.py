"""What the LR-Recsys stages share: their path options and the base-plus-entry param sections.

A foreach entry (``lrrecsys.explanation_sets.<name>``, ``lrrecsys.runs.<name>``) holds only
what differs from its base section, so the entries stay short and a change to the base
reaches every entry.
"""

from __future__ import annotations

from typing import Any, TypeVar

from common import path_option, section

T = TypeVar("T")

PAIRS = path_option("--pairs", "the lrrecsys_pairs stage's folder (pairs.parquet)")
EXPLANATIONS = path_option("--explanations", "an lrrecsys_explain stage's folder (explanations.parquet)")
EMBEDDINGS = path_option("--embeddings", "an lrrecsys_embed stage's folder (embeddings.parquet)")


def merged_section(params: dict[str, Any], base: str, entry: str, cls: type[T], **extra: Any) -> T:
    """``cls`` built from the section ``base`` updated with the keys of the section ``entry``
    (an unknown key in either is named with its full path)."""
    from explainrec.config import check_section, from_section

    known = [f for f in cls.__dataclass_fields__ if f not in extra]  # type: ignore[attr-defined]
    values = check_section(section(params, base), base, known)
    values.update(check_section(section(params, entry), entry, known))
    return from_section(cls, values, entry, **extra)
