"""Yelp Open Dataset (https://www.yelp.com/dataset), JSON lines.

Catalogue entry: ``{format: yelp, reviews: PATH, business: PATH or null}``.

``reviews`` is ``yelp_academic_dataset_review.json`` (review_id, user_id,
business_id, stars, text, date "YYYY-MM-DD HH:MM:SS", read as UTC); user_id,
business_id and stars are required. ``business`` (optional) is
``yelp_academic_dataset_business.json``: title = name, categories = the
categories (a comma string, a list, or null) joined with ", ", description =
"Located in <city>, <state>." when the city or state is known. Only businesses
that occur in the reviews are kept. Plain or gzip files are both read.
Yelp's dataset terms allow academic, non-commercial use only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.data.adapters.common import Columns, build, flatten, ident, iter_records, join_unique, number, text, \
    value
from explainrec.core.errors import InputError
from explainrec.data.schema import Dataset


def _timestamp(raw: Any, path: Path, lineno: int) -> int | None:
    if raw in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        raise InputError(path, "date", "a date like '2018-07-07 22:09:11'", got=raw, line=lineno) from None
    return int(when.replace(tzinfo=when.tzinfo or timezone.utc).timestamp())


def _categories(raw: Any) -> str | None:
    parts = raw.split(",") if isinstance(raw, str) else list(flatten(raw))
    return join_unique(p.strip() for p in parts if p.strip())


def _place(rec: dict) -> str | None:
    where = ", ".join(p for p in (text(rec.get("city")), text(rec.get("state"))) if p)
    return f"Located in {where}." if where else None


def read_reviews(path: Path) -> pd.DataFrame:
    """The interactions of a Yelp review file, one row per line."""
    cols = Columns("user_id", "item_id", "rating", "timestamp", "review")
    for n, rec in iter_records(path):
        cols.add(
            user_id=ident(rec, "user_id", path, n),
            item_id=ident(rec, "business_id", path, n),
            rating=number(value(rec, "stars", path, n), "stars", path, n),
            timestamp=_timestamp(rec.get("date"), path, n),
            review=text(rec.get("text")),
        )
    return cols.frame()


def read_business(path: Path, wanted: set[str]) -> pd.DataFrame:
    """title/description/categories of the businesses in ``wanted``."""
    cols = Columns("item_id", "title", "description", "categories")
    for n, rec in iter_records(path):
        bid = ident(rec, "business_id", path, n)
        if bid in wanted:
            cols.add(item_id=bid, title=text(rec.get("name")), description=_place(rec),
                     categories=_categories(rec.get("categories")))
    return cols.frame()


def load(reviews: Path, business: Path | None = None) -> Dataset:
    """Read a Yelp review file and, optionally, its business file."""
    interactions = read_reviews(reviews)
    items = read_business(business, set(interactions["item_id"])) if business is not None else None
    return build(interactions, {"interactions": reviews, "items": business or reviews}, items=items)
