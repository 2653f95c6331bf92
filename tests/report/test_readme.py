"""The generated blocks of README.md and docs/*.md: each one equals what the committed metrics
give, every marker has a renderer and every renderer a marker (over all those files together),
the CLI's default files are exactly the files with blocks, and the renderers and the CLI on tiny
metrics."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from explainrec.report.readme import (RENDERERS, ReadmeError, block_files, find_blocks, main, regenerate,
                                      render_block, update_file)

REPO = Path(__file__).resolve().parents[2]
METRICS = REPO / "metrics"
#: the files `python -m explainrec.report.readme` renders by default: README.md and docs/*.md with a block
FILES = {path.relative_to(REPO).as_posix(): path for path in block_files(REPO)}
#: every (file, block name) pair of those files
BLOCKS = [(rel, b.name) for rel, path in FILES.items() for b in find_blocks(path.read_text(), rel)]


@pytest.mark.parametrize("rel,name", BLOCKS, ids=[f"{rel}:{name}" for rel, name in BLOCKS])
def test_block_matches_committed_metrics(rel: str, name: str) -> None:
    text = FILES[rel].read_text()
    lines = text.split("\n")
    copies = ["\n".join(lines[b.start:b.end + 1]) for b in find_blocks(text, rel) if b.name == name]
    expected = render_block(name, METRICS, "metrics")
    for copy in copies:
        assert copy == expected, (
            f"{rel}'s block '{name}' differs from what the committed metrics give: "
            f"run `python -m explainrec.report.readme` and commit {rel}")


@pytest.mark.parametrize("rel", list(FILES))
def test_check_passes(rel: str) -> None:
    stale = update_file(FILES[rel], METRICS, "metrics", check=True)
    assert not stale, f"stale {rel} blocks: {', '.join(stale)} (run `python -m explainrec.report.readme`)"


def test_every_marker_has_a_renderer_and_every_renderer_a_marker() -> None:
    names = {name for _, name in BLOCKS}
    assert names, "README.md and docs/*.md have no generated block"
    unknown = sorted(names - set(RENDERERS))
    unused = sorted(set(RENDERERS) - names)
    assert not unknown, f"markers without a renderer (in README.md or docs/*.md): {unknown}"
    assert not unused, f"renderers without a marker in README.md or docs/*.md: {unused}"


def test_the_default_files_are_every_file_with_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Markdown file at the top or in docs/ that holds a block is rendered by default, and the
    CLI with no FILES finds them all up to date."""
    holders = sorted(p.relative_to(REPO).as_posix() for p in [*REPO.glob("*.md"), *REPO.glob("docs/*.md")]
                     if find_blocks(p.read_text(), p.name))
    assert holders == sorted(FILES), f"files with blocks {holders}, rendered by default {sorted(FILES)}"
    assert "README.md" in FILES

    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(main, ["--check"])
    assert result.exit_code == 0, result.output
    for rel, path in FILES.items():
        n = len(find_blocks(path.read_text(), rel))
        assert f"{rel}: all {n} blocks match metrics/" in result.output


def test_changelog_has_no_generated_block() -> None:
    """CHANGELOG.md holds figures of earlier runs: labelled by commit, never regenerated."""
    assert find_blocks((REPO / "CHANGELOG.md").read_text(), "CHANGELOG.md") == []


# --- tiny metrics ------------------------------------------------------------------------------

def _write(root: Path, rel: str, data: Any) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _round(r: int, rmse: float) -> dict[str, Any]:
    return {"round": r, "rmse": rmse, "mae": 0.26, "rmse_5": 4 * rmse, "reward": 0.83 + 0.01 * r,
            "rl_reward": 0.86 if r == 0 else None, "rl_steps": 6 if r == 0 else 0, "kl": 0.05 * r,
            "coverage": 0.55, "generated": 216, "cached": 0, "train_pairs": 72, "test_pairs": 36,
            "best_epoch": 5 if r == 0 else 0, "epochs_run": 15 if r == 0 else 10,
            "recommender_change": None if r == 0 else 0.0,
            "llm": {"completion_tokens": 5000, "prompt_tokens": 50000, "seconds": 60.0},
            "seconds": {"explain": 60.0, "rl": 40.0 if r == 0 else 0.0, "recommend": 1.0,
                        "total": 101.0 if r == 0 else 61.0}}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A metrics folder with what the recpie, comparisons and lrrecsys_efficiency blocks read."""
    m = tmp_path / "metrics"
    machine = {"cpu": "Test CPU", "amx": False, "cores": 2, "threads": 2, "device": "cpu", "dtype": "float32"}
    _write(m, "recpie.json", {"rounds": [_round(0, 0.3162), _round(1, 0.3180)], "machine": machine})
    _write(m, "lrrecsys_summary.json", {"runs": {"lr_recsys": {
        "rmse": {"mean": 0.3231, "std": 0.0180}, "mae": {"mean": 0.2757, "std": 0.0111},
        "rmse_5": {"mean": 1.2926, "std": 0.0719}}}})
    vs = {k: {"diff": -0.04, "ci_low": -0.14, "ci_high": 0.04, "excludes_0": False}
          for k in ("bs_f1", "bleu_4", "r_l")}
    _write(m, "eval_summary.json", {"full": {"pairs": 16, "bs_f1": 0.51}, "wo_sft": {"pairs": 16, "vs_full": vs}})
    _write(m, "sft.json", {"targets": "cpeg"})
    _write(m, "cpeg.json", {"test": {"after_retries": {"k": 6, "n": 16}}})
    (m / "plots").mkdir()
    (m / "plots" / "lrrecsys_efficiency.csv").write_text(
        "train_percent,train_pairs,rmse,mae,auc,rmse_std,mae_std,auc_std\n"
        "50.0,36,0.3300,0.27,0.45,0.01,0.02,0.09\n100.0,72,0.3200,0.27,0.44,0.01,0.01,0.07\n")
    return m


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_recpie_block_names_its_sources_and_follows_a_changed_value(tiny: Path) -> None:
    block = render_block("recpie", tiny)
    assert block.startswith("<!-- generated: recpie -->\n\n") and block.endswith("\n\n<!-- /generated: recpie -->")
    assert "`metrics/recpie.json`, `metrics/lrrecsys_summary.json`" in block
    assert "| RecPIE round 1 (after 6 GRPO optimiser steps) | 0.3180 |" in block
    assert "+0.0018: less than LR-Recsys's own spread over seeds (± 0.0180)" in block
    assert "not measurably changed" in block and "Test CPU (no AMX, 2 cores, 2 threads, cpu, float32)" in block
    assert "Round 0's recommender stopped at epoch 5 of 15." in block
    assert ("Round 1's refit kept its best weights from epoch 0 of 10 (epoch 0: the previous round's weights" in block
            and "the weights moved by 0 (L2 norm)" in block)

    _edit(tiny / "recpie.json", lambda d: d["rounds"][1].update(rmse=0.2900, best_epoch=3, recommender_change=0.25))
    changed = render_block("recpie", tiny)
    assert "Round 1's refit kept its best weights from epoch 3 of 10; the weights moved by 0.25 (L2 norm)." in changed
    assert changed != block and "| RecPIE round 1 (after 6 GRPO optimiser steps) | 0.2900 |" in changed
    assert "-0.0262: more than LR-Recsys's own spread" in changed and "beyond the seed-to-seed spread" in changed


def test_comparison_verdict_is_derived_from_the_interval(tiny: Path) -> None:
    block = render_block("comparisons", tiny)
    assert "`wo_sft` cannot be told from `full` on any of the 3 metrics" in block
    assert "the 95 % interval [-0.1400, +0.0400] contains 0: no measurable difference" in block
    assert "0 of the 3 intervals exclude 0, on 16 test pairs" in block
    assert "10 of the 16 test pairs' (62.5 %) never verified" in block

    def below(d: dict[str, Any]) -> None:
        d["wo_sft"]["vs_full"]["bleu_4"].update(ci_high=-0.01, excludes_0=True)
    _edit(tiny / "eval_summary.json", below)
    block = render_block("comparisons", tiny)
    assert "`wo_sft` below `full` on 1 of 3" in block
    assert "BLEU-4 -0.0400, below `full`: the 95 % interval [-0.1400, -0.0100] excludes 0" in block
    assert "1 of the 3 intervals exclude 0" in block


def test_efficiency_block_reads_the_plot_csv(tiny: Path) -> None:
    block = render_block("lrrecsys_efficiency", tiny)
    assert "| 100 % | 72 | 0.3200 ± 0.0100 |" in block and "`metrics/plots/lrrecsys_efficiency.csv`" in block
    assert "RMSE falls with every step" in block


def test_a_missing_metrics_file_names_the_file_and_the_block(tiny: Path) -> None:
    (tiny / "lrrecsys_summary.json").unlink()
    with pytest.raises(ReadmeError, match=r"block 'recpie': metrics/lrrecsys_summary.json: missing"):
        render_block("recpie", tiny)


def test_a_missing_key_names_the_file_and_the_key(tiny: Path) -> None:
    _edit(tiny / "sft.json", lambda d: d.pop("targets"))
    with pytest.raises(ReadmeError, match=r"block 'comparisons': metrics/sft.json: no 'targets'"):
        render_block("comparisons", tiny)


def test_unknown_block_and_malformed_markers() -> None:
    with pytest.raises(ReadmeError, match="no renderer for block 'nope'"):
        render_block("nope", METRICS)
    with pytest.raises(ReadmeError, match=r"README.md:1: block 'recpie' is never closed"):
        find_blocks("<!-- generated: recpie -->\ntext\n")
    with pytest.raises(ReadmeError, match=r"README.md:2: '/generated: xrec' closes no open block"):
        find_blocks("<!-- generated: recpie -->\n<!-- /generated: xrec -->\n")
    with pytest.raises(ReadmeError, match="opens inside block 'recpie'"):
        find_blocks("<!-- generated: recpie -->\n<!-- generated: xrec -->\n")
    with pytest.raises(ReadmeError, match="must stand alone on its line"):
        find_blocks("see <!-- generated: recpie --> here\n")


def test_regenerate_touches_only_the_blocks(tiny: Path) -> None:
    text = "# Title\n\nbefore\n<!-- generated: recpie -->\nold\n<!-- /generated: recpie -->\nafter\n"
    new, stale = regenerate(text, tiny)
    assert stale == ["recpie"]
    assert new.startswith("# Title\n\nbefore\n<!-- generated: recpie -->\n\n| ")
    assert new.endswith("<!-- /generated: recpie -->\nafter\n")
    assert regenerate(new, tiny) == (new, [])


def test_cli_rewrites_then_checks(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tiny.parent
    monkeypatch.chdir(root)
    readme = root / "README.md"
    readme.write_text("intro\n\n<!-- generated: recpie -->\n<!-- /generated: recpie -->\n\n"
                      "<!-- generated: comparisons -->\n<!-- /generated: comparisons -->\n")
    readme.chmod(0o644)
    (root / "docs").mkdir()
    page = root / "docs" / "method.md"
    page.write_text("# A method\n\n<!-- generated: lrrecsys_efficiency -->\n<!-- /generated: lrrecsys_efficiency -->\n")
    plain = root / "docs" / "plain.md"
    plain.write_text("# No block here\n")
    runner = CliRunner()

    result = runner.invoke(main, ["--check"])
    assert result.exit_code == 1 and "stale: README.md: blocks recpie, comparisons differ" in result.output
    assert "stale: docs/method.md: block lrrecsys_efficiency differs" in result.output
    assert "plain.md" not in result.output
    assert "<!-- generated: recpie -->\n<!-- /generated: recpie -->" in readme.read_text()  # --check writes nothing

    result = runner.invoke(main, [])
    assert result.exit_code == 0, result.output
    assert "README.md: 2 of 2 blocks rewritten" in result.output
    assert "docs/method.md: 1 of 1 blocks rewritten (lrrecsys_efficiency)" in result.output
    assert "RMSE falls with every step" in page.read_text() and plain.read_text() == "# No block here\n"
    assert stat.S_IMODE(readme.stat().st_mode) == 0o644
    result = runner.invoke(main, ["--check"])
    assert result.exit_code == 0 and "docs/method.md: all 1 blocks match metrics/" in result.output

    result = runner.invoke(main, ["README.md"])  # FILES given: only those
    assert result.exit_code == 0 and "docs/method.md" not in result.output

    _edit(tiny / "recpie.json", lambda d: d["rounds"][0].update(coverage=0.6))
    before = readme.read_text()
    result = runner.invoke(main, ["--check"])
    assert result.exit_code == 1 and "block recpie differs from metrics/" in result.output
    assert readme.read_text() == before

    (tiny / "recpie.json").unlink()
    result = runner.invoke(main, ["--check"])
    assert result.exit_code == 1
    assert "error: block 'recpie': metrics/recpie.json: missing" in result.output
