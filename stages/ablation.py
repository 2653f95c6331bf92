"""One ablation of paper 000 (§4.3, Fig. 5): an explainer built without SFT or without PGHIS profiles.

    python stages/ablation.py --name wo_pghis --profiles data/profiles --targets data/cpeg --filtered data/filtered --base data/assets/sft_base/model --out data/ablations/wo_pghis --metrics metrics/ablations/wo_pghis.json --curves metrics/curves/ablation/wo_pghis

dvc.yaml runs it once per entry of the ``ablations`` mapping (``ablation@<name>``).
Reads ``ablations.<name>`` (sft, user_layer, item_layer), the ``sft`` and
``generate`` sections of the full model and ``seed``; writes
``<out>/explanations.parquet`` (scored by ``evaluate@<name>``), for a fine-tuned
variant also ``<out>/model/`` and its fine-tuning curves (DVCLive, ``<curves>/plots/metrics/loss.tsv``,
``eval/loss.tsv``, ... per trainer step; a variant without fine-tuning leaves the folder empty of plots),
and the training and generation statistics.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import BASE, CURVES, FILTERED, METRICS, OUT, PROFILES, TARGETS, load_params, one_line_errors, params_option, read_section, \
    seed


@click.command()
@params_option
@click.option("--name", required=True, help="a key of the ablations mapping")
@PROFILES
@TARGETS
@FILTERED
@BASE
@OUT
@METRICS
@CURVES
@one_line_errors
def main(params_path: str, name: str, profiles: Path, targets: Path, filtered: Path,
         base: Path, out: Path, metrics: Path, curves: Path) -> None:
    from explainrec.core.curves import curves as open_curves
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.experiments.ablation import AblationVariant, run_ablation
    from explainrec.sft.params import SFTGenerateConfig, SFTTrainConfig

    params = load_params(params_path)
    variant = read_section(params, f"ablations.{name}", AblationVariant, name=name)
    sft = read_section(params, "sft", SFTTrainConfig)
    generate = read_section(params, "generate", SFTGenerateConfig)
    with atomic_dir(out) as tmp, open_curves(curves) as live:
        result = run_ablation(variant, profiles, targets, base, tmp, sft, generate, seed(params),
                              items=filtered / "items.parquet", live=live)
    write_json(metrics, result)
    gen = result["generation"]
    click.echo(f"ablation {name}: {'fine-tuned' if variant.sft else 'base model'}, user layer {variant.user_layer}, "
               f"item layer {variant.item_layer}; {gen['pairs']} test pairs explained, "
               f"{gen['llm']['llm_calls']} generated, {gen['llm']['cache_hits']} cached, {result['seconds']} s")


if __name__ == "__main__":
    main()
