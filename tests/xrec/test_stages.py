"""The XRec stages as dvc.yaml runs them: bad input or a bad param is one line on stderr, exit 1, no output;
the gnn stage writes every output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.dvc_project import TINY


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["xrec"] = {**p["xrec"], **TINY["xrec"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    users = [f"u{k}" for k in range(12)]
    rows = {s: [{"user_id": u, "item_id": f"i{(k * 3 + j + off) % 10}", "rating": 4.0, "timestamp": j}
                for k, u in enumerate(users) for j in range(n)]
            for s, n, off in (("profile", 3, 0), ("train", 1, 5), ("test", 1, 7))}
    (tmp_path / "splits").mkdir()
    for s, r in rows.items():
        pd.DataFrame(r).to_parquet(tmp_path / "splits" / f"{s}.parquet")
    (tmp_path / "filtered").mkdir()
    pd.DataFrame({"item_id": [f"i{k}" for k in range(10)], "title": [f"Item {k}" for k in range(10)]}).to_parquet(
        tmp_path / "filtered" / "items.parquet")
    return tmp_path


def stage(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPLAINREC_CACHE": str(root / "cache")}
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True)


GNN = ("stages/xrec_gnn.py", "--splits", "splits", "--filtered", "filtered", "--out", "gnn", "--metrics", "m/gnn.json",
       "--curves", "m/curves/gnn")


def test_gnn_stage_writes_its_tables(root: Path):
    proc = stage(root, *GNN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    users = pd.read_parquet(root / "gnn" / "users.parquet")
    assert len(users) == 12 and users.zero_shot.sum() == 2 and len(users.embedding[0]) == 8
    m = json.loads((root / "m" / "gnn.json").read_text())
    assert m["zero_shot_users"] == 2 and m["train_edges"] + m["val_edges"] == 40  # 10 seen users x (3 + 1)
    assert "recall@5" in m["lightgcn"] and "recall@5" in m["popularity"]
    assert not (root / "gnn" / "history.csv").exists()  # the curves are DVCLive's, outside the output
    loss = pd.read_csv(root / "m" / "curves" / "gnn" / "plots" / "metrics" / "train" / "loss.tsv", sep="\t")
    assert loss["step"].tolist() == list(range(1, m["epochs"] + 1)) and loss["loss"].iloc[-1] == m["loss_last"]


def test_bad_gnn_param_is_one_line_and_no_output(root: Path):
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["xrec"]["gnn"]["combine"] = "max"
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    proc = stage(root, *GNN)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "xrec.gnn.combine" in proc.stderr and not (root / "gnn").exists() and not (root / "m").exists()


def test_an_http_llm_stops_the_adapter_stage_in_one_line(root: Path):
    (root / "llm.json").write_text(json.dumps({"name": "llama3.1", "backend": "openai", "model": "llama3.1:8b",
                                                "base_url": "http://localhost:11434/v1"}))
    proc = stage(root, "stages/xrec_moe.py", "--name", "full", "--graph", "gnn", "--profiles", "profiles",
                 "--targets", "cpeg", "--splits", "splits", "--filtered", "filtered", "--llm", "llm.json",
                 "--out", "moe", "--metrics", "m/moe.json", "--curves", "m/curves/moe")
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "served over HTTP" in last and not (root / "moe").exists()


def test_an_unknown_variant_key_names_its_path(root: Path):
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["xrec"]["variants"]["full"] = {"inject": False}
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    proc = stage(root, "stages/xrec_moe.py", "--name", "full", "--graph", "gnn", "--profiles", "profiles",
                 "--targets", "cpeg", "--splits", "splits", "--filtered", "filtered", "--llm", "llm.json",
                 "--out", "moe", "--metrics", "m/moe.json", "--curves", "m/curves/moe")
    assert proc.returncode == 1 and "xrec.variants.full.inject" in proc.stderr.strip().splitlines()[-1]


def test_zero_shot_test_only_takes_the_users_the_graph_never_sees(root: Path):
    """``xrec.sparsity.zero_shot: test_only`` (XRec's issue #6): the users with no interaction in the graph's
    splits are the zero-shot set, whatever ``zero_shot_users`` says; a user with profile items outside
    those splits gets the mean of their embeddings."""
    test = pd.read_parquet(root / "splits" / "test.parquet")
    extra = pd.DataFrame([{"user_id": u, "item_id": i, "rating": 4.0, "timestamp": 9} for u, i in
                          (("t0", "i1"), ("t0", "i2"), ("t1", "i3"), ("p0", "i4"))])
    pd.concat([test, extra]).to_parquet(root / "splits" / "test.parquet")
    profile = pd.read_parquet(root / "splits" / "profile.parquet")
    only_profile = pd.DataFrame([{"user_id": "p0", "item_id": i, "rating": 4.0, "timestamp": 0} for i in ("i0", "i5")])
    pd.concat([profile, only_profile]).to_parquet(root / "splits" / "profile.parquet")
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["xrec"]["sparsity"] = {**p["xrec"]["sparsity"], "zero_shot": "test_only", "zero_shot_users": 0.5}
    p["xrec"]["gnn"]["splits"] = ["profile", "train"]
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    proc = stage(root, *GNN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    users = pd.read_parquet(root / "gnn" / "users.parquet").set_index("user_id")
    assert set(users.index[users.zero_shot]) == {"t0", "t1"}  # p0 has profile edges in the graph
    m = json.loads((root / "m" / "gnn.json").read_text())
    assert m["zero_shot_users"] == 2 and m["zero_shot"] == "test_only"
    assert m["train_edges"] + m["val_edges"] == 12 * 4 + 2
    assert (np.stack(users.loc[["t0", "t1"], "embedding"]) == 0).all()  # no profile items: zero vectors
    # the graph learns the train split only: p0 (profile items only) is never in it, and gets its items' mean
    p["xrec"]["gnn"]["splits"] = ["train"]
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    shutil.rmtree(root / "gnn")
    proc = stage(root, *GNN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    users = pd.read_parquet(root / "gnn" / "users.parquet").set_index("user_id")
    items = pd.read_parquet(root / "gnn" / "items.parquet").set_index("item_id")
    assert set(users.index[users.zero_shot]) == {"t0", "t1", "p0"}
    np.testing.assert_allclose(users.loc["p0", "embedding"], np.mean(np.stack(items.loc[["i0", "i5"], "embedding"]), 0),
                               rtol=1e-6)
    m = json.loads((root / "m" / "gnn.json").read_text())
    assert m["train_edges"] + m["val_edges"] == 12  # 12 users x 1 train pair
