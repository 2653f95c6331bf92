"""Amazon product reviews, 5-core, as released by Julian McAuley's group (UCSD).

Catalogue entry: ``{format: amazon, reviews: PATH, meta: PATH or null}``.

``reviews`` is JSON lines, plain or gzip: the 2014 release (``reviews_*_5.json``:
reviewerID, asin, reviewText, overall, summary, unixReviewTime, reviewTime)
or the 2018 one (same fields plus verified, vote, style, image; reviewText may
be absent). reviewerID, asin and overall are required; the timestamp is
unixReviewTime, else reviewTime ("MM DD, YYYY", midnight UTC), else null.

``meta`` (optional) is the 2014 ``meta_*.json`` (one Python literal per line,
read with :func:`ast.literal_eval`) or the 2018 JSON lines file. It gives
title, description (a string, or a list of strings in 2018) and categories
(2014 ``categories``: a list of lists; 2018 ``category``: a list), flattened,
de-duplicated in order and joined with ", ". Only items that occur in the
reviews are kept; items without metadata get null title/description/categories.

Cite: J. McAuley et al., SIGIR 2015; R. He and J. McAuley, WWW 2016 (2014
release); J. Ni, J. Li and J. McAuley, EMNLP 2019 (2018 release).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from explainrec.data.adapters.common import Columns, build, flatten, ident, iter_records, join_unique, number, text, \
    value, whole
from explainrec.core.errors import InputError
from explainrec.data.schema import Dataset


def _timestamp(rec: dict, path: Path, lineno: int) -> int | None:
    if rec.get("unixReviewTime") not in (None, ""):
        return whole(rec["unixReviewTime"], "unixReviewTime", path, lineno)
    raw = rec.get("reviewTime")
    if not raw:
        return None
    try:
        day = datetime.strptime(str(raw).strip(), "%m %d, %Y").replace(tzinfo=timezone.utc)
    except ValueError:
        raise InputError(path, "reviewTime", "a date like '02 28, 2014'", got=raw, line=lineno) from None
    return int(day.timestamp())


def read_reviews(path: Path) -> pd.DataFrame:
    """The interactions of a 2014 or 2018 review file, one row per line."""
    cols = Columns("user_id", "item_id", "rating", "timestamp", "review")
    for n, rec in iter_records(path):
        cols.add(
            user_id=ident(rec, "reviewerID", path, n),
            item_id=ident(rec, "asin", path, n),
            rating=number(value(rec, "overall", path, n), "overall", path, n),
            timestamp=_timestamp(rec, path, n),
            review=text(rec.get("reviewText")),
        )
    return cols.frame()


def read_meta(path: Path, wanted: set[str]) -> pd.DataFrame:
    """title/description/categories of the items in ``wanted`` (2014 or 2018 metadata)."""
    cols = Columns("item_id", "title", "description", "categories")
    for n, rec in iter_records(path):
        asin = ident(rec, "asin", path, n)
        if asin not in wanted:
            continue
        cats = list(flatten(rec.get("categories"))) + list(flatten(rec.get("category")))
        cols.add(item_id=asin, title=text(rec.get("title")), description=text(rec.get("description")),
                 categories=join_unique(cats))
    return cols.frame()


def load(reviews: Path, meta: Path | None = None) -> Dataset:
    """Read an Amazon 5-core review file and, optionally, its metadata."""
    interactions = read_reviews(reviews)
    items = read_meta(meta, set(interactions["item_id"])) if meta is not None else None
    return build(interactions, {"interactions": reviews, "items": meta or reviews}, items=items)
