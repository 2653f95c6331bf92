"""Generate an explanation for every test pair with the fine-tuned model.

    python stages/generate.py --model data/sft/model --profiles data/profiles --cpeg data/cpeg --splits data/splits --out data/generate --metrics metrics/generate.json

Reads the ``generate`` section (max_new_tokens, batch_size, user_layer,
item_layer, ...) and, from the ``sft`` section, ``targets`` and
``include_unverified`` (which references exist). Writes
``<out>/explanations.parquet`` (user_id, item_id, explanation, reference), which
``evaluate@full`` scores, and the generation statistics. Answers are cached by
the model folder's content hash, so a rerun with the same weights generates nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--model", type=click.Path(path_type=Path), default=Path("data/sft/model"), show_default=True)
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--cpeg", type=click.Path(path_type=Path), default=Path("data/cpeg"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/generate"), show_default=True)
@click.option("--metrics", type=click.Path(path_type=Path), default=Path("metrics/generate.json"), show_default=True)
@one_line_errors
def main(params_path: str, model: Path, profiles: Path, cpeg: Path, splits: Path, out: Path, metrics: Path) -> None:
    from explainrec.errors import ParamError
    from explainrec.io import atomic_dir, write_json
    from explainrec.sft.data import TARGETS
    from explainrec.sft.generate import GenerateParams, run_generate

    params = load_params(params_path)
    cfg = GenerateParams.from_dict(section(params, "generate"))
    sft = section(params, "sft") or {}
    targets, include_unverified = sft.get("targets", "cpeg"), sft.get("include_unverified", False)
    if targets not in TARGETS:
        raise ParamError("sft.targets", f"one of {', '.join(TARGETS)}", targets)
    if not isinstance(include_unverified, bool):
        raise ParamError("sft.include_unverified", "true or false", include_unverified)
    with atomic_dir(out) as tmp:
        result = run_generate(model, profiles, cpeg, splits, tmp, cfg, targets, include_unverified)
    write_json(metrics, result)
    click.echo(f"generate: {result['pairs']} pairs, {result['empty_explanations']} empty; "
               f"{result['llm']['llm_calls']} generated, {result['llm']['cache_hits']} cached, {result['seconds']} s")


if __name__ == "__main__":
    main()
