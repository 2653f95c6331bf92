"""The output convention: the library writes every file, the stage only picks the paths.

A stage script opens its atomic output folder (``atomic_dir``, or ``launch.outputs`` under
several processes) and hands it, or a path in it, to a library function that writes: a
method's writer, or one of :mod:`explainrec.core.io`'s atomic writers (``write_json``,
``write_parquet``, ``write_csv``, ``write_text``). It never serialises a table or a text
itself, so how a file is written lives in one place, tested with the library.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

#: calls that write a file, by their attribute name (``df.to_parquet(...)``, ``path.write_text(...)``, ...)
WRITING_METHODS = {"to_parquet", "to_csv", "to_json", "write_text", "write_bytes", "save_pretrained", "DictWriter",
                   "writer", "dump"}


def writes(source: str) -> list[str]:
    """``line: call`` for each call in ``source`` that writes a file itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        if isinstance(fn, ast.Attribute) and fn.attr in WRITING_METHODS:
            found.append(f"{node.lineno}: .{fn.attr}(...)")
        elif isinstance(fn, ast.Name) and fn.id == "open" and (
                len(node.args) > 1 or any(k.arg == "mode" for k in node.keywords)):
            found.append(f"{node.lineno}: open(..., mode)")
    return found


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "stages").glob("*.py")))
def test_a_stage_writes_through_the_library(script: str) -> None:
    found = writes((REPO / "stages" / script).read_text())
    assert not found, f"stages/{script} writes files itself (call a library writer instead): {found}"


def test_the_check_sees_a_stage_that_writes() -> None:
    source = ("def main(tmp, df):\n    df.to_parquet(tmp / 'x.parquet', index=False)\n"
              "    (tmp / 'a.json').write_text('{}')\n    with open(tmp / 'r.csv', 'w') as f:\n        pass\n"
              "    write_json(tmp / 'm.json', {})\n    df.to_dict()\n")
    assert writes(source) == ["2: .to_parquet(...)", "3: .write_text(...)", "4: open(..., mode)"]
