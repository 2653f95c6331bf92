"""One ablation of paper 000 (§4.3, Fig. 5): an explainer built without SFT or without PGHIS profiles.

    python stages/ablation.py --name wo_pghis --profiles data/profiles --cpeg data/cpeg --splits data/splits --base data/assets/sft_base/model --out data/ablations/wo_pghis --metrics metrics/ablations/wo_pghis.json

dvc.yaml runs it once per entry of the ``ablations`` mapping (``ablation@<name>``).
Reads ``ablations.<name>`` (sft, user_layer, item_layer), the ``sft`` and
``generate`` sections of the full model and ``seed``; writes
``<out>/explanations.parquet`` (scored by ``evaluate@<name>``), for a fine-tuned
variant also ``<out>/model/`` and ``<out>/loss.csv``, and the training and
generation statistics.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--name", required=True, help="a key of the ablations mapping")
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--cpeg", type=click.Path(path_type=Path), default=Path("data/cpeg"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--base", type=click.Path(path_type=Path), default=Path("data/assets/sft_base/model"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@one_line_errors
def main(params_path: str, name: str, profiles: Path, cpeg: Path, splits: Path, base: Path, out: Path,
         metrics: Path) -> None:
    from explainrec.config import check_section
    from explainrec.errors import ParamError
    from explainrec.io import atomic_dir, write_json
    from explainrec.sft.ablation import AblationVariant, run_ablation
    from explainrec.sft.generate import GenerateParams
    from explainrec.sft.train import SFTParams

    params = load_params(params_path)
    ablations = section(params, "ablations")
    if not isinstance(ablations, dict) or name not in ablations:
        raise ParamError("ablations", f"an entry '{name}'", sorted(ablations) if isinstance(ablations, dict) else ablations)
    variant = AblationVariant(name, **check_section(ablations[name], f"ablations.{name}",
                                                    ("sft", "user_layer", "item_layer")))
    sft = SFTParams.from_dict({k: v for k, v in (section(params, "sft") or {}).items() if k != "base_model"})
    generate = GenerateParams.from_dict(section(params, "generate"))
    with atomic_dir(out) as tmp:
        result = run_ablation(variant, profiles, cpeg, splits, base, tmp, sft, generate, int(section(params, "seed")))
    write_json(metrics, result)
    gen = result["generation"]
    click.echo(f"ablation {name}: {'fine-tuned' if variant.sft else 'base model'}, user layer {variant.user_layer}, "
               f"item layer {variant.item_layer}; {gen['pairs']} test pairs explained, "
               f"{gen['llm']['llm_calls']} generated, {gen['llm']['cache_hits']} cached, {result['seconds']} s")


if __name__ == "__main__":
    main()
