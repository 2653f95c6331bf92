"""bench/llm_throughput.py runs on the tiny model and explains a missing default model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "llm_throughput.py"


def run(args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(BENCH), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_missing_default_model(tmp_path):
    r = run([], tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "dvc repro assets_llm" in lines[0]


@pytest.mark.slow
def test_bench_on_tiny_model(tiny_model_dir, tmp_path):
    r = run(["--model", str(tiny_model_dir), "--n", "6", "--max-new-tokens", "8", "--batch-size", "3",
             "--threads", "1"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(a) one at a time" in r.stdout and "ratio b/a" in r.stdout and "peak RSS" in r.stdout
    assert "48 tokens" in r.stdout  # 6 prompts x 8 tokens, counted in both runs
    assert "identical outputs: 6/6" in r.stdout
