"""The negatives and cpeg stage commands end to end on a tiny on-disk setup (the
real MiniLM encoder; a tiny random Llama, whose junk answers exercise parse failures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.cpeg import make_world, minilm_dir, write_world
from tests.tiny import build_tiny_model

NEG_ARGS = ["--splits", "data/splits", "--filtered", "data/filtered", "--profiles", "data/profiles",
            "--encoder", str(minilm_dir()), "--out", "data/negatives", "--metrics", "metrics/negatives.json"]
CPEG_ARGS = ["--negatives", "data/negatives", "--splits", "data/splits", "--filtered", "data/filtered",
                "--profiles", "data/profiles", "--llm", "llm.json", "--out", "data/cpeg",
                "--metrics", "metrics/cpeg.json"]


def stage(root: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPLAINREC_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py"), *args], cwd=root,
                          capture_output=True, text=True, env=env)


def write_params(root: Path, negatives: dict | None = None, cpeg: dict | None = None) -> None:
    params = {"seed": 5,
              "negatives": {"k": 2, "m": 3, "profile_layer": -1, "max_train": None, "max_test": 4, **(negatives or {})},
              "cpeg": {"max_retries": 1, "max_new_tokens": 12, "profile_layer": -1, "max_review_chars": 300,
                       "max_profile_chars": None, **(cpeg or {})}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cpeg-stages")
    write_world(make_world(), root)
    write_params(root)
    from explainrec.llm import LLMSpec

    model = build_tiny_model(root / "tiny")
    spec = LLMSpec(name="tiny", backend="transformers", model=str(model), identity="test:tiny", threads=1,
                   batch_size=8)
    (root / "llm.json").write_text(json.dumps(spec.to_dict()))
    return root


def test_negatives_then_cpeg(root: Path) -> None:
    proc = stage(root, "negatives", *NEG_ARGS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("negatives: train 12 pairs, test 4 pairs")
    neg = pd.read_parquet(root / "data/negatives/negatives.parquet")
    assert list(neg.columns) == ["split", "user_id", "item_id", "hard", "random"] and len(neg) == 16
    assert all(len(h) == 2 and len(r) == 3 for h, r in zip(neg.hard, neg.random))
    m = json.loads((root / "metrics/negatives.json").read_text())
    assert m["train"]["pairs"] == 12 and m["test"]["pairs"] == 4 and "cos_hard" in m["train"]

    proc = stage(root, "cpeg", *CPEG_ARGS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("cpeg (likelihood): train 12 pairs") and proc.stdout.count("\n") == 1
    out = pd.read_parquet(root / "data/cpeg/explanations.parquet")
    assert list(out.columns) == ["split", "user_id", "item_id", "candidates", "choice", "attempts", "success",
                                 "explanation", "verified", "parse_failures", "choice_probability"]
    # likelihood mode: every attempt picked one of the candidates, with its probability
    assert out.choice.notna().all() and all(c in cs for c, cs in zip(out.choice, out.candidates))
    assert out.choice_probability.between(0, 1).all()
    assert len(out) == 16 and out.attempts.between(1, 2).all() and (out.success == out.verified).all()
    assert all(sorted(c) == sorted([i, *h, *r]) for c, i, h, r in
               zip(out.candidates, out.item_id, neg.hard, neg.random))
    em = json.loads((root / "metrics/cpeg.json").read_text())
    for s in ("train", "test"):
        assert {"pairs", "first_try_accuracy", "accuracy_after_retries", "mean_attempts", "parse_failures",
                "unverified_share", "first_try", "after_retries", "per_try"} <= set(em[s])
        lo, hi = em[s]["first_try"]["ci_low"], em[s]["first_try"]["ci_high"]
        assert lo <= em[s]["first_try"]["rate"] <= hi and em[s]["first_try"]["chance"] == round(1 / 6, 4)
        assert em[s]["unreadable_possible"] is False
    assert em["choice"] == "likelihood" and "choice_notice" not in em
    # per attempt: one scoring and one explanation
    assert em["llm"]["llm_calls"] > 0 and em["llm"]["requests"] == 2 * int(out.attempts.sum())
    assert em["llm"]["scored"] == int(out.attempts.sum())

    # a rerun (e.g. after a kill) generates nothing: every call is in the cache
    proc = stage(root, "cpeg", *CPEG_ARGS)
    assert proc.returncode == 0, proc.stderr
    again = json.loads((root / "metrics/cpeg.json").read_text())
    assert again["llm"]["llm_calls"] == 0 and again["llm"]["cache_hits"] == em["llm"]["requests"]
    pd.testing.assert_frame_equal(out, pd.read_parquet(root / "data/cpeg/explanations.parquet"))


@pytest.mark.parametrize("name,negatives,cpeg,fragments", [
    ("negatives", {"k": 10, "m": 9}, None, ["negatives.k", "negatives.m", "only 16 never-interacted"]),
    ("negatives", {"m": -1}, None, ["negatives.m", "an integer >= 0"]),
    ("negatives", {"q": 1}, None, ["negatives.q", "one of the keys"]),
    ("cpeg", None, {"max_retries": -1}, ["cpeg.max_retries"]),
])
def test_bad_params_one_line(tmp_path: Path, name, negatives, cpeg, fragments) -> None:
    write_world(make_world(), tmp_path)
    write_params(tmp_path, negatives, cpeg)
    (tmp_path / "data/negatives").mkdir(parents=True)
    args = NEG_ARGS if name == "negatives" else CPEG_ARGS
    proc = stage(tmp_path, name, *args)
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for f in fragments:
        assert f in err, err
    out = "data/negatives/negatives.parquet" if name == "negatives" else "data/cpeg"
    assert not (tmp_path / out).exists() and not list(tmp_path.rglob(".*.tmp-*"))
