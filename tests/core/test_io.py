"""Atomic outputs: a folder appears whole or not at all, and a killed run's leftovers go."""

from __future__ import annotations

import pytest

from explainrec.core.io import atomic_dir


def test_a_failed_block_keeps_the_old_output_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "data" / "stage"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed half-way")
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in out.parent.iterdir()) == ["stage"]


def test_the_temporary_folder_of_a_killed_run_is_removed_by_the_next(tmp_path):
    out = tmp_path / "data" / "sft"
    stale = out.parent / ".sft.tmp-abc123"  # what `kill -9` during a stage leaves behind
    (stale / "model").mkdir(parents=True)
    other = out.parent / ".sft_other.tmp-x"  # another output's: not ours to remove
    other.mkdir()
    with atomic_dir(out) as tmp:
        (tmp / "loss.csv").write_text("step\n")
    assert not stale.exists() and other.exists()
    assert (out / "loss.csv").exists()
