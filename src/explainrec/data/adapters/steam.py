"""Steam reviews and games, as released by Kang & McAuley (ICDM 2018) and Wan & McAuley (RecSys 2018).

Catalogue entry: ``{format: steam, reviews: PATH, games: PATH or null}``.

Both files hold one Python literal (single quotes) per line, read with
:func:`ast.literal_eval`, never ``eval``; plain or gzip.

``reviews`` is ``australian_user_reviews.json``: one user per line,
``{'user_id', 'user_url', 'reviews': [{'item_id', 'recommend', 'posted',
'review', 'funny', 'helpful', 'last_edited'}, ...]}``. Steam has binary
feedback only: there are no star ratings, so rating = 1.0 when the user
recommends the game and 0.0 when not. The timestamp is the 'posted' date
('Posted November 5, 2011.', midnight UTC); Steam omits the year for reviews
of the current year ('Posted July 15.'), and those get a null timestamp.

``games`` (optional) is ``steam_games.json``: title = title, else app_name;
categories = genres then tags, de-duplicated in order, joined with ", ".
Game records without an 'id' (the released file has a few) cannot be joined
and are skipped; only games that occur in the reviews are kept.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.errors import InputError
from explainrec.data.adapters.common import Columns, build, flatten, ident, iter_records, join_unique, text, value
from explainrec.data.schema import Dataset

_POSTED = re.compile(r"Posted\s+([A-Za-z]+)\s+(\d{1,2})(?:,\s*(\d{4}))?\.?$")


def posted_time(raw: Any, path: Path | str = "<posted>", lineno: int | None = None) -> int | None:
    """Unix seconds of 'Posted Month D, YYYY.'; None when blank or without a year."""
    if raw in (None, ""):
        return None
    m = _POSTED.match(str(raw).strip())
    if m is None:
        raise InputError(path, "posted", "a date like 'Posted November 5, 2011.'", got=raw, line=lineno)
    month, day, year = m.groups()
    if year is None:
        return None
    try:
        when = datetime.strptime(f"{month} {day} {year}", "%B %d %Y")
    except ValueError:
        raise InputError(path, "posted", "a date like 'Posted November 5, 2011.'", got=raw, line=lineno) from None
    return int(when.replace(tzinfo=timezone.utc).timestamp())


def read_reviews(path: Path) -> pd.DataFrame:
    """The interactions of ``australian_user_reviews.json``, one row per review."""
    cols = Columns("user_id", "item_id", "rating", "timestamp", "review")
    for n, rec in iter_records(path):
        user = ident(rec, "user_id", path, n)
        reviews = rec.get("reviews") or []
        if not isinstance(reviews, list):
            raise InputError(path, "reviews", "a list of reviews", got=reviews, line=n)
        for r in reviews:
            if not isinstance(r, dict):
                raise InputError(path, "reviews", "a list of review dicts", got=r, line=n)
            recommend = value(r, "recommend", path, n)
            if not isinstance(recommend, bool):
                raise InputError(path, "recommend", "True or False", got=recommend, line=n)
            cols.add(user_id=user, item_id=ident(r, "item_id", path, n), rating=1.0 if recommend else 0.0,
                     timestamp=posted_time(r.get("posted"), path, n), review=text(r.get("review")))
    return cols.frame()


def read_games(path: Path, wanted: set[str]) -> pd.DataFrame:
    """title/categories of the games in ``wanted``."""
    cols = Columns("item_id", "title", "description", "categories")
    for n, rec in iter_records(path):
        if rec.get("id") in (None, ""):
            continue
        gid = ident(rec, "id", path, n)
        if gid in wanted:
            cats = list(flatten(rec.get("genres"))) + list(flatten(rec.get("tags")))
            cols.add(item_id=gid, title=text(rec.get("title")) or text(rec.get("app_name")), description=None,
                     categories=join_unique(cats))
    return cols.frame()


def load(reviews: Path, games: Path | None = None) -> Dataset:
    """Read the Steam user reviews and, optionally, the games file."""
    interactions = read_reviews(reviews)
    items = read_games(games, set(interactions["item_id"])) if games is not None else None
    return build(interactions, {"interactions": reviews, "items": games or reviews}, items=items)
