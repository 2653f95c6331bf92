"""Score one explainer's explanations of the test pairs with every metric of paper 000 Table 1.

    python stages/evaluate.py --name full --explanations data/generate/explanations.parquet --encoder data/assets/encoder --judge data/assets/judge/llm.json --out data/eval/full --metrics metrics/eval/full.json

dvc.yaml runs it once per entry of the ``explainers`` mapping in params.yaml
(``evaluate@<name>``). Reads the ``evaluate`` section (its ``judge`` is resolved by
the ``assets_judge`` stage, whose llm.json ``--judge`` names); writes ``<out>/scores.parquet`` (one row per pair, every
per-sample score) and the metrics: GPTScore (judge recorded, and how each pair
was scored: by probability, or parsed, or not at all), BERTScore P/R/F1 (encoder and layer recorded), BLEURT and BARTScore
(or why they were not computed), BLEU-1/4, ROUGE-1/2/L, USR and the standard
deviation of each per-sample score.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import ENCODER, JUDGE, METRICS, OUT, load_params, number, one_line_errors, params_option, \
    path_option, read_section


@click.command()
@params_option
@click.option("--name", required=True, help="the explainer's name (a key of `explainers`)")
@path_option("--explanations", "parquet with user_id, item_id, explanation, reference")
@ENCODER
@JUDGE
@OUT
@METRICS
@one_line_errors
def main(params_path: str, name: str, explanations: Path, encoder: Path, judge_json: Path, out: Path,
         metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.evaluation.report import EvalConfig, evaluate_table, read_explainer_output, write_scores
    from explainrec.llm import open_llm

    cfg = read_section(load_params(params_path), "evaluate", EvalConfig)
    table = read_explainer_output(explanations)
    judge = open_llm(judge_json, desc=f"gptscore ({name})")
    scores, result = evaluate_table(table, encoder, judge, cfg)
    with atomic_dir(out) as tmp:
        write_scores(scores, tmp)
    write_json(metrics, {"method": name, **result, "llm": judge.stats.as_metrics()})
    gs, bs, rg = result["gptscore"], result["bertscore"], result["rouge"]
    click.echo(f"evaluate {name}: {result['pairs']} pairs, GPTScore {number(gs['mean'], 4)} "
               f"({gs['scored_by']['probability']} by probability, {gs['scored_by']['parsed']} parsed, "
               f"{gs['unscored']} unscored), BERTScore F1 {number(bs['f1'], 4)} ({result['bertscore_encoder']}, "
               f"layer {result['bertscore_layer']}), BLEU-4 {number(result['bleu']['bleu4'], 4)}, "
               f"ROUGE-L F1 {number(rg['rougeL_f1'], 4)}, USR {number(result['usr']['usr'], 4)}")



if __name__ == "__main__":
    main()
