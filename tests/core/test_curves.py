"""The DVCLive helper: nothing for None, a folder that appears only complete, one row per step."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from explainrec.core.curves import curves, log_step, open_live


def tsv(folder: Path, name: str) -> pd.DataFrame:
    """A curve DVCLive wrote: columns ``step`` and the metric's last name part (no timestamp)."""
    return pd.read_csv(folder / "plots" / "metrics" / f"{name}.tsv", sep="\t")


def test_none_logs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_live(None) is None
    with curves(None) as live:
        assert live is None
        log_step(live, {"train/loss": 1.0}, 1)  # a no-op
    assert list(tmp_path.iterdir()) == []


def test_folder_appears_complete_with_one_row_per_step(tmp_path):
    folder = tmp_path / "metrics" / "curves" / "stage"
    with curves(folder) as live:
        for step, value in ((1, 0.5), (2, 0.25), (3, 0.125)):
            log_step(live, {"train/loss": value, "val/rmse": None if step == 2 else value * 2}, step)
        assert not folder.exists()  # written in a temporary sibling until the block ends
    assert sorted(p.name for p in folder.parent.iterdir()) == ["stage"]  # no temporary sibling left
    loss = tsv(folder, "train/loss")
    assert loss["step"].tolist() == [1, 2, 3] and loss["loss"].tolist() == [0.5, 0.25, 0.125]
    assert tsv(folder, "val/rmse")["step"].tolist() == [1, 3]  # None: not logged
    summary = json.loads((folder / "metrics.json").read_text())
    assert summary["train"]["loss"] == 0.125 and summary["val"]["rmse"] == 0.25
    assert not (folder / "dvc.yaml").exists() and not (folder / "params.yaml").exists()
    assert not (folder / "report.html").exists()


def test_an_error_leaves_no_folder_and_a_rerun_replaces_the_old_one(tmp_path):
    folder = tmp_path / "curves"
    with curves(folder) as live:
        log_step(live, {"train/loss": 9.0}, 1)
        log_step(live, {"train/loss": 8.0}, 2)
    with pytest.raises(RuntimeError), curves(folder) as live:
        log_step(live, {"train/loss": 1.0}, 1)
        raise RuntimeError("killed")
    assert tsv(folder, "train/loss")["loss"].tolist() == [9.0, 8.0]  # the complete earlier folder stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves"]
    with curves(folder) as live:
        log_step(live, {"train/loss": 1.0}, 1)
    assert tsv(folder, "train/loss")["loss"].tolist() == [1.0]
    with curves(tmp_path / "empty"):
        pass
    # declared in dvc.yaml even when nothing was logged, and not empty (git keeps no empty folder)
    assert tsv(tmp_path / "empty", "trained_steps").to_dict("list") == {"step": [0], "trained_steps": [0.0]}
    assert not (folder / "plots" / "metrics" / "trained_steps.tsv").exists()


def test_no_dvc_repository_is_opened_or_created(tmp_path, monkeypatch):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # DVCLive 3.49 would `dvc init` a bare git repo
    monkeypatch.chdir(tmp_path)
    with curves(tmp_path / "c") as live:
        log_step(live, {"train/loss": 1.0})
    assert not (tmp_path / ".dvc").exists()
