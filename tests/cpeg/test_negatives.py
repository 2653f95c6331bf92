"""Hard negatives are the true top-k never-interacted items by cosine; random ones are
disjoint, seeded and stable per pair; bad k / m are clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import ParamError
from explainrec.core.sampling import cap_pairs
from explainrec.core.seeding import stable_rng
from explainrec.cpeg.negatives import NegativeConfig, read_negatives, sample_negatives, write_negatives
from tests.cpeg import make_world, minilm_dir


@pytest.fixture(scope="module")
def encoder():
    from explainrec.core.encoder import load_encoder

    return load_encoder(str(minilm_dir()))


@pytest.fixture(scope="module")
def world():
    return make_world()


def run(world, encoder, seed=7, k=2, m=5, splits=None, **kw):
    splits = splits or {"train": world.splits["train"], "test": world.splits["test"]}
    return sample_negatives(splits, world.interactions, world.user_profiles, world.item_profiles, encoder,
                            NegativeConfig(k=k, m=m, **kw), seed)


class CountingEncoder:
    """Every text gets the same vector (all cosines tie); counts how often each text is encoded."""

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts, **kw):
        assert kw.get("normalize_embeddings") is True
        self.seen += list(texts)
        return np.ones((len(texts), 4), dtype=np.float32) / 2


class HashEncoder:
    """A distinct fixed vector per text (from its SHA-256): fast, for tests where meaning does not matter."""

    def encode(self, texts, **kw):
        import hashlib

        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:16] for t in texts]
        return np.asarray(rows, dtype=np.float32) - 127.5


def test_hard_negatives_are_the_true_top_k(world, encoder):
    neg = run(world, encoder)
    t = neg.table
    assert len(t) == len(world.splits["train"]) + len(world.splits["test"])
    # brute force: one encode call over every text, cosines by hand
    users, items = sorted(world.user_profiles), sorted(world.item_profiles)
    emb = encoder.encode([world.user_profiles[u] for u in users] + [world.item_profiles[i] for i in items])
    emb = np.asarray(emb, dtype=np.float64)
    u_emb, i_emb = emb[: len(users)], emb[len(users):]
    seen = world.interactions.groupby("user_id")["item_id"].apply(set).to_dict()
    for row in t.itertuples():
        ue = u_emb[users.index(row.user_id)]
        cos = {i: float(ue @ i_emb[j] / np.linalg.norm(ue) / np.linalg.norm(i_emb[j])) for j, i in enumerate(items)}
        free = sorted((i for i in items if i not in seen[row.user_id]), key=lambda i: (-cos[i], i))
        assert list(row.hard) == free[:2], row
        # never an interacted item, in any split (profile split included)
        assert not (set(row.hard) | set(row.random)) & seen[row.user_id]
        assert len(row.random) == 5 and len(set(row.random)) == 5
        assert not set(row.random) & set(row.hard) and row.item_id not in row.random
    m = neg.metrics
    assert m["train"]["pairs"] == len(world.splits["train"]) and m["test"]["pairs"] == len(world.splits["test"])
    assert m["train"]["cos_hard"] > m["train"]["cos_random"]


def test_ties_broken_by_item_id_and_each_profile_encoded_once(world):
    enc = CountingEncoder()
    t = run(world, enc, k=3, m=2).table
    seen = world.interactions.groupby("user_id")["item_id"].apply(set).to_dict()
    for row in t.itertuples():
        assert list(row.hard) == sorted(i for i in world.item_profiles if i not in seen[row.user_id])[:3]
    assert sorted(enc.seen) == sorted(list(world.item_profiles.values()) + list(world.user_profiles.values()))


def test_seeded_and_stable_per_pair(world):
    encoder = HashEncoder()
    a, b, c = run(world, encoder, seed=1).table, run(world, encoder, seed=1).table, run(world, encoder, seed=2).table
    pd.testing.assert_frame_equal(a, b)
    assert a["hard"].tolist() == c["hard"].tolist()
    assert a["random"].tolist() != c["random"].tolist()
    # a pair's negatives do not depend on the other pairs in the run
    one = {"train": world.splits["train"].iloc[[3]]}
    alone = run(world, encoder, seed=1, splits=one).table.iloc[0]
    same = a[(a.user_id == alone.user_id) & (a.item_id == alone.item_id)].iloc[0]
    assert list(alone.hard) == list(same.hard) and list(alone.random) == list(same.random)


def test_stable_rng_is_process_independent():
    # SHA-256 derived: a fixed value, whatever PYTHONHASHSEED is
    assert stable_rng(42, "u1", "i1").integers(0, 1 << 30) == stable_rng(42, "u1", "i1").integers(0, 1 << 30)
    assert stable_rng(42, "u1", "i1").random() != stable_rng(42, "u1", "i2").random()


def test_k_plus_m_too_large(world):
    # every user has 24 - 8 = 16 never-interacted items
    with pytest.raises(ParamError) as e:
        run(world, CountingEncoder(), k=10, m=7)
    msg = str(e.value)
    assert "negatives.k" in msg and "negatives.m" in msg and "'u0'" in msg and "16" in msg and "17" in msg


@pytest.mark.parametrize("kw,param", [({"k": -1}, "negatives.k"), ({"m": -2}, "negatives.m"),
                                      ({"k": 1.5}, "negatives.k"), ({"max_train": -1}, "negatives.max_train"),
                                      ({"k": 0, "m": 0}, "negatives.k")])
def test_bad_params(kw, param):
    with pytest.raises(ParamError, match=param.replace(".", r"\.")):
        from_section(NegativeConfig, kw, "negatives")


def test_caps_are_seeded_and_pairs_without_profiles_skipped(world):
    neg = run(world, CountingEncoder(), max_train=4, max_test=None)
    t = neg.table
    assert (t.split == "train").sum() == 4 and (t.split == "test").sum() == len(world.splits["test"])
    assert cap_pairs(world.splits["train"], 4, 7, "train").equals(cap_pairs(world.splits["train"], 4, 7, "train"))
    profiles = dict(world.user_profiles)
    del profiles["u1"]
    neg = sample_negatives({"train": world.splits["train"]}, world.interactions, profiles, world.item_profiles,
                           CountingEncoder(), NegativeConfig(), 7)
    assert "u1" not in set(neg.table.user_id) and neg.metrics["train"]["skipped_no_profile"] == 2


def test_parquet_round_trip(world, tmp_path):
    t = run(world, CountingEncoder(), k=0, m=2).table
    write_negatives(t, tmp_path / "n.parquet")
    back = read_negatives(tmp_path / "n.parquet")
    assert back["hard"].tolist() == [[]] * len(t) and back["random"].tolist() == t["random"].tolist()
    import pyarrow.parquet as pq

    assert str(pq.read_schema(tmp_path / "n.parquet").field("hard").type) == "list<element: string>"
