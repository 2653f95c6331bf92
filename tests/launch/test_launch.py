"""``launch``: a training stage started again under ``accelerate launch`` over 2 CPU processes (gloo).

The slow tests run tests/launch/worker.py as DVC runs a stage, once with one process and once with
``--processes 2`` (which relaunches itself through :func:`explainrec.core.launch.relaunch`), and compare the
per-step train losses: XRec's loop splits each batch and sums the gradients, so its curve is the
one-process curve up to float noise; SFT goes through transformers' Trainer, whose distributed sampler
orders the examples differently, so its curve has the same steps and falls as far.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import ParamError
from explainrec.core.launch import LaunchConfig, accelerate_command, shard

REPO = Path(__file__).resolve().parents[2]
WORKER = "tests/launch/worker.py"


def test_config_validation_names_the_param() -> None:
    assert from_section(LaunchConfig, {"launcher": "accelerate", "processes": 2}, "launch").processes == 2
    with pytest.raises(ParamError, match="launcher.*one of python, accelerate"):
        from_section(LaunchConfig, {"launcher": "torchrun"}, "launch")
    with pytest.raises(ParamError, match=r"launch.processes.*1 with launcher python"):
        from_section(LaunchConfig, {"processes": 2}, "launch")


def test_command_and_shards() -> None:
    one, two = accelerate_command(1, "stages/sft.py", ["--out", "x"]), accelerate_command(2, "stages/sft.py", [])
    assert one[1:3] == ["-m", "accelerate.commands.launch"] and one[-3:] == ["stages/sft.py", "--out", "x"]
    assert "--multi_gpu" not in one and "--multi_gpu" in two and two[two.index("--num_processes") + 1] == "2"
    assert shard(list(range(5))) == list(range(5))  # one process: the whole batch


def losses(method: str, model_dir: Path, out: Path, processes: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("LOCAL_RANK", None)
    proc = subprocess.run([sys.executable, WORKER, method, str(model_dir), str(out), "--processes", str(processes)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_xrec_adapters_on_two_processes_follow_the_one_process_curve(tiny_model_dir: Path, tmp_path: Path) -> None:
    one = losses("xrec", tiny_model_dir, tmp_path / "one.json", 1)
    two = losses("xrec", tiny_model_dir, tmp_path / "two.json", 2)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert len(one["losses"]) == len(two["losses"]) == 16  # 8 epochs of 2 batches of 4
    assert two["losses"] == pytest.approx(one["losses"], abs=1e-4)  # identical to 5 decimals here
    assert one["losses"][-1] < one["losses"][0]


@pytest.mark.slow
def test_sft_on_two_processes_has_the_same_steps_and_falls_as_far(tiny_model_dir: Path, tmp_path: Path) -> None:
    one = losses("sft", tiny_model_dir, tmp_path / "one.json", 1)
    two = losses("sft", tiny_model_dir, tmp_path / "two.json", 2)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    a, b = one["losses"], two["losses"]
    assert len(a) == len(b) == 12  # 6 epochs of 2 steps (a global batch of 4: 2 per process)
    drop = a[0] - a[-1]  # 0.215 nats here; the curves differ by at most 0.009 at any step
    assert drop > 0.1 and b[0] - b[-1] > 0.5 * drop
    assert max(abs(x - y) for x, y in zip(a, b)) < 0.25 * drop
