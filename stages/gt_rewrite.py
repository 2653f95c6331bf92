"""Ground-truth quality (paper 000 §4.4), step 2: XRec's ground truth (paper 001 Eq. 14).

    python stages/gt_rewrite.py --negatives data/negatives --splits data/splits --llm data/assets/llm/llm.json --out data/ground_truth/rewrite --metrics metrics/ground_truth/rewrite.json

The LLM rewrites each compared pair's review; a dataset without reviews gives an
empty table. The work is done by :func:`explainrec.experiments.ground_truth.run_rewrite`.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import LLM, METRICS, NEGATIVES, OUT, SPLITS, load_params, one_line_errors, params_option, read_section, seed


@click.command()
@params_option
@NEGATIVES
@SPLITS
@LLM
@OUT
@METRICS
@one_line_errors
def rewrite(params_path: str, negatives: Path, splits: Path, llm_json: Path, out: Path, metrics: Path) -> None:
    """XRec's ground truth (paper 001 Eq. 14): the LLM rewrites each compared pair's review."""
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.experiments.ground_truth import GroundTruthConfig, compared_pairs, run_rewrite, split_reviews

    params = load_params(params_path)
    gt, s = read_section(params, "ground_truth", GroundTruthConfig), seed(params)
    pairs = compared_pairs(negatives, gt.max_pairs, s)
    with atomic_dir(out) as tmp:
        result = run_rewrite(pairs, split_reviews(splits), llm_json, gt.rewrite_max_new_tokens, tmp)
    write_json(metrics, result)
    click.echo(f"gt rewrite: {result['rewritten']} of {result['pairs']} pairs have a review and were rewritten")


if __name__ == "__main__":
    rewrite()
