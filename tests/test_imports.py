"""The import contract of pyproject.toml ([tool.importlinter]), checked with import-linter.

No method package (profiles, cpeg, sft, lrrecsys, xrec, recpie) imports another, and the
core and the shared layers (llm, data, evaluation, assets) import no method. The second test
adds a cross-method import to a copy of the package, once at module level and once inside a
function, and expects the check to name it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([*LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_no_method_imports_another() -> None:
    result = lint(REPO, REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize("where, line", [
    ("recpie/rl.py", "from explainrec.lrrecsys import pairs  # noqa: F401\n"),
    ("xrec/moe.py", "\n\ndef _uses_cpeg():\n    from explainrec.cpeg.prompts import SYSTEM  # noqa: F401\n"),
    ("core/io.py", "\n\ndef _uses_sft():\n    import explainrec.sft.train  # noqa: F401\n"),
])
def test_a_cross_method_import_breaks_the_contract(tmp_path: Path, where: str, line: str) -> None:
    shutil.copytree(REPO / "src" / "explainrec", tmp_path / "src" / "explainrec",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "src" / "explainrec" / where, "a") as f:
        f.write(line)
    result = lint(tmp_path, tmp_path / "src")
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and " 0 broken" not in result.stdout
    target = line.split("from ")[-1].split(" import")[0] if "from " in line else line.split("import ")[1].split()[0]
    assert f"explainrec.{where.removesuffix('.py').replace('/', '.')} -> {target}" in result.stdout, result.stdout
