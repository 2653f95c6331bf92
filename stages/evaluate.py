"""Score one explainer's explanations of the test pairs with every metric of paper 000 Table 1.

    python stages/evaluate.py --name full --explanations data/generate/explanations.parquet --encoder data/assets/encoder --judge data/assets/judge/llm.json --out data/eval/full --metrics metrics/eval/full.json

dvc.yaml runs it once per entry of the ``explainers`` mapping in params.yaml
(``evaluate@<name>``). Reads the ``evaluate`` section (``judge`` belongs to the
``assets_judge`` stage); writes ``<out>/scores.parquet`` (one row per pair, every
per-sample score) and the metrics: GPTScore (judge and unreadable answers
recorded), BERTScore P/R/F1 (encoder and layer recorded), BLEURT and BARTScore
(or why they were not computed), BLEU-1/4, ROUGE-1/2/L, USR and the standard
deviation of each per-sample score.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section

#: keys of the evaluate section that other stages read
FOREIGN_KEYS = ("judge",)


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--name", required=True, help="the explainer's name (a key of `explainers`)")
@click.option("--explanations", type=click.Path(path_type=Path), required=True,
              help="parquet with user_id, item_id, explanation, reference")
@click.option("--encoder", type=click.Path(path_type=Path), default=Path("data/assets/encoder"), show_default=True)
@click.option("--judge", "judge_json", type=click.Path(path_type=Path), default=Path("data/assets/judge/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@one_line_errors
def main(params_path: str, name: str, explanations: Path, encoder: Path, judge_json: Path, out: Path,
         metrics: Path) -> None:
    from explainrec.config import from_section
    from explainrec.evaluation.report import EvalParams, evaluate_table, read_explanations
    from explainrec.io import atomic_dir, write_json
    from explainrec.llm import open_llm

    params = load_params(params_path)
    sec = {k: v for k, v in (section(params, "evaluate") or {}).items() if k not in FOREIGN_KEYS}
    cfg = from_section(EvalParams, sec, "evaluate")
    table = read_explanations(explanations)
    judge = open_llm(judge_json, desc=f"gptscore ({name})")
    scores, result = evaluate_table(table, encoder, judge, cfg)
    with atomic_dir(out) as tmp:
        scores.to_parquet(tmp / "scores.parquet", index=False)
    write_json(metrics, {"method": name, **result, "llm": judge.stats.as_metrics()})
    gs, bs, rg = result["gptscore"], result["bertscore"], result["rouge"]
    click.echo(f"evaluate {name}: {result['pairs']} pairs, GPTScore {_num(gs['mean'])} "
               f"({gs['unparseable']} unreadable), BERTScore F1 {_num(bs['f1'])} ({result['bertscore_encoder']}, "
               f"layer {result['bertscore_layer']}), BLEU-4 {_num(result['bleu']['bleu4'])}, "
               f"ROUGE-L F1 {_num(rg['rougeL_f1'])}, USR {_num(result['usr']['usr'])}")


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


if __name__ == "__main__":
    main()
