"""Materialise the small LM that the SFT stage fine-tunes (``sft.base_model``).

    python stages/assets_sft_base.py --out data/assets/sft_base

``sft.base_model`` is independent of ``llm``, so switching the prompting LLM keeps
the same explainer base. Writes ``<out>/model/`` (a plain transformers folder)
and ``<out>/base.json``.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import OUT, load_params, one_line_errors, params_option, read_section


@click.command()
@params_option
@OUT
@one_line_errors
def sft_base(params_path: str, out: Path) -> None:
    """Write the base model of the SFT explainer (sft.base_model) as a plain folder."""
    from explainrec.assets.models import materialise_base_model
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.sft.params import SFTTrainConfig

    model = read_section(load_params(params_path), "sft", SFTTrainConfig).base_model
    with atomic_dir(out) as tmp:
        identity = materialise_base_model(model, tmp / "model")
        write_json(tmp / "base.json", {"identity": identity, "model": model})
    click.echo(f"sft base model ready: {identity}")


if __name__ == "__main__":
    sft_base()
