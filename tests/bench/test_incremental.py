"""bench/incremental.py on tiny synthetic data and a tiny random Llama: the rerun after a few new
interactions calls the LLM exactly for the prompts whose text changed, and only for those."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from explainrec.data.schema import conform
from tests.bench import load_script

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    return load_script("incremental")


class HashEncoder:
    """A distinct fixed vector per text (from its SHA-256): fast, for tests where meaning does not matter."""

    def encode(self, texts, **kw):
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:16] for t in texts]
        return np.asarray(rows, dtype=np.float32) - 127.5


def tiny_tables(n_users: int = 20, n_items: int = 16):
    """Interactions in the pattern of tests/test_pipeline.py's tiny_amazon, split 3:1:1 per user by time."""
    rows = []
    for u in range(n_users):
        for i in range(n_items):
            if (u + i) % 3 == 0 or (u * i) % 4 == 1:
                rows.append({"user_id": f"U{u:02d}", "item_id": f"B{i:03d}", "rating": float(1 + (u + i) % 5),
                             "timestamp": 1_300_000_000 + 86400 * (u * n_items + i), "review": f"review {i} by {u}"})
    inter = conform(pd.DataFrame(rows), "interactions", "tiny")
    parts = {"profile": [], "train": [], "test": []}
    for _, g in inter.groupby("user_id"):
        g = g.sort_values("timestamp")
        n = len(g)
        n_train = n_test = max(1, n // 5)
        parts["profile"].append(g.iloc[: n - n_train - n_test])
        parts["train"].append(g.iloc[n - n_train - n_test: n - n_test])
        parts["test"].append(g.iloc[n - n_test:])
    splits = {k: conform(pd.concat(v), "interactions", k) for k, v in parts.items()}
    items = conform(pd.DataFrame({"item_id": [f"B{i:03d}" for i in range(n_items)],
                                  "title": [f"Item number {i}" for i in range(n_items)],
                                  "categories": [["Strings", "Pedals", "Cables"][i % 3] for i in range(n_items)]}),
                    "items", "tiny")
    users = conform(pd.DataFrame({"user_id": [f"U{u:02d}" for u in range(n_users)]}), "users", "tiny")
    return inter, splits, items, users


def test_rerun_calls_exactly_the_changed_prompts(bench, tiny_model_dir, tmp_path):
    from explainrec.cpeg.loop import CPEGConfig
    from explainrec.cpeg.negatives import NegativeConfig
    from explainrec.llm import LLM, LLMSpec, ResponseCache
    from explainrec.llm.local import TransformersBackend
    from explainrec.profiles.pghis import ProfileConfig

    inter, splits, items, users = tiny_tables()
    inputs = bench.Inputs(splits["profile"], splits["train"], splits["test"], inter, items, users)
    cfg = bench.Configs(ProfileConfig(layers=1, neighbors=2, max_new_tokens=8),
                        NegativeConfig(k=1, m=2, max_train=6, max_test=3),
                        CPEGConfig(max_retries=1, max_new_tokens=8, seed=0), 0)
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), batch_size=8, threads=1,
                   dtype="float32", identity="test:tiny-llama")
    llm = LLM(TransformersBackend(spec), ResponseCache(tmp_path / "responses.sqlite"), progress=False)

    r = bench.run_incremental(inputs, llm, HashEncoder(), cfg, share=0.05, per_user=2, seed=3)
    first, rerun = r["first"], r["rerun"]
    assert r["change"]["users"] == 1 and r["change"]["interactions"] == 2  # 5 % of 20 users
    assert r["first_run_fresh"] and first["llm_calls"] == first["distinct_requests"]
    assert rerun["changed_prompts"] == rerun["llm_calls"] and r["agree"]
    assert 0 < rerun["llm_calls"] < first["llm_calls"]
    assert rerun["cache_hits"] == rerun["distinct_requests"] - rerun["llm_calls"]
    kinds = r["per_kind"]
    assert kinds["profiles L0 users"]["changed"] == 1  # the one user's history gained two items
    assert kinds["profiles L0 items"]["changed"] == 0  # items have metadata: their L0 prompts never read users
    assert sum(d["changed"] for d in kinds.values()) == rerun["llm_calls"]
    lines = bench.report_lines(r)
    assert any(line.startswith("rerun / first: calls ") for line in lines)
    assert lines[-1].endswith(": agree")


def test_add_interactions_picks_new_items_after_the_last(bench):
    inter, splits, items, users = tiny_tables()
    inputs = bench.Inputs(splits["profile"], splits["train"], splits["test"], inter, items, users)
    changed, added = bench.add_interactions(inputs, share=0.25, per_user=3, seed=1, rating=4.0)
    assert added["user_id"].nunique() == 5 and len(added) == 15
    for u, g in added.groupby("user_id"):
        mine = inter[inter["user_id"] == u]
        assert not set(g["item_id"]) & set(mine["item_id"])
        assert g["timestamp"].min() > mine["timestamp"].max()
    assert len(changed.profile) == len(inputs.profile) + 15 and len(changed.interactions) == len(inter) + 15
    assert changed.train is inputs.train and changed.test is inputs.test
    again = bench.add_interactions(inputs, share=0.25, per_user=3, seed=1)[1]
    pd.testing.assert_frame_equal(added, again)  # seeded
    # restricting to the first users keeps their interactions and the items they touch
    small = bench.restrict_users(inputs, 3)
    assert list(small.users["user_id"]) == ["U00", "U01", "U02"]
    assert set(small.items["item_id"]) == set(small.interactions["item_id"])


def test_configs_follow_params_yaml_and_overrides(bench):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    cfg = bench.configs_from_params(bench.apply_overrides(params, ["profiles.max_new_tokens=8",
                                                                   "negatives.max_train=4", "cpeg.max_retries=0"]))
    assert cfg.profiles.max_new_tokens == 8 and cfg.negatives.max_train == 4 and cfg.cpeg.max_retries == 0
    assert cfg.seed == params["seed"] == cfg.cpeg.seed
    assert cfg.negatives.k == params["negatives"]["k"] and cfg.cpeg.profile_layer == params["cpeg"]["profile_layer"]


def test_command_line_on_tiny_files(bench, tiny_model_dir, tmp_path):
    from explainrec.llm import LLMSpec
    from tests.cpeg import minilm_dir

    inter, splits, items, users = tiny_tables(n_users=10, n_items=12)
    for name, df in splits.items():
        (tmp_path / "splits").mkdir(exist_ok=True)
        df.to_parquet(tmp_path / "splits" / f"{name}.parquet", index=False)
    (tmp_path / "filtered").mkdir()
    for name, df in (("interactions", inter), ("items", items), ("users", users)):
        df.to_parquet(tmp_path / "filtered" / f"{name}.parquet", index=False)
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), batch_size=8, threads=1,
                   dtype="float32", identity="test:tiny-llama")
    (tmp_path / "llm.json").write_text(json.dumps(spec.to_dict()))
    params = {"seed": 5, "profiles": {"layers": 1, "neighbors": 2, "max_new_tokens": 16},
              "negatives": {"k": 1, "m": 2, "profile_layer": -1, "max_train": 4, "max_test": 2},
              "cpeg": {"max_retries": 1, "max_new_tokens": 8, "profile_layer": -1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "inc.json"
    res = CliRunner().invoke(bench.main, [
        "--params", str(tmp_path / "params.yaml"), "--splits", str(tmp_path / "splits"),
        "--filtered", str(tmp_path / "filtered"), "--encoder", str(minilm_dir()), "--llm", str(tmp_path / "llm.json"),
        "--max-users", "8", "--max-new-tokens", "8", "--users-share", "0.2", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "first run :" in res.stdout and "rerun / first: calls" in res.stdout and res.stdout.rstrip().endswith("agree")
    r = json.loads(out.read_text())
    assert r["users"] == 8 and r["change"]["users"] == 2 and r["agree"]
    assert 0 < r["rerun"]["llm_calls"] < r["first"]["llm_calls"]


def test_the_check_catches_a_rerun_that_regenerates(bench, tiny_model_dir):
    """Without a response cache every rerun prompt is generated again: the two counts disagree."""
    from explainrec.cpeg.loop import CPEGConfig
    from explainrec.cpeg.negatives import NegativeConfig
    from explainrec.llm import LLM, LLMSpec
    from explainrec.llm.local import TransformersBackend
    from explainrec.profiles.pghis import ProfileConfig

    inter, splits, items, users = tiny_tables(n_users=8, n_items=10)
    inputs = bench.Inputs(splits["profile"], splits["train"], splits["test"], inter, items, users)
    cfg = bench.Configs(ProfileConfig(layers=1, neighbors=2, max_new_tokens=8), NegativeConfig(k=1, m=2, max_train=2,
                        max_test=1), CPEGConfig(max_retries=0, max_new_tokens=8, seed=0), 0)
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), batch_size=8, threads=1,
                   dtype="float32", identity="test:tiny-llama")
    r = bench.run_incremental(inputs, LLM(TransformersBackend(spec), None, progress=False), HashEncoder(), cfg)
    assert not r["agree"] and r["rerun"]["llm_calls"] == r["rerun"]["distinct_requests"] > r["rerun"]["changed_prompts"]
    assert bench.report_lines(r)[-1].endswith(": DISAGREE")
