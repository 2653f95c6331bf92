"""LR-Recsys positive and negative explanations for every pair, from the ``llm`` (paper 003 §3.4.1, App. C.2).

    python stages/lrrecsys_explain.py --name main --pairs data/lrrecsys/pairs --filtered data/filtered --profiles data/profiles --llm data/assets/llm/llm.json --out data/lrrecsys/explanations/main --metrics metrics/lrrecsys_inputs/explain_main.json

Reads ``lrrecsys.explain`` (style, prompt, profile_augmentation, domain, profile_layer,
max_profile_chars, max_new_tokens) with the overrides of ``lrrecsys.explanation_sets.<name>``,
and the dataset's format (for ``domain: auto``); writes ``<out>/explanations.parquet``
(pair_id, split, positive, negative) and the counts plus the LLM's statistics to the
metrics file. Every call goes through the LLM response cache, so a rerun repeats none.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import (FILTERED, LLM, METRICS, OUT, PAIRS, PROFILES, dataset_format, load_params, merged_section,
                   one_line_errors, params_option)


@click.command()
@params_option
@click.option("--name", required=True, help="the lrrecsys.explanation_sets entry")
@PAIRS
@FILTERED
@PROFILES
@LLM
@OUT
@METRICS
@one_line_errors
def main(params_path: str, name: str, pairs: Path, filtered: Path, profiles: Path, llm_json: Path, out: Path,
         metrics: Path) -> None:
    from explainrec.core.domain_prompts import ExplainConfig
    from explainrec.core.domain_prompts import resolve_domain
    from explainrec.core.io import atomic_dir, read_table, write_json, write_parquet
    from explainrec.core.profile_store import read_profile_table, select_layer
    from explainrec.core.recommender.pair_table import read_pairs
    from explainrec.llm import open_llm
    from explainrec.lrrecsys.explain import FILE, explain_pairs

    params = load_params(params_path)
    config = merged_section(params, "lrrecsys.explain", f"lrrecsys.explanation_sets.{name}", ExplainConfig)
    domain = resolve_domain(config.domain, dataset_format(params))
    table = read_pairs(pairs)
    items = read_table(filtered / "items.parquet", "items")
    item_profiles = select_layer(read_profile_table(profiles, "item"), "item_id", config.profile_layer)
    llm = open_llm(llm_json, desc=f"lrrecsys {name}")
    result, m = explain_pairs(table, items, item_profiles, llm, config, domain)
    with atomic_dir(out) as tmp:
        write_parquet(result, tmp / FILE)
    write_json(metrics, {**m, "llm": llm.stats.as_metrics()})
    st = llm.stats
    click.echo(f"lrrecsys_explain@{name}: {m['pairs']} pairs x 2 explanations ({config.style}, {config.prompt}, "
               f"profiles {'on' if config.profile_augmentation else 'off'}), mean words {m['mean_words']}; "
               f"{st.llm_calls} LLM calls, {st.cache_hits} cached, {st.tokens_per_s:.1f} tok/s")


if __name__ == "__main__":
    main()
