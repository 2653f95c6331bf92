"""Dataset adapters: each format on a tiny inline sample, every bad input, and the real data."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pandas as pd
import pytest

from explainrec.core.errors import InputError, ParamError
from explainrec.core.io import sha256_file
from explainrec.data.adapters import FORMATS, load_dataset
from explainrec.data.adapters.movielens import from_atomic, parse_atomic
from explainrec.data.adapters.steam import posted_time

REAL_AMAZON = (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "amazon-musical-instruments"
               / "reviews_Musical_Instruments_5.json.gz")


def write_lines(path: Path, lines: list[str], gz: bool = False) -> Path:
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def jsonl(path: Path, records: list[dict], gz: bool = False) -> Path:
    return write_lines(path, [json.dumps(r) for r in records], gz)


def literals(path: Path, records: list[dict]) -> Path:
    return write_lines(path, [repr(r) for r in records])


def load(tmp_path: Path, entry: dict, name: str = "d"):
    return load_dataset(name, {name: entry}, base_dir=tmp_path)


def check_dtypes(ds) -> None:
    assert dict(ds.interactions.dtypes.astype(str)).items() >= {
        "user_id": "string", "item_id": "string", "rating": "float64", "timestamp": "Int64", "review": "string"}.items()
    assert set(ds.items.dtypes.astype(str)[["item_id", "title", "description", "categories"]]) == {"string"}
    assert str(ds.users.dtypes["user_id"]) == "string"
    # every interaction's item and user has a row
    assert set(ds.interactions.item_id) == set(ds.items.item_id)
    assert set(ds.interactions.user_id) == set(ds.users.user_id)


# ---------------------------------------------------------------- Amazon

AMAZON_2014 = [
    {"reviewerID": "U1", "asin": "A1", "reviewerName": "x", "helpful": [0, 0], "reviewText": "Great strings.",
     "overall": 5.0, "summary": "good", "unixReviewTime": 1393545600, "reviewTime": "02 28, 2014"},
    {"reviewerID": "U2", "asin": "A1", "reviewText": "", "overall": 3.0, "summary": "ok",
     "unixReviewTime": 1363392000, "reviewTime": "03 16, 2013"},
    {"reviewerID": "U1", "asin": "A2", "reviewText": "Old review.", "overall": 2.0, "summary": "meh",
     "unixReviewTime": 1300000000, "reviewTime": "03 13, 2011"},
    {"reviewerID": "U1", "asin": "A2", "reviewText": "Newer review.", "overall": 4.0, "summary": "better",
     "unixReviewTime": 1400000000, "reviewTime": "05 13, 2014"},
]
META_2014 = [
    {"asin": "A1", "title": "D'Addario Strings", "description": "Nickel wound.", "price": 4.5,
     "categories": [["Musical Instruments", "Guitars"], ["Musical Instruments", "Strings"]], "salesRank": {}},
    {"asin": "A9", "title": "Not reviewed", "categories": [["X"]]},
]


def test_amazon_2014_plain_with_literal_meta(tmp_path):
    jsonl(tmp_path / "reviews.json", AMAZON_2014)
    literals(tmp_path / "meta.json", META_2014)
    assert "'asin'" in (tmp_path / "meta.json").read_text()  # really Python literals, not JSON
    ds, prov = load(tmp_path, {"format": "amazon", "reviews": "reviews.json", "meta": "meta.json"}, "amz")
    check_dtypes(ds)
    inter = ds.interactions
    # the duplicate (U1, A2) keeps the row with the latest timestamp
    assert inter.user_id.tolist() == ["U1", "U2", "U1"]
    assert inter.item_id.tolist() == ["A1", "A1", "A2"]
    assert inter.rating.tolist() == [5.0, 3.0, 4.0]
    assert inter.timestamp.tolist() == [1393545600, 1363392000, 1400000000]
    assert inter.review[0] == "Great strings." and pd.isna(inter.review[1]) and inter.review[2] == "Newer review."
    items = ds.items.set_index("item_id")
    assert items.index.tolist() == ["A1", "A2"]  # only reviewed items; A2 has no metadata
    assert items.loc["A1", "title"] == "D'Addario Strings"
    assert items.loc["A1", "description"] == "Nickel wound."
    assert items.loc["A1", "categories"] == "Musical Instruments, Guitars, Strings"
    assert items.loc["A2"].isna().all()
    assert ds.users.user_id.tolist() == ["U1", "U2"]
    assert prov == {"dataset": "amz", "format": "amazon", "files": {
        "reviews.json": sha256_file(tmp_path / "reviews.json"), "meta.json": sha256_file(tmp_path / "meta.json")}}


def test_amazon_2018_gzip_with_json_meta(tmp_path):
    reviews = [
        {"overall": 5.0, "verified": True, "reviewTime": "11 7, 2017", "reviewerID": "R1", "asin": "B1",
         "style": {"Format:": " Hardcover"}, "reviewerName": "a", "reviewText": "Loved it", "summary": "s",
         "unixReviewTime": 1510012800, "vote": "2"},
        {"overall": 1.0, "verified": False, "reviewTime": "01 2, 2018", "reviewerID": "R2", "asin": "B2",
         "summary": "no text", "image": ["http://x"]},  # no reviewText, no unixReviewTime
    ]
    meta = [{"asin": "B1", "title": "A Book", "description": ["First part.", "", "Second part."],
             "category": ["Books", "Fiction", "Books"], "brand": "b"}]
    jsonl(tmp_path / "r.json.gz", reviews, gz=True)
    jsonl(tmp_path / "m.json", meta)
    ds = FORMATS["amazon"](reviews=tmp_path / "r.json.gz", meta=tmp_path / "m.json")
    check_dtypes(ds)
    assert ds.interactions.rating.tolist() == [5.0, 1.0]
    assert ds.interactions.timestamp.tolist() == [1510012800, 1514851200]  # 2018-01-02 from reviewTime
    assert ds.interactions.review[0] == "Loved it" and pd.isna(ds.interactions.review[1])
    items = ds.items.set_index("item_id")
    assert items.loc["B1"].tolist() == ["A Book", "First part. Second part.", "Books, Fiction"]
    assert items.loc["B2"].isna().all()


def test_amazon_gzip_detected_by_magic_bytes(tmp_path):
    jsonl(tmp_path / "reviews.json", AMAZON_2014[:1], gz=True)  # gzip content, plain suffix
    ds = FORMATS["amazon"](reviews=tmp_path / "reviews.json")
    assert ds.interactions.item_id.tolist() == ["A1"]


# ---------------------------------------------------------------- Yelp

def test_yelp_string_and_list_categories(tmp_path):
    reviews = [
        {"review_id": "r1", "user_id": "u1", "business_id": "b1", "stars": 4, "useful": 0,
         "text": "Tasty pizza.", "date": "2018-07-07 22:09:11"},
        {"review_id": "r2", "user_id": "u2", "business_id": "b2", "stars": 2.0, "text": "Slow.",
         "date": "2012-01-03 15:28:18"},
        {"review_id": "r3", "user_id": "u1", "business_id": "b3", "stars": 5, "text": "",
         "date": "2015-01-01 00:00:00"},
    ]
    business = [
        {"business_id": "b1", "name": "Pizza Place", "city": "Phoenix", "state": "AZ",
         "categories": "Restaurants, Pizza, Restaurants"},
        {"business_id": "b2", "name": "Garage", "city": "", "state": "NV", "categories": ["Automotive", "Repair"]},
        {"business_id": "b3", "name": "Nowhere", "categories": None},
        {"business_id": "b4", "name": "Unreviewed", "categories": "X"},
    ]
    jsonl(tmp_path / "review.json", reviews)
    jsonl(tmp_path / "business.json", business)
    ds, prov = load(tmp_path, {"format": "yelp", "reviews": "review.json", "business": "business.json"})
    check_dtypes(ds)
    inter = ds.interactions
    assert inter.rating.tolist() == [4.0, 2.0, 5.0]
    assert inter.timestamp.tolist() == [1531001351, 1325604498, 1420070400]
    assert inter.review.tolist()[:2] == ["Tasty pizza.", "Slow."] and pd.isna(inter.review[2])
    items = ds.items.set_index("item_id")
    assert items.index.tolist() == ["b1", "b2", "b3"]
    assert items.loc["b1"].tolist() == ["Pizza Place", "Located in Phoenix, AZ.", "Restaurants, Pizza"]
    assert items.loc["b2"].tolist() == ["Garage", "Located in NV.", "Automotive, Repair"]
    assert items.loc["b3", "title"] == "Nowhere"
    assert pd.isna(items.loc["b3", "description"]) and pd.isna(items.loc["b3", "categories"])
    assert set(prov["files"]) == {"review.json", "business.json"}


# ---------------------------------------------------------------- Steam

STEAM_USERS = [
    {"user_id": "76561197970982479", "user_url": "http://steamcommunity.com/profiles/76561197970982479",
     "reviews": [
         {"funny": "", "posted": "Posted November 5, 2011.", "last_edited": "", "item_id": "1250",
          "helpful": "No ratings yet", "recommend": True, "review": "Simple yet with great replayability."},
         {"funny": "", "posted": "Posted July 15.", "last_edited": "", "item_id": "22200",
          "helpful": "No ratings yet", "recommend": False, "review": "Not for me."},
     ]},
    {"user_id": "js41637", "user_url": "http://steamcommunity.com/id/js41637", "reviews": [
        {"funny": "", "posted": "Posted June 24, 2014.", "last_edited": "", "item_id": "1250",
         "helpful": "15 of 20 people (75%) found this review helpful", "recommend": True, "review": "Fun."}]},
    {"user_id": "nobody", "user_url": "", "reviews": []},
]
STEAM_GAMES = [
    {"publisher": "Tripwire", "genres": ["Action"], "app_name": "Killing Floor", "title": "Killing Floor",
     "tags": ["FPS", "Action", "Zombies"], "id": "1250", "developer": "Tripwire Interactive"},
    {"app_name": "Zeno Clash", "genres": ["Action", "Indie"], "id": "22200"},  # no title: app_name
    {"app_name": "No id here", "genres": ["Casual"]},  # skipped: cannot be joined
]


def test_steam_binary_feedback_and_posted_dates(tmp_path):
    literals(tmp_path / "australian_user_reviews.json", STEAM_USERS)
    literals(tmp_path / "steam_games.json", STEAM_GAMES)
    ds, _ = load(tmp_path, {"format": "steam", "reviews": "australian_user_reviews.json", "games": "steam_games.json"})
    check_dtypes(ds)
    inter = ds.interactions
    assert inter.user_id.tolist() == ["76561197970982479", "76561197970982479", "js41637"]
    assert inter.item_id.tolist() == ["1250", "22200", "1250"]
    assert inter.rating.tolist() == [1.0, 0.0, 1.0]
    assert inter.timestamp[0] == 1320451200 and pd.isna(inter.timestamp[1]) and inter.timestamp[2] == 1403568000
    assert inter.review.tolist() == ["Simple yet with great replayability.", "Not for me.", "Fun."]
    items = ds.items.set_index("item_id")
    assert items.loc["1250", "title"] == "Killing Floor"
    assert items.loc["1250", "categories"] == "Action, FPS, Zombies"
    assert items.loc["22200"].tolist()[0::2] == ["Zeno Clash", "Action, Indie"]
    assert ds.users.user_id.tolist() == ["76561197970982479", "js41637"]  # users without reviews drop out


def test_steam_posted_time():
    assert posted_time("Posted November 5, 2011.") == 1320451200
    assert posted_time("Posted July 15.") is None
    assert posted_time("") is None
    with pytest.raises(InputError, match="posted"):
        posted_time("yesterday")


# ---------------------------------------------------------------- precomputed

PRECOMPUTED = pd.DataFrame({
    "uid": [0, 0, 1], "iid": [10, 11, 10],
    "title": ["Cafe", "Bar", None],
    "user_summary": ["Likes coffee.", None, "Night owl."],
    "item_summary": [None, "A bar.", "A cafe."],
    "explanation": ["Good coffee.", "Open late.", "Quiet."],
    "rating": [5, 4, 3],
})


def check_precomputed(ds) -> None:
    check_dtypes(ds)
    inter = ds.interactions
    assert inter.user_id.tolist() == ["0", "0", "1"] and inter.item_id.tolist() == ["10", "11", "10"]
    assert inter.explanation.tolist() == ["Good coffee.", "Open late.", "Quiet."]
    assert str(inter.explanation.dtype) == "string"
    assert inter.rating.tolist() == [5.0, 4.0, 3.0]
    assert inter.timestamp.isna().all() and inter.review.isna().all()
    items = ds.items.set_index("item_id")
    assert items.loc["10", "title"] == "Cafe" and items.loc["10", "profile"] == "A cafe."
    assert items.loc["11", "title"] == "Bar" and items.loc["11", "profile"] == "A bar."
    users = ds.users.set_index("user_id")
    assert users.profile.to_dict() == {"0": "Likes coffee.", "1": "Night owl."}


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".pkl"])
def test_precomputed_formats(tmp_path, suffix):
    path = tmp_path / f"tst{suffix}"
    {".parquet": PRECOMPUTED.to_parquet, ".csv": PRECOMPUTED.to_csv, ".pkl": PRECOMPUTED.to_pickle}[suffix](
        path, **({} if suffix == ".pkl" else {"index": False}))
    entry = {"format": "precomputed", "path": path.name}
    if suffix == ".pkl":
        entry["allow_pickle"] = True
    ds, prov = load(tmp_path, entry)
    check_precomputed(ds)
    assert prov["files"] == {path.name: sha256_file(path)}


def test_precomputed_pickle_needs_allow_pickle(tmp_path):
    path = tmp_path / "tst.pkl"
    marker = tmp_path / "ran"
    # a pickle whose loading would create a file: it must never be unpickled
    path.write_bytes(pickle.dumps(_Touch(str(marker))))
    for entry in ({"format": "precomputed", "path": "tst.pkl"},
                  {"format": "precomputed", "path": "tst.pkl", "allow_pickle": False}):
        with pytest.raises(ParamError) as exc:
            load(tmp_path, entry, "xrec")
        assert exc.value.param == "datasets.xrec.allow_pickle" and exc.value.got is False
        assert "unpickling runs code" in str(exc.value)
    assert not marker.exists()


class _Touch:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_precomputed_missing_column(tmp_path):
    PRECOMPUTED.drop(columns="explanation").to_parquet(tmp_path / "t.parquet")
    with pytest.raises(InputError) as exc:
        load(tmp_path, {"format": "precomputed", "path": "t.parquet"})
    assert exc.value.field == "explanation" and "t.parquet" in str(exc.value)


# ---------------------------------------------------------------- MovieLens atomic files

def test_atomic_header_parser(tmp_path):
    (tmp_path / "x.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n22\t377\t1\t878887116\n")
    df = parse_atomic(tmp_path / "x.inter")
    assert df.columns.tolist() == ["user_id", "item_id", "rating", "timestamp"]
    assert df.user_id.tolist() == ["196", "22"] and df.rating.tolist() == [3.0, 1.0]
    assert str(df.rating.dtype) == "float64"
    (tmp_path / "bad.inter").write_text("user_id:token\trating:float\n1\t3\n2\tfive\n")
    with pytest.raises(InputError) as exc:
        parse_atomic(tmp_path / "bad.inter")
    assert exc.value.field == "rating" and exc.value.line == 3


def test_movielens_from_atomic_inline(tmp_path):
    (tmp_path / "m.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                      "1\t1\t5\t881250949\n1\t267\t3\t881250950\n")
    (tmp_path / "m.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                                     "1\tToy Story\t1995\tAnimation Children's Comedy\n"
                                     "267\tunkonwn\tunkonwn\tunknown\n")
    (tmp_path / "m.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
                                     "1\t24\tM\ttechnician\t05201\n")
    ds = from_atomic(tmp_path / "m.inter", tmp_path / "m.item", tmp_path / "m.user")
    check_dtypes(ds)
    assert ds.interactions.timestamp.tolist() == [881250949, 881250950]
    assert ds.items.title[0] == "Toy Story (1995)" and ds.items.categories[0] == "Animation, Children's, Comedy"
    assert ds.items.iloc[1, 1:].isna().all()  # RecBole's placeholder row
    user = ds.users.iloc[0]
    assert (user.age, user.gender, user.occupation, user.zip_code) == (24, "M", "technician", "05201")
    assert str(ds.users.age.dtype) == "Int64" and str(ds.users.zip_code.dtype) == "string"


def test_movielens_only_pinned_version(tmp_path):
    with pytest.raises(ParamError) as exc:
        load(tmp_path, {"format": "movielens", "package": "recbole", "version": "1.2.0"}, "ml")
    assert exc.value.param == "datasets.ml.version" and "1.2.1" in str(exc.value)


@pytest.mark.slow
def test_movielens_100k_from_recbole_wheel(tmp_path):
    ds, prov = load(tmp_path, {"format": "movielens", "package": "recbole", "version": "1.2.1"}, "ml-100k")
    check_dtypes(ds)
    assert len(ds.interactions) == 100_000 and len(ds.users) == 943 and len(ds.items) == 1682
    assert ds.interactions.rating.between(1, 5).all() and ds.interactions.timestamp.notna().all()
    toy = ds.items.set_index("item_id").loc["1"]
    assert toy.title == "Toy Story (1995)" and toy.categories == "Animation, Children's, Comedy"
    assert set(ds.users.columns) == {"user_id", "age", "gender", "occupation", "zip_code"}
    assert prov["files"]["recbole==1.2.1:recbole/dataset_example/ml-100k/ml-100k.inter"] == (
        "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff")


# ---------------------------------------------------------------- bad input

def test_malformed_json_line(tmp_path):
    path = write_lines(tmp_path / "reviews.json", [json.dumps(AMAZON_2014[0]), '{"reviewerID": "U2", "asin": oops'])
    with pytest.raises(InputError) as exc:
        load(tmp_path, {"format": "amazon", "reviews": "reviews.json"})
    msg = str(exc.value)
    assert str(path) in msg and f"{path}:2" in msg and "line" in msg and "\n" not in msg
    assert exc.value.field == "line" and exc.value.line == 2 and exc.value.got == '{"reviewerID": "U2", "asin": oops'


def test_malformed_line_in_gzip_and_non_dict_line(tmp_path):
    write_lines(tmp_path / "r.json.gz", [json.dumps(AMAZON_2014[0]), "[1, 2]"], gz=True)
    with pytest.raises(InputError, match=r"r\.json\.gz:2: field 'line'"):
        FORMATS["amazon"](reviews=tmp_path / "r.json.gz")


def test_truncated_gzip(tmp_path):
    data = gzip.compress(("\n".join(json.dumps(r) for r in AMAZON_2014 * 50)).encode())
    (tmp_path / "r.json.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="gzip"):
        FORMATS["amazon"](reviews=tmp_path / "r.json.gz")


@pytest.mark.parametrize("field", ["reviewerID", "asin", "overall"])
def test_missing_required_field(tmp_path, field):
    bad = {k: v for k, v in AMAZON_2014[1].items() if k != field}
    jsonl(tmp_path / "reviews.json", [AMAZON_2014[0], bad])
    with pytest.raises(InputError) as exc:
        FORMATS["amazon"](reviews=tmp_path / "reviews.json")
    assert exc.value.field == field and exc.value.line == 2 and f"reviews.json:2: field '{field}'" in str(exc.value)


@pytest.mark.parametrize("fmt,field,record", [
    ("amazon", "overall", {"reviewerID": "U", "asin": "A", "overall": "five"}),
    ("amazon", "overall", {"reviewerID": "U", "asin": "A", "overall": float("nan")}),
    ("yelp", "stars", {"user_id": "u", "business_id": "b", "stars": [4]}),
    ("amazon", "unixReviewTime", {"reviewerID": "U", "asin": "A", "overall": 4, "unixReviewTime": "soon"}),
    ("yelp", "date", {"user_id": "u", "business_id": "b", "stars": 4, "date": "last week"}),
])
def test_bad_values(tmp_path, fmt, field, record):
    jsonl(tmp_path / "r.json", [record])
    with pytest.raises(InputError) as exc:
        FORMATS[fmt](reviews=tmp_path / "r.json")
    assert exc.value.field == field and exc.value.line == 1


def test_steam_bad_recommend(tmp_path):
    literals(tmp_path / "r.json", [{"user_id": "u", "reviews": [{"item_id": "1", "recommend": "yes"}]}])
    with pytest.raises(InputError, match="field 'recommend'"):
        FORMATS["steam"](reviews=tmp_path / "r.json")


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_empty_file(tmp_path, content):
    (tmp_path / "r.json").write_bytes(content)
    for fmt in ("amazon", "yelp", "steam"):
        with pytest.raises(InputError) as exc:
            FORMATS[fmt](reviews=tmp_path / "r.json")
        assert exc.value.field == "rows" and "at least one interaction" in str(exc.value)


def test_empty_precomputed_table(tmp_path):
    PRECOMPUTED.iloc[:0].to_parquet(tmp_path / "t.parquet")
    with pytest.raises(InputError, match="at least one interaction"):
        load(tmp_path, {"format": "precomputed", "path": "t.parquet"})


def test_unknown_dataset_name(tmp_path):
    catalogue = {"ml-100k": {"format": "movielens"}, "amazon-mi": {"format": "amazon", "reviews": "r.json"}}
    with pytest.raises(ParamError) as exc:
        load_dataset("yelp", catalogue, tmp_path)
    assert exc.value.param == "dataset" and "one of amazon-mi, ml-100k" in str(exc.value) and "'yelp'" in str(exc.value)


def test_unknown_format_and_key(tmp_path):
    with pytest.raises(ParamError) as exc:
        load(tmp_path, {"format": "netflix", "path": "x"}, "n")
    assert exc.value.param == "datasets.n.format"
    assert "one of movielens, amazon, yelp, steam, precomputed" in str(exc.value)
    with pytest.raises(ParamError) as exc:
        load(tmp_path, {"format": "amazon", "reviews": "r.json", "metadata": "m.json"}, "a")
    assert exc.value.param == "datasets.a.metadata" and "reviews, meta" in str(exc.value)


def test_missing_path_key_and_bad_option(tmp_path):
    with pytest.raises(ParamError) as exc:
        load(tmp_path, {"format": "yelp", "business": "b.json"}, "y")
    assert exc.value.param == "datasets.y.reviews"
    (tmp_path / "t.pkl").write_bytes(b"")
    with pytest.raises(ParamError) as exc:
        load(tmp_path, {"format": "precomputed", "path": "t.pkl", "allow_pickle": "yes"}, "p")
    assert exc.value.param == "datasets.p.allow_pickle"


def test_missing_file(tmp_path):
    jsonl(tmp_path / "r.json", AMAZON_2014)
    with pytest.raises(InputError) as exc:
        load(tmp_path, {"format": "amazon", "reviews": "r.json", "meta": "data/meta.json"})
    assert exc.value.field == "meta" and "an existing file" in str(exc.value)
    assert str(tmp_path / "data" / "meta.json") in str(exc.value)


# ---------------------------------------------------------------- real data

def test_real_amazon_musical_instruments():
    if not REAL_AMAZON.is_file():
        pytest.skip(f"{REAL_AMAZON} not present: real Amazon data lives in ../shared/data, outside the project")
    ds, prov = load_dataset("amazon-mi", {"amazon-mi": {"format": "amazon", "reviews": str(REAL_AMAZON)}})
    check_dtypes(ds)
    inter = ds.interactions
    assert len(inter) == 10_261 and len(ds.users) == 1_429 and len(ds.items) == 900
    assert inter.user_id.nunique() == 1_429 and inter.item_id.nunique() == 900
    assert inter.rating.between(1, 5).all() and set(inter.rating) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert inter.review.notna().mean() > 0.99 and inter.timestamp.notna().all()
    assert list(prov["files"].values()) == ["03f9cc27ae13a454cb4ea6cb620fb10546cc1194ef921441d1c5f34addff2748"]
