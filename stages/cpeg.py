"""CPEG: contrastive prompting for verified ground-truth explanations (paper 000 §3.2).

    python stages/cpeg.py --negatives data/negatives --splits data/splits --filtered data/filtered --profiles data/profiles --llm data/assets/llm/llm.json --out data/cpeg --metrics metrics/cpeg.json

Reads ``cpeg`` (choice, max_retries, max_new_tokens, profile_layer, max_review_chars,
max_profile_chars) and ``seed`` from params.yaml; writes
``<out>/explanations.parquet`` (one row per pair: shown candidates, last pick and
its probability, attempts, explanation, verified) and per-split accuracies per try
and after retries (95 % intervals, chance beside them) plus the LLM's statistics to
the metrics file. With ``choice: likelihood`` and a backend without
log-probabilities it prints a one-line notice and parses free-text answers. Every call goes through the LLM response
cache, so a rerun repeats none.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import FILTERED, LLM, METRICS, NEGATIVES, OUT, PROFILES, SPLITS, load_params, one_line_errors, \
    params_option, read_section, seed

OUT_FILE = "explanations.parquet"


@click.command()
@params_option
@NEGATIVES
@SPLITS
@FILTERED
@PROFILES
@LLM
@OUT
@METRICS
@one_line_errors
def main(params_path: str, negatives: Path, splits: Path, filtered: Path, profiles: Path, llm_json: Path, out: Path,
         metrics: Path) -> None:
    import pandas as pd

    from explainrec.core.io import atomic_dir, read_table, write_json
    from explainrec.core.profile_store import load_profiles
    from explainrec.cpeg.loop import CPEGConfig, accuracy_line, run_cpeg, write_explanations
    from explainrec.cpeg.negatives import FILE, read_negatives
    from explainrec.llm import open_llm

    params = load_params(params_path)
    config = read_section(params, "cpeg", CPEGConfig, seed=seed(params))
    table = read_negatives(negatives / FILE)
    interactions = pd.concat([read_table(splits / f"{s}.parquet", s + " split") for s in ("train", "test")],
                             ignore_index=True)
    items = read_table(filtered / "items.parquet", "items")
    users, item_profiles = load_profiles(profiles, user_layer=config.profile_layer, item_layer=config.profile_layer)
    llm = open_llm(llm_json, desc="cpeg")
    result = run_cpeg(table, interactions, items, users, item_profiles, llm, config, source=str(negatives / FILE))
    with atomic_dir(out) as tmp:
        write_explanations(result.table, tmp / OUT_FILE)
    write_json(metrics, {**result.metrics, "llm": llm.stats.as_metrics()})
    if "choice_notice" in result.metrics:
        click.echo(f"notice: {result.metrics['choice_notice']}", err=True)
    parts = [f"{s} {accuracy_line(result.metrics[s])}" for s in ("train", "test") if result.metrics[s]["pairs"]]
    st = llm.stats
    click.echo(f"cpeg ({result.metrics['choice']}): {'; '.join(parts) or 'no pairs'}; {st.llm_calls} LLM calls, "
               f"{st.cache_hits} cached, {st.tokens_per_s:.1f} tok/s")


if __name__ == "__main__":
    main()
