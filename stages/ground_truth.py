"""Ground-truth quality (paper 000 §4.4): CPEG per (k, m), XRec's review rewrite, and a judge's pick.

    python stages/ground_truth.py cpeg --variant k2_m5 --out data/ground_truth/cpeg/k2_m5 --metrics metrics/ground_truth/cpeg_k2_m5.json
    python stages/ground_truth.py rewrite --out data/ground_truth/rewrite --metrics metrics/ground_truth/rewrite.json
    python stages/ground_truth.py judge --cpeg data/ground_truth/cpeg --rewrite data/ground_truth/rewrite --out data/ground_truth/judge --metrics metrics/ground_truth.json --plot metrics/plots/gt_win_rates.csv

All three work on the same pairs: a seeded sample of ``ground_truth.max_pairs``
test pairs of the negatives stage. ``cpeg`` (run by dvc.yaml once per entry of
``ground_truth.variants``: ``gt_cpeg@<name>``) mines ``k`` hard and ``m`` random
negatives for them and runs CPEG with the ``cpeg`` section's settings; with the
negatives stage's (k, m) its prompts are the cpeg stage's, so they come from the
response cache. ``rewrite`` turns each pair's review into XRec's ground truth
(paper 001 Eq. 14); a dataset without reviews gives an empty table. ``judge``
asks the judge LLM (``evaluate.judge``) for the best candidate of each pair, twice
(seeded order, then reversed), and writes win rates and position-bias figures.
The work is done by :mod:`explainrec.evaluation.ground_truth_run`.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section


def _settings(params: dict):
    """The checked ``ground_truth`` section and the seed."""
    from explainrec.config import from_section
    from explainrec.evaluation.ground_truth_run import GroundTruthParams

    gt = from_section(GroundTruthParams, section(params, "ground_truth"), "ground_truth")
    return gt, int(section(params, "seed"))


@click.group()
def cli() -> None:
    """Ground-truth quality (paper 000 §4.4)."""


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--variant", required=True, help="a key of ground_truth.variants")
@click.option("--negatives", type=click.Path(path_type=Path), default=Path("data/negatives"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--filtered", type=click.Path(path_type=Path), default=Path("data/filtered"), show_default=True)
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--encoder", type=click.Path(path_type=Path), default=Path("data/assets/encoder"), show_default=True)
@click.option("--llm", "llm_path", type=click.Path(path_type=Path), default=Path("data/assets/llm/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@one_line_errors
def cpeg(params_path: str, variant: str, negatives: Path, splits: Path, filtered: Path, profiles: Path, encoder: Path,
         llm_path: Path, out: Path, metrics: Path) -> None:
    """CPEG with one variant's (k, m) on the compared pairs."""
    from explainrec.config import check_layer
    from explainrec.cpeg.loop import config_from_section
    from explainrec.evaluation.ground_truth_run import compared_pairs, run_cpeg_variant
    from explainrec.io import atomic_dir, write_json
    from explainrec.llm import open_llm

    params = load_params(params_path)
    gt, seed = _settings(params)
    km = gt.variant(variant)
    config, layer = config_from_section(section(params, "cpeg"), seed)
    neg_layer = check_layer((section(params, "negatives") or {}).get("profile_layer", -1), "negatives.profile_layer")
    pairs = compared_pairs(negatives, gt.max_pairs, seed)
    llm = open_llm(llm_path, desc=f"gt cpeg {variant}")
    with atomic_dir(out) as tmp:
        m = run_cpeg_variant(km, pairs, splits, filtered, profiles, encoder, llm, config, layer, neg_layer, seed, tmp)
    write_json(metrics, m)
    click.echo(f"gt cpeg {variant} (k={km.k}, m={km.m}): {m['pairs']} pairs, first try "
               f"{m.get('first_try_accuracy', 0):.1%}, after retries {m.get('accuracy_after_retries', 0):.1%}; "
               f"{llm.stats.llm_calls} LLM calls, {llm.stats.cache_hits} cached")


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--negatives", type=click.Path(path_type=Path), default=Path("data/negatives"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--llm", "llm_path", type=click.Path(path_type=Path), default=Path("data/assets/llm/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@one_line_errors
def rewrite(params_path: str, negatives: Path, splits: Path, llm_path: Path, out: Path, metrics: Path) -> None:
    """XRec's ground truth (paper 001 Eq. 14): the LLM rewrites each compared pair's review."""
    from explainrec.evaluation.ground_truth_run import compared_pairs, run_rewrite, split_reviews
    from explainrec.io import atomic_dir, write_json

    gt, seed = _settings(load_params(params_path))
    pairs = compared_pairs(negatives, gt.max_pairs, seed)
    with atomic_dir(out) as tmp:
        result = run_rewrite(pairs, split_reviews(splits), llm_path, gt.rewrite_max_new_tokens, tmp)
    write_json(metrics, result)
    click.echo(f"gt rewrite: {result['rewritten']} of {result['pairs']} pairs have a review and were rewritten")


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--negatives", type=click.Path(path_type=Path), default=Path("data/negatives"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--cpeg", "cpeg_dir", type=click.Path(path_type=Path), default=Path("data/ground_truth/cpeg"),
              show_default=True)
@click.option("--rewrite", "rewrite_dir", type=click.Path(path_type=Path), default=Path("data/ground_truth/rewrite"),
              show_default=True)
@click.option("--judge", "judge_json", type=click.Path(path_type=Path), default=Path("data/assets/judge/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--plot", type=click.Path(path_type=Path), required=True)
@one_line_errors
def judge(params_path: str, negatives: Path, splits: Path, profiles: Path, cpeg_dir: Path, rewrite_dir: Path,
          judge_json: Path, out: Path, metrics: Path, plot: Path) -> None:
    """The judge's pick among review, XRec rewrite and the CPEG variants, twice (order reversed)."""
    from explainrec.evaluation.ground_truth_run import compared_pairs, run_judge, split_reviews
    from explainrec.io import atomic_dir, atomic_file, write_json

    gt, seed = _settings(load_params(params_path))
    pairs = compared_pairs(negatives, gt.max_pairs, seed)
    with atomic_dir(out) as tmp:
        result, rows = run_judge(pairs, split_reviews(splits), rewrite_dir, cpeg_dir, gt, profiles, judge_json, seed,
                                 tmp)
    write_json(metrics, result)
    with atomic_file(plot) as tmp:
        rows.to_csv(tmp, index=False)
    rates = ", ".join(f"{s} {v['win_rate']:.0%}" for s, v in result["sources"].items() if v["win_rate"] is not None)
    click.echo(f"gt judge: {result['pairs_judged']} of {result['pairs']} pairs had two or more candidates; "
               f"win rates: {rates or 'none (no readable pick)'}; runs agree on {result['consistent_share']}")


if __name__ == "__main__":
    cli()
