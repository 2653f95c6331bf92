"""Ground-truth quality (paper 000 §4.4), step 3: the judge's pick among review, XRec rewrite and CPEG.

    python stages/gt_judge.py --negatives data/negatives --splits data/splits --profiles data/profiles --cpeg data/ground_truth/cpeg --rewrite data/ground_truth/rewrite --judge data/assets/judge/llm.json --out data/ground_truth/judge --metrics metrics/ground_truth.json

Asks the judge LLM (``evaluate.judge``) for the best candidate of each compared
pair, twice (seeded order, then reversed), and writes the choices, win rates
(``<out>/win_rates.csv``, the table of the ground_truth_win_rate plot, inside the cached
output so the stage has a run-cache entry) and position-bias figures. The work is done by
:func:`explainrec.experiments.ground_truth.run_judge`.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import JUDGE, METRICS, NEGATIVES, OUT, PROFILES, SPLITS, load_params, one_line_errors, params_option, \
    path_option, read_section, seed


@click.command()
@params_option
@NEGATIVES
@SPLITS
@PROFILES
@path_option("--cpeg", "the folder of the gt_cpeg stages (<variant>/explanations.parquet)", dest="cpeg_dir")
@path_option("--rewrite", "the gt_rewrite stage's folder (rewrites.parquet)", dest="rewrite_dir")
@JUDGE
@OUT
@METRICS
@one_line_errors
def judge(params_path: str, negatives: Path, splits: Path, profiles: Path, cpeg_dir: Path, rewrite_dir: Path,
          judge_json: Path, out: Path, metrics: Path) -> None:
    """The judge's pick among review, XRec rewrite and the CPEG variants, twice (order reversed)."""
    from explainrec.core.io import atomic_dir, write_csv, write_json
    from explainrec.experiments.ground_truth import GroundTruthConfig, compared_pairs, run_judge, split_reviews

    params = load_params(params_path)
    gt, s = read_section(params, "ground_truth", GroundTruthConfig), seed(params)
    pairs = compared_pairs(negatives, gt.max_pairs, s)
    with atomic_dir(out) as tmp:
        result, rows = run_judge(pairs, split_reviews(splits), rewrite_dir, cpeg_dir, gt, profiles, judge_json, s, tmp)
        write_csv(rows, tmp / "win_rates.csv")  # ground_truth_win_rate's table, cached with the choices
    write_json(metrics, result)
    rates = ", ".join(f"{s} {v['win_rate']:.0%}" for s, v in result["sources"].items() if v["win_rate"] is not None)
    if "choice_notice" in result:
        click.echo(f"notice: {result['choice_notice']}", err=True)
    click.echo(f"gt judge ({result['choice']}): {result['pairs_judged']} of {result['pairs']} pairs had two or more candidates; "
               f"win rates: {rates or 'none (no readable pick)'}; runs agree on {result['consistent_share']}")


if __name__ == "__main__":
    judge()
