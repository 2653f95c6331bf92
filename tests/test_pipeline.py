"""End to end: the real dvc.yaml and stages, run by dvc in a temporary git repo.

Checks what a user relies on: a first ``dvc repro`` runs every stage, a second
runs nothing, a param change reruns exactly the stages that read it, and
switching the LLM reruns only the LLM-dependent stages.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.tiny import build_tiny_model

pytestmark = pytest.mark.slow


def tiny_amazon(path: Path, n_users: int = 12, n_items: int = 10) -> None:
    lines = []
    for u in range(n_users):
        for i in range(n_items):
            if (u + i) % 3 == 0 or (u * i) % 4 == 1:
                lines.append(json.dumps({"reviewerID": f"U{u}", "asin": f"B{i:03d}", "overall": float(1 + (u + i) % 5),
                                         "reviewText": f"review of item {i} by user {u}", "summary": "ok",
                                         "unixReviewTime": 1_300_000_000 + 86400 * (u * n_items + i)}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, "-m", "dvc", *args, check=check)


def ran(proc: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"Running stage '([\w@.-]+)'", proc.stdout + proc.stderr))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "stages", root / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    tiny = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    tiny_amazon(root / "data" / "external" / "tiny.json")
    params = yaml.safe_load((root / "params.yaml").read_text())
    entry = {"backend": "transformers", "model": str(tiny), "device": "cpu", "dtype": "float32", "batch_size": 4}
    params["llms"] = {"tiny-a": entry, "tiny-b": {**entry, "temperature": 0.7}}
    params["llm"] = "tiny-a"
    params["datasets"] = {"tiny": {"format": "amazon", "reviews": "data/external/tiny.json"}}
    params["dataset"] = "tiny"
    params["filter"] = {"user_core": 2, "item_core": 2, "max_users": None, "max_items": None}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "ci@example.invalid")
    run(root, "git", "config", "user.name", "ci")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    return root


def set_param(root: Path, dotted: str, value: object) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))


def test_repro_reruns_only_what_changed(project: Path) -> None:
    first = dvc(project, "repro")
    assert ran(first) == {"assets_llm", "assets_encoder", "raw", "filter", "split"}
    data = json.loads((project / "metrics" / "data.json").read_text())
    assert data["all"]["interactions"] == sum(data[s]["interactions"] for s in ("profile", "train", "test"))
    assert json.loads((project / "data/assets/llm/llm.json").read_text())["identity"].startswith("local:")

    assert ran(dvc(project, "repro")) == set()
    assert json.loads(dvc(project, "status", "--json").stdout) == {}

    set_param(project, "split.method", "temporal")
    assert ran(dvc(project, "repro")) == {"split"}

    set_param(project, "filter.max_users", 8)  # changes the filtered data, so split follows
    assert ran(dvc(project, "repro")) == {"filter", "split"}

    set_param(project, "filter.item_core", 1)  # same data as before: split is not rerun
    assert ran(dvc(project, "repro")) == {"filter"}

    set_param(project, "seed", 7)  # read by filter and split only
    assert ran(dvc(project, "repro")) == {"filter", "split"}


def test_switching_llm_reruns_only_llm_stages(project: Path) -> None:
    dvc(project, "repro")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "baseline")
    exp = dvc(project, "exp", "run", "-S", "llm=tiny-b")
    assert ran(exp) == {"assets_llm"}
    assert json.loads((project / "data/assets/llm/llm.json").read_text())["temperature"] == 0.7

    bad = dvc(project, "exp", "run", "-S", "llm=nope", check=False)
    assert bad.returncode != 0
    assert "param 'llm': expected one of tiny-a, tiny-b, got 'nope'" in bad.stdout + bad.stderr
