"""Generate an explanation for every test pair with the fine-tuned model.

    python stages/generate.py --model data/sft/model --profiles data/profiles --targets data/cpeg --filtered data/filtered --out data/generate --metrics metrics/generate.json

Reads the ``generate`` section (max_new_tokens, batch_size, user_layer,
item_layer, threads) and, from the ``sft`` section, ``targets`` and
``include_unverified`` (which references exist; ``--targets`` is that stage's
folder), ``target_form`` (for the statistics) and ``item_title`` (the prompts name each item from
``<filtered>/items.parquet``, as in training). Writes ``<out>/explanations.parquet`` (user_id, item_id, explanation,
reference), which ``evaluate@full`` scores, and the generation statistics.
Answers are cached by the model folder's content hash, so a rerun with the
same weights generates nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import FILTERED, METRICS, OUT, PROFILES, TARGETS, load_params, one_line_errors, params_option, path_option, \
    read_section


@click.command()
@params_option
@path_option("--model", "the fine-tuned model folder (the sft stage's model/)")
@PROFILES
@TARGETS
@FILTERED
@OUT
@METRICS
@one_line_errors
def main(params_path: str, model: Path, profiles: Path, targets: Path, filtered: Path, out: Path,
         metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.sft.generate import run_generate
    from explainrec.sft.params import SFTGenerateConfig, SFTTrainConfig

    params = load_params(params_path)
    cfg = read_section(params, "generate", SFTGenerateConfig)
    sft = read_section(params, "sft", SFTTrainConfig)
    with atomic_dir(out) as tmp:
        result = run_generate(model, profiles, targets, tmp, cfg, sft.targets, sft.include_unverified,
                              items=sft.item_names(filtered / "items.parquet"), target_form=sft.target_form)
    write_json(metrics, result)
    click.echo(f"generate: {result['pairs']} pairs, {result['empty_explanations']} empty, "
               f"{result['two_openings']} with two openings; "
               f"{result['llm']['llm_calls']} generated, {result['llm']['cache_hits']} cached, {result['seconds']} s")


if __name__ == "__main__":
    main()
