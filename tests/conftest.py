"""Shared test settings (nothing in the suite reaches the Hugging Face hub) and fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
AMAZON_MI = SHARED_DATA / "amazon-musical-instruments" / "reviews_Musical_Instruments_5.json.gz"


@pytest.fixture
def amazon_mi() -> Path:
    """The real Amazon Musical Instruments 5-core file, or a skip when it is absent."""
    if not AMAZON_MI.exists():
        pytest.skip(f"{AMAZON_MI} not present: the real review data lives in ../shared/data, outside the project")
    return AMAZON_MI


XREC = SHARED_DATA / "xrec"


@pytest.fixture(params=["amazon", "google", "yelp"])
def xrec_table(request: pytest.FixtureRequest) -> Path:
    """One of XRec's released test tables (../shared/data/xrec/<name>/tst.parquet), or a skip when absent."""
    path = XREC / request.param / "tst.parquet"
    if not path.exists():
        pytest.skip(f"{path} not present: XRec's tables live in ../shared/data/xrec, outside the project")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama (tests/tiny.py) saved once per session; tests only read it."""
    from tests.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llm") / "model")


def dvc_cmd(stage: str) -> list[str]:
    """The command dvc.yaml runs for ``stage`` (a plain stage, not a foreach one), as argv after
    ``python``: tests run a stage exactly as `dvc repro` would, paths included."""
    import shlex

    import yaml

    cmd = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][stage]["cmd"]
    argv = shlex.split(cmd)
    assert argv[0] == "python" and "${" not in cmd, cmd
    return argv[1:]


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip, with the reason, where torch sees no CUDA device (CI has none)."""
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is false here); "
                                   "run `python -m pytest -m gpu` on a machine with one")
    for item in gpu:
        item.add_marker(skip)
