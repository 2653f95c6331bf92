"""Materialise the language model and the sentence encoder (no hub downloads).

    python stages/assets.py llm --out data/assets/llm
    python stages/assets.py encoder --out data/assets/encoder
    python stages/assets.py sft-base --out data/assets/sft_base

``llm`` reads ``llm`` and ``llms`` from params.yaml and writes
``<out>/llm.json`` (the resolved catalogue entry and its identity) plus, for
the bundled SmolLM2-135M-Instruct, ``<out>/model/``. ``encoder`` writes the
all-MiniLM-L6-v2 sentence-transformers folder and ``<out>/encoder.json``.
``sft-base`` writes the small LM that the SFT stage fine-tunes (``sft.base_model``,
independent of ``llm``, so switching the prompting LLM keeps the same explainer
base) to ``<out>/model/``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from common import load_params, one_line_errors, section


@click.group()
def cli() -> None:
    """Model assets."""


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/assets/llm"), show_default=True)
@click.option("--select", default="llm", show_default=True,
              help="the params key that names the llms entry, dotted for a nested one (e.g. evaluate.judge)")
@one_line_errors
def llm(params_path: str, out: Path, select: str) -> None:
    """Resolve the selected LLM, check it can be reached, and record its identity."""
    from explainrec.assets.models import materialise_llm
    from explainrec.io import atomic_dir
    from explainrec.llm.spec import resolve_llm

    params = load_params(params_path)
    name: object = params
    for part in select.split("."):
        name = section(name if isinstance(name, dict) else {}, part)
    spec = resolve_llm(name, section(params, "llms"), select)
    with atomic_dir(out) as tmp:
        resolved = materialise_llm(spec, tmp)
        if resolved.model.startswith(tmp.as_posix()):  # bundled model: record its final place
            resolved = replace(resolved, model=(out / "model").as_posix())
        (tmp / "llm.json").write_text(json.dumps(resolved.to_dict(), indent=2, sort_keys=True) + "\n")
    click.echo(f"llm '{spec.name}' ready: {resolved.identity}")


@cli.command("sft-base")
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/assets/sft_base"), show_default=True)
@one_line_errors
def sft_base(params_path: str, out: Path) -> None:
    """Write the base model of the SFT explainer (sft.base_model) as a plain folder."""
    from explainrec.assets.models import materialise_base_model
    from explainrec.errors import ParamError
    from explainrec.io import atomic_dir

    model = section(load_params(params_path), "sft").get("base_model")
    if not isinstance(model, str) or not model:
        raise ParamError("sft.base_model", "bundled:smollm2-135m, a local model folder or a hub id", model)
    with atomic_dir(out) as tmp:
        identity = materialise_base_model(model, tmp / "model")
        (tmp / "base.json").write_text(json.dumps({"identity": identity, "model": model}, indent=2) + "\n")
    click.echo(f"sft base model ready: {identity}")


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/assets/encoder"), show_default=True)
@one_line_errors
def encoder(out: Path) -> None:
    """Copy the bundled all-MiniLM-L6-v2 sentence encoder, sha256-checked."""
    from explainrec.assets.models import materialise_encoder
    from explainrec.io import atomic_dir

    with atomic_dir(out) as tmp:
        identity = materialise_encoder(tmp)
        (tmp / "encoder.json").write_text(json.dumps({"identity": identity, "path": out.as_posix()}, indent=2) + "\n")
    click.echo(f"encoder ready: {identity}")


if __name__ == "__main__":
    cli()
