"""CPEG: contrastive prompting for verified ground-truth explanations (paper 000 §3.2).

    python stages/explain.py --negatives data/negatives --splits data/splits --filtered data/filtered --profiles data/profiles --llm data/assets/llm/llm.json --out data/cpeg --metrics metrics/explain.json

Reads ``cpeg`` (max_retries, max_new_tokens, profile_layer, max_review_chars,
max_profile_chars) and ``seed`` from params.yaml; writes
``<out>/explanations.parquet`` (one row per pair: shown candidates, last pick,
attempts, explanation, verified) and per-split accuracies plus the LLM's
statistics to the metrics file. Every call goes through the LLM response
cache, so a rerun repeats none.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section

OUT_FILE = "explanations.parquet"


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--negatives", type=click.Path(path_type=Path), default=Path("data/negatives"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--filtered", type=click.Path(path_type=Path), default=Path("data/filtered"), show_default=True)
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--llm", "llm_path", type=click.Path(path_type=Path), default=Path("data/assets/llm/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/cpeg"), show_default=True)
@click.option("--metrics", type=click.Path(path_type=Path), default=Path("metrics/explain.json"), show_default=True)
@one_line_errors
def main(params_path: str, negatives: Path, splits: Path, filtered: Path, profiles: Path, llm_path: Path, out: Path,
         metrics: Path) -> None:
    import pandas as pd

    from explainrec.cpeg.loop import config_from_section, generate_explanations, write_explanations
    from explainrec.cpeg.negatives import FILE, read_negatives
    from explainrec.io import atomic_dir, read_table, write_json
    from explainrec.llm import open_llm
    from explainrec.profiles.store import load_profiles

    params = load_params(params_path)
    config, layer = config_from_section(section(params, "cpeg"), int(section(params, "seed")))

    table = read_negatives(negatives / FILE)
    interactions = pd.concat([read_table(splits / f"{s}.parquet", s + " split") for s in ("train", "test")],
                             ignore_index=True)
    items = read_table(filtered / "items.parquet", "items")
    users, item_profiles = load_profiles(profiles, user_layer=layer, item_layer=layer)
    llm = open_llm(llm_path, desc="cpeg")
    result = generate_explanations(table, interactions, items, users, item_profiles, llm, config,
                                   source=str(negatives / FILE))
    with atomic_dir(out) as tmp:
        write_explanations(result.table, tmp / OUT_FILE)
    write_json(metrics, {**result.metrics, "llm": llm.stats.as_metrics()})
    parts = []
    for s in ("train", "test"):
        m = result.metrics[s]
        if m["pairs"]:
            parts.append(f"{s} {m['pairs']} pairs, first try {m['first_try_accuracy']:.1%}, "
                         f"after retries {m['accuracy_after_retries']:.1%}, {m['parse_failures']} unreadable")
    st = llm.stats
    click.echo(f"cpeg: {'; '.join(parts) or 'no pairs'}; {st.llm_calls} LLM calls, {st.cache_hits} cached, "
               f"{st.tokens_per_s:.1f} tok/s")


if __name__ == "__main__":
    main()
