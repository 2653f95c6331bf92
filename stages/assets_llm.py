"""Resolve an LLM of the ``llms`` catalogue and materialise it (no hub downloads).

    python stages/assets_llm.py --out data/assets/llm
    python stages/assets_llm.py --select evaluate.judge --out data/assets/judge

Reads the selector (``llm``, or the key ``--select`` names) and ``llms`` from
params.yaml and writes ``<out>/llm.json`` (the resolved catalogue entry and its
identity) plus, for the bundled SmolLM2-135M-Instruct, ``<out>/model/``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from common import OUT, load_params, one_line_errors, params_option, section


@click.command()
@params_option
@OUT
@click.option("--select", default="llm", show_default=True,
              help="the params key that names the llms entry, dotted for a nested one (e.g. evaluate.judge)")
@one_line_errors
def llm(params_path: str, out: Path, select: str) -> None:
    """Resolve the selected LLM, check it can be reached, and record its identity."""
    from explainrec.assets.models import materialise_llm
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.llm.spec import resolve_llm

    params = load_params(params_path)
    spec = resolve_llm(section(params, select), section(params, "llms"), select)
    with atomic_dir(out) as tmp:
        resolved = materialise_llm(spec, tmp)
        if resolved.model.startswith(tmp.as_posix()):  # bundled model: record its final place
            resolved = replace(resolved, model=(out / "model").as_posix())
        write_json(tmp / "llm.json", resolved.to_dict())
    click.echo(f"llm '{spec.name}' ready: {resolved.identity}")


if __name__ == "__main__":
    llm()
