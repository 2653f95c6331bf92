"""bench/llm_throughput.py: every mode on the tiny model, float32 batched = the plain loop,
a clear message for a missing default model, and (slow) the served mode."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.bench import BENCH_DIR, load_script

BENCH = BENCH_DIR / "llm_throughput.py"


def load_bench():
    return load_script("llm_throughput")


def run(args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(BENCH), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_missing_default_model(tmp_path):
    r = run([], tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "dvc repro assets_llm" in lines[0]


def test_every_mode_on_tiny_model(tiny_model_dir, tmp_path):
    bench = load_bench()
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(bench.main, ["--model", str(tiny_model_dir), "--n", "5", "--max-new-tokens", "6",
                                          "--batch-size", "2", "--threads", "1", "--no-server", "--json", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    for mode in bench.MODES:
        assert sum(line.startswith(f"({mode}) ") for line in lines) == 1, (mode, res.stdout)
    by_mode = {line.split()[0].strip("()"): line for line in lines if line.startswith("(") and ":" in line}
    assert "skipped: --no-server was given" in by_mode["c"] and "skipped: --no-server was given" in by_mode["d"]
    for mode in ("a", "b", "b32"):
        assert "tok/s" in by_mode[mode] and "identical to (a):" in by_mode[mode]
    assert "identical to (a): 5/5" in by_mode["a"] and "identical to (a): 5/5" in by_mode["b32"]
    assert "float32" in by_mode["b32"] and "batching (b32)/(a)" in res.stdout and "peak RSS: bench process" in res.stdout
    # without prefix reuse and row dropping: the same tokens, and the ratio printed
    assert "identical to (a): 5/5" in by_mode["b0"] and "identical outputs (b32) vs (b0): 5/5" in res.stdout
    assert lines[0].startswith("machine: ") and "AMX" in lines[0]

    r = json.loads(out.read_text())
    assert set(r["modes"]) == set(bench.MODES)
    a, b, b32 = r["modes"]["a"], r["modes"]["b"], r["modes"]["b32"]
    assert a["dtype"] == "float32" and b32["dtype"] == "float32" and b["dtype"] in ("float32", "bfloat16")
    assert a["tokens"] == b32["tokens"] > 0 and a["ratio_to_a"] == pytest.approx(1.0)
    assert b32["identical_to_a"] == 5 and r["texts"]["b32"] == r["texts"]["a"] == r["texts"]["b0"]
    assert r["machine"]["cores"] >= 1 and isinstance(r["machine"]["amx"], bool)
    assert r["modes"]["c"]["skipped"] and r["modes"]["d"]["skipped"] and r["server_peak_rss_mib"] is None
    assert r["bench_peak_rss_mib"] > 0


def test_llama_cpp_skip_reason(tmp_path):
    bench = load_bench()
    why = bench.llama_cpp_unavailable(None)
    if importlib.util.find_spec("llama_cpp") is None:
        assert "llama_cpp package is not installed" in why
    else:
        assert "--gguf" in why
    assert bench.find_gguf(str(tmp_path), None) is None
    (tmp_path / "m.gguf").write_bytes(b"")
    assert bench.find_gguf(str(tmp_path), None) == str(tmp_path / "m.gguf")


@pytest.mark.slow
def test_bench_with_server_on_tiny_model(tiny_model_dir, tmp_path):
    pytest.importorskip("fastapi", reason="needs transformers[serving]")
    pytest.importorskip("uvicorn", reason="needs transformers[serving]")
    out = tmp_path / "bench.json"
    r = run(["--model", str(tiny_model_dir), "--n", "6", "--max-new-tokens", "8", "--batch-size", "3",
             "--threads", "1", "--concurrency", "3", "--json", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(a)   plain transformers" in r.stdout and "peak RSS" in r.stdout
    rep = json.loads(out.read_text())
    c = rep["modes"]["c"]
    assert c["skipped"] is None, c["skipped"]
    assert c["tokens"] > 0 and rep["server_peak_rss_mib"] > 0
    assert rep["modes"]["a"]["tokens"] == rep["modes"]["b32"]["tokens"] == 48  # 6 prompts x 8 tokens
    assert rep["modes"]["b32"]["identical_to_a"] == 6
