"""Ground-truth quality (paper 000 §4.4), step 1: CPEG with one (k, m) variant on the compared pairs.

    python stages/gt_cpeg.py --variant k2_m5 --negatives data/negatives --splits data/splits --filtered data/filtered --profiles data/profiles --encoder data/assets/encoder --llm data/assets/llm/llm.json --out data/ground_truth/cpeg/k2_m5 --metrics metrics/ground_truth/cpeg_k2_m5.json

dvc.yaml runs it once per entry of ``ground_truth.variants`` (``gt_cpeg@<name>``).
The compared pairs are a seeded sample of ``ground_truth.max_pairs`` test pairs of
the negatives stage; for them it mines ``k`` hard and ``m`` random negatives as the
negatives stage does (its ``profile_layer``) and runs CPEG with the ``cpeg``
section's settings. With the negatives stage's (k, m) the prompts are the cpeg
stage's, so they come from the response cache. The work is done by
:func:`explainrec.experiments.ground_truth.run_cpeg_variant`.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import ENCODER, FILTERED, LLM, METRICS, NEGATIVES, OUT, PROFILES, SPLITS, load_params, one_line_errors, \
    params_option, read_section, seed


@click.command()
@params_option
@click.option("--variant", required=True, help="a key of ground_truth.variants")
@NEGATIVES
@SPLITS
@FILTERED
@PROFILES
@ENCODER
@LLM
@OUT
@METRICS
@one_line_errors
def cpeg(params_path: str, variant: str, negatives: Path, splits: Path, filtered: Path, profiles: Path, encoder: Path,
         llm_json: Path, out: Path, metrics: Path) -> None:
    """CPEG with one variant's (k, m) on the compared pairs."""
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.cpeg.loop import CPEGConfig, accuracy_line
    from explainrec.cpeg.negatives import NegativeConfig
    from explainrec.experiments.ground_truth import GroundTruthConfig, compared_pairs, run_cpeg_variant
    from explainrec.llm import open_llm

    params = load_params(params_path)
    gt, s = read_section(params, "ground_truth", GroundTruthConfig), seed(params)
    km = gt.variant(variant)
    config = read_section(params, "cpeg", CPEGConfig, seed=s)
    mining = read_section(params, "negatives", NegativeConfig)
    pairs = compared_pairs(negatives, gt.max_pairs, s)
    llm = open_llm(llm_json, desc=f"gt cpeg {variant}")
    with atomic_dir(out) as tmp:
        m = run_cpeg_variant(km, pairs, splits, filtered, profiles, encoder, llm, mining, config, s, tmp)
    write_json(metrics, m)
    if "choice_notice" in m:
        click.echo(f"notice: {m['choice_notice']}", err=True)
    line = accuracy_line(m) if m["pairs"] else "0 pairs"
    click.echo(f"gt cpeg {variant} (k={km.k}, m={km.m}, {m['choice']}): {line}; "
               f"{llm.stats.llm_calls} LLM calls, {llm.stats.cache_hits} cached")


if __name__ == "__main__":
    cpeg()
