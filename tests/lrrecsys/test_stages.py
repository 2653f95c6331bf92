"""The LR-Recsys stages as dvc.yaml runs them: a bad param or a missing input is one line on stderr, exit 1,
and no output; a good run writes every output."""

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


def params() -> dict:
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["lrrecsys"] = {**p["lrrecsys"], **TINY["lrrecsys"]}
    return p


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params()))
    rng = np.random.default_rng(0)
    rows = [{"pair_id": f"{s}:u{k % 4}:i{k}", "split": s, "user_id": f"u{k % 4}", "item_id": f"i{k % 9}",
             "rating": float(rng.integers(1, 6)), "timestamp": k, "history": [f"i{(k + 1) % 9}"]}
            for k, s in enumerate(["train"] * 16 + ["test"] * 8)]
    (tmp_path / "pairs").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "pairs" / "pairs.parquet")
    emb = pd.DataFrame({"pair_id": [r["pair_id"] for r in rows], "split": [r["split"] for r in rows],
                        "positive": list(rng.normal(size=(24, 8)).astype(np.float32)),
                        "negative": list(rng.normal(size=(24, 8)).astype(np.float32))})
    (tmp_path / "emb").mkdir()
    emb.to_parquet(tmp_path / "emb" / "embeddings.parquet")
    return tmp_path


def stage(root: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPLAINREC_CACHE": str(root / "cache")}
    return subprocess.run([sys.executable, str(root / "stages" / script), *args], cwd=root, env=env,
                          capture_output=True, text=True)


def one_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr[-2000:]
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("error: ") and all(f in err for f in fragments), proc.stderr[-2000:]


TRAIN = ("lrrecsys_train.py", "--name", "lr_recsys", "--pairs", "pairs", "--embeddings", "emb", "--out", "out",
         "--metrics", "m/lr_recsys.json", "--curves", "m/curves/lr_recsys")


def test_train_writes_metrics_over_seeds(root):
    proc = stage(root, *TRAIN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads((root / "m" / "lr_recsys.json").read_text())
    assert len(m["rmse"]["per_seed"]) == 2 and {"mean", "std"} <= set(m["auc"]) and m["machine"]["cores"] >= 1
    assert len(pd.read_parquet(root / "out" / "predictions.parquet")) == 2 * 2 * 8
    assert "RMSE" in proc.stdout


def test_bad_params_and_inputs_are_one_line_and_write_nothing(root):
    p = params()
    p["lrrecsys"]["runs"]["lr_recsys"]["arch"] = "transformer"
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    one_line(stage(root, *TRAIN), "lrrecsys.runs.lr_recsys.arch", "dnn, ncf")
    p["lrrecsys"]["runs"]["lr_recsys"]["arch"] = "dnn"
    p["lrrecsys"]["explanation_sets"]["main"] = {"style": "few_shot"}
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    one_line(stage(root, "lrrecsys_explain.py", "--name", "main", "--pairs", "pairs", "--filtered", "f",
                   "--profiles", "p", "--llm", "llm.json", "--out", "x", "--metrics", "x.json"),
             "lrrecsys.explanation_sets.main.style")
    p["lrrecsys"]["explanation_sets"]["main"] = {}
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    (root / "emb" / "embeddings.parquet").unlink()
    one_line(stage(root, *TRAIN), "embeddings.parquet", "lrrecsys_embed")
    assert not (root / "out").exists() and not (root / "m").exists()


def test_embed_writes_texts_and_the_train_run_fits_an_autoencoder_per_seed(root):
    pairs = pd.read_parquet(root / "pairs" / "pairs.parquet")
    (root / "expl").mkdir()
    pd.DataFrame({"pair_id": pairs.pair_id, "split": pairs.split,
                  "positive": [f"The consumer watched this movie because of w{k}" for k in range(len(pairs))],
                  "negative": [f"The consumer did not watch this movie because of n{k}" for k in range(len(pairs))]
                  }).to_parquet(root / "expl" / "explanations.parquet")
    proc = stage(root, "lrrecsys_embed.py", "--name", "main", "--explanations", "expl", "--llm", "llm.json",
                 "--encoder", "enc", "--out", "ae", "--metrics", "m/embed_main.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (root / "ae").iterdir()) == ["autoencoder.json", "texts.parquet"]
    assert json.loads((root / "ae" / "autoencoder.json").read_text())["epochs"] == 3
    proc = stage(root, *TRAIN[:6], "ae", *TRAIN[7:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    ae = json.loads((root / "m" / "lr_recsys.json").read_text())["autoencoder"]
    first = params()["seed"]
    assert ae["fits"] == 2 and ae["texts"] == 32 and [m["seed"] for m in ae["per_seed"]] == [first, first + 1]
    assert "2 autoencoders on 32 texts each" in proc.stdout
    assert not (root / "cache" / "checkpoints" / "lrrecsys_autoencoder").exists()
