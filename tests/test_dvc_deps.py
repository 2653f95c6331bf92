"""Every dvc.yaml stage lists, in its deps, all the project code it runs.

The pipeline promises that only invalidated stages rerun. That holds only if
editing any file a stage executes changes one of the stage's deps. This test
reads dvc.yaml and params.yaml, expanding ``foreach`` stages into their
``name@key`` instances and substituting ``${...}`` references the way DVC
does. It then finds the ``stages/<name>.py`` scripts each cmd runs and follows
their imports statically with :mod:`ast`, so nothing is imported. Imports at
module level and inside functions both count, and so do the package
``__init__.py`` files on the way; third-party modules are ignored. Finally it
reports every project file that no dep covers.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

#: where imports are looked up, in a stage's sys.path order: the script's own folder, then the package sources
SOURCE_ROOTS = ("stages", "src")
#: a ``${a.b}`` reference to params.yaml, or to a foreach stage's ``key`` / ``item``
REFERENCE = re.compile(r"\$\{\s*([\w.-]+)\s*\}")
#: a stage script named in a cmd
SCRIPT = re.compile(r"(?<![\w/.])(?:\./)?(stages/\w+\.py)(?![\w.])")


@dataclass(frozen=True)
class Stage:
    """One stage (or foreach instance) of dvc.yaml, references substituted."""

    cmd: str
    deps: list[str]


def lookup(context: dict[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` (e.g. ``item.k``, ``sft.targets``, ``split.ratios.0``) in ``context``."""
    node: Any = context
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError(f"${{{dotted}}} is neither a params.yaml entry nor a foreach key/item")
    return node


def substitute(text: str, context: dict[str, Any]) -> str:
    return REFERENCE.sub(lambda match: str(lookup(context, match.group(1))), text)


def foreach_contexts(foreach: Any, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A foreach stage's instances, as DVC names them: instance key -> the names it defines.

    A mapping gives ``key`` and ``item``; a list gives ``item`` only, keyed by the item itself, or by
    its index when the list holds mappings or lists.
    """
    if isinstance(foreach, str):
        match = REFERENCE.fullmatch(foreach.strip())
        if match is None:
            raise ValueError(f"foreach {foreach!r} is neither a ${{...}} reference nor a literal list/mapping")
        foreach = lookup(params, match.group(1))
    if isinstance(foreach, dict):
        return {str(key): {"key": str(key), "item": item} for key, item in foreach.items()}
    composite = any(isinstance(item, (dict, list)) for item in foreach)
    return {str(index if composite else item): {"item": item} for index, item in enumerate(foreach)}


def resolve(spec: dict[str, Any], context: dict[str, Any]) -> Stage:
    cmd = spec["cmd"]
    cmd = "\n".join(cmd) if isinstance(cmd, list) else cmd
    return Stage(substitute(cmd, context), [substitute(str(dep), context) for dep in spec.get("deps", [])])


def expand_stages(dvc_yaml: dict[str, Any], params: dict[str, Any]) -> dict[str, Stage]:
    """Every stage of dvc.yaml by the name ``dvc repro`` shows: ``name``, or ``name@key`` for a foreach."""
    stages: dict[str, Stage] = {}
    for name, spec in dvc_yaml.get("stages", {}).items():
        if "foreach" in spec:
            for key, local in foreach_contexts(spec["foreach"], params).items():
                stages[f"{name}@{key}"] = resolve(spec["do"], {**params, **local})
        else:
            stages[name] = resolve(spec, params)
    return stages


def scripts(cmd: str) -> list[str]:
    """The ``stages/<name>.py`` scripts a cmd runs."""
    return SCRIPT.findall(cmd)


def module_files(module: str, root: Path) -> list[Path]:
    """The files ``import module`` executes: each enclosing package's ``__init__.py``, then the module.

    Empty when ``module`` is not one of the project's (the standard library, a third-party package).
    """
    parts = module.split(".")
    for base in (root / source for source in SOURCE_ROOTS):
        target = base.joinpath(*parts)
        found = [path for path in (target / "__init__.py", target.with_suffix(".py")) if path.is_file()]
        if found:
            packages = (base.joinpath(*parts[:i]) / "__init__.py" for i in range(1, len(parts)))
            return [path for path in packages if path.is_file()] + found[:1]
    return []


def package_of(path: Path, root: Path) -> list[str]:
    """The dotted package ``path`` belongs to, as parts (what a relative import starts from)."""
    for base in (root / source for source in SOURCE_ROOTS):
        if path.is_relative_to(base):
            return list(path.parent.relative_to(base).parts)
    return []


def imported_modules(path: Path, root: Path) -> list[str]:
    """Every module an import statement anywhere in ``path`` may load.

    ``from a import b`` may load ``a`` and, when ``b`` is a submodule, ``a.b``: both are listed and
    :func:`module_files` keeps the ones that exist.
    """
    package = package_of(path, root)
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package[:len(package) - node.level + 1] if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            modules += [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return modules


def imported_files(script: Path, root: Path) -> set[Path]:
    """``script`` and every project file it imports, transitively."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += [file for module in imported_modules(path, root) for file in module_files(module, root)]
    return seen


def covered(file: str, deps: list[str]) -> bool:
    """Whether a dep is ``file`` itself or a folder above it."""
    folders = [dep.strip().removeprefix("./").rstrip("/") for dep in deps]
    return any(file == dep or file.startswith(f"{dep}/") for dep in folders)


def missing_deps(dvc_yaml: dict[str, Any], params: dict[str, Any], root: Path) -> dict[str, list[str]]:
    """Stage name -> the repo-relative project files its scripts run that none of its deps cover."""
    missing: dict[str, list[str]] = {}
    for name, stage in expand_stages(dvc_yaml, params).items():
        files = {
            path.relative_to(root).as_posix()
            for script in scripts(stage.cmd) if (root / script).is_file()
            for path in imported_files(root / script, root)
        }
        uncovered = sorted(file for file in files if not covered(file, stage.deps))
        if uncovered:
            missing[name] = uncovered
    return missing


def problems(dvc_yaml: dict[str, Any], params: dict[str, Any], root: Path) -> list[str]:
    """One line per script a cmd runs that does not exist, and per file a stage runs but does not depend on."""
    stages = expand_stages(dvc_yaml, params)
    absent = [
        f"stage {name!r} runs {script}, which does not exist"
        for name, stage in stages.items() for script in scripts(stage.cmd) if not (root / script).is_file()
    ]
    uncovered = [
        f"stage {name!r} ({', '.join(scripts(stages[name].cmd))}) imports {file} but its deps do not cover it"
        for name, files in missing_deps(dvc_yaml, params, root).items() for file in files
    ]
    return absent + uncovered


def load(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return yaml.safe_load((root / "dvc.yaml").read_text()), yaml.safe_load((root / "params.yaml").read_text())


def test_every_stage_lists_the_code_it_imports() -> None:
    found = problems(*load(REPO), REPO)
    assert not found, "dvc.yaml deps miss code their stages run (add the file or a folder above it):\n" + \
        "\n".join(found)


# --- the check itself, on a small synthetic project --------------------------------------------------

FAKE_FILES = {
    "stages/run.py": "from common import x\n\n\ndef main():\n    from explainrec.a import f\n    return f(x)\n",
    "stages/common.py": "import json\n\nx = json.dumps(1)\n",
    "src/explainrec/__init__.py": "",
    "src/explainrec/a.py": "import click\n\n\ndef f(x):\n    from explainrec.b import g\n    return g(x)\n",
    "src/explainrec/b.py": "from .sub import c\n\n\ndef g(x):\n    return c.h(x)\n",
    "src/explainrec/sub/__init__.py": "",
    "src/explainrec/sub/c.py": "def h(x):\n    return x\n",
    "src/explainrec/unused.py": "",
}
FAKE_PARAMS = {"package": "explainrec", "variants": {"v1": {"k": 1}, "v2": {"k": 2}}}
FAKE_DVC = {"stages": {
    "whole": {"cmd": "python stages/run.py --out data/whole",
              "deps": ["stages/run.py", "stages/common.py", "src/${package}/"]},
    "each": {"foreach": "${variants}", "do": {
        "cmd": "python stages/run.py --k ${item.k} --out data/each/${key}",
        "deps": ["stages/run.py", "stages/common.py", "src/explainrec/__init__.py", "src/explainrec/a.py",
                 "src/explainrec/b.py", "src/explainrec/sub"],
    }},
}}
RUN = ["src/explainrec/__init__.py", "src/explainrec/a.py", "src/explainrec/b.py", "src/explainrec/sub/__init__.py",
       "src/explainrec/sub/c.py", "stages/common.py", "stages/run.py"]


@pytest.fixture
def fake_project(tmp_path: Path) -> Path:
    for name, text in FAKE_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def without(dvc_yaml: dict[str, Any], stage: str, dep: str) -> dict[str, Any]:
    doctored = copy.deepcopy(dvc_yaml)
    spec = doctored["stages"][stage]
    spec.get("do", spec)["deps"].remove(dep)
    return doctored


def test_imports_are_followed_into_functions_siblings_and_packages(fake_project: Path) -> None:
    files = imported_files(fake_project / "stages/run.py", fake_project)
    assert sorted(path.relative_to(fake_project).as_posix() for path in files) == RUN


def test_complete_deps_report_nothing(fake_project: Path) -> None:
    assert missing_deps(FAKE_DVC, FAKE_PARAMS, fake_project) == {}
    assert problems(FAKE_DVC, FAKE_PARAMS, fake_project) == []


@pytest.mark.parametrize(("dep", "missing"), [
    ("src/explainrec/b.py", ["src/explainrec/b.py"]),
    ("src/explainrec/__init__.py", ["src/explainrec/__init__.py"]),
    ("src/explainrec/sub", ["src/explainrec/sub/__init__.py", "src/explainrec/sub/c.py"]),
    ("stages/common.py", ["stages/common.py"]),
])
def test_a_removed_dep_is_reported(fake_project: Path, dep: str, missing: list[str]) -> None:
    doctored = without(FAKE_DVC, "each", dep)
    assert missing_deps(doctored, FAKE_PARAMS, fake_project) == {"each@v1": missing, "each@v2": missing}
    assert f"stage 'each@v1' (stages/run.py) imports {missing[0]} but its deps do not cover it" in \
        problems(doctored, FAKE_PARAMS, fake_project)


def test_a_removed_folder_dep_with_a_param_reference_is_reported(fake_project: Path) -> None:
    doctored = without(FAKE_DVC, "whole", "src/${package}/")
    assert missing_deps(doctored, FAKE_PARAMS, fake_project) == {"whole": RUN[:5]}


def test_a_script_that_does_not_exist_is_reported(fake_project: Path) -> None:
    (fake_project / "stages/run.py").rename(fake_project / "stages/renamed.py")
    assert problems(FAKE_DVC, FAKE_PARAMS, fake_project) == [
        f"stage {name!r} runs stages/run.py, which does not exist" for name in ("whole", "each@v1", "each@v2")
    ]


def test_foreach_instances_are_checked() -> None:
    dvc_yaml = {"stages": {
        "names": {"foreach": ["a", "b"], "do": {"cmd": "python stages/run.py ${item}"}},
        "rows": {"foreach": [{"x": "p"}, {"x": "q"}], "do": {"cmd": "python stages/run.py", "deps": ["d/${item.x}"]}},
    }}
    assert expand_stages(dvc_yaml, {}) == {
        "names@a": Stage("python stages/run.py a", []),
        "names@b": Stage("python stages/run.py b", []),
        "rows@0": Stage("python stages/run.py", ["d/p"]),
        "rows@1": Stage("python stages/run.py", ["d/q"]),
    }
    dvc_yaml, params = load(REPO)
    stages = expand_stages(dvc_yaml, params)
    assert {f"ablation@{key}" for key in params["ablations"]} <= set(stages)
    assert params["explainers"]["full"] in stages["evaluate@full"].deps
    assert not [name for name, stage in stages.items() if "${" in stage.cmd + "".join(stage.deps)]
