"""LR-Recsys samples: (user, candidate, last n items before it in time) with the rating (paper 003 §5.1).

    python stages/lrrecsys_pairs.py --splits data/splits --filtered data/filtered --out data/lrrecsys/pairs --metrics metrics/lrrecsys_inputs/pairs.json

Reads ``lrrecsys.pairs`` (history, max_train, max_test, split, time_train_share) and ``seed``;
writes ``<out>/pairs.parquet`` (pair_id, split, user_id, item_id, rating, timestamp, history)
and the per-split counts to the metrics file. With ``split: time`` (the paper's per-user 80:20
split in time) the pairs come from the filtered interactions; users with an interaction
without a timestamp keep the split stage's train/test rows (counted as ``untimed_users``).
"""

from __future__ import annotations

from pathlib import Path

import click

from common import FILTERED, METRICS, OUT, SPLITS, load_params, one_line_errors, params_option, read_section, seed


@click.command()
@params_option
@SPLITS
@FILTERED
@OUT
@METRICS
@one_line_errors
def main(params_path: str, splits: Path, filtered: Path, out: Path, metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, read_table, write_json, write_parquet
    from explainrec.core.recommender.pair_table import FILE
    from explainrec.lrrecsys.pairs import PairsConfig, build_pair_table, pairs_metrics, untimed_users

    params = load_params(params_path)
    config = read_section(params, "lrrecsys.pairs", PairsConfig)
    parts = {name: read_table(splits / f"{name}.parquet", name + " split") for name in ("profile", "train", "test")}
    interactions = read_table(filtered / "interactions.parquet", "interactions")
    pairs = build_pair_table(parts, interactions, config, seed(params), source=str(splits))
    m = pairs_metrics(pairs, config.history)
    m["split"] = config.split
    if config.split == "time":
        m["time_train_share"] = config.time_train_share
        m["untimed_users"] = len(untimed_users(interactions))
    with atomic_dir(out) as tmp:
        write_parquet(pairs, tmp / FILE)
    write_json(metrics, m)
    untimed = f", {m['untimed_users']} users without timestamps kept the split stage's rows" \
        if m.get("untimed_users") else ""
    click.echo(f"lrrecsys_pairs ({config.split} split{untimed}): " + "; ".join(
        f"{s} {m[s]['pairs']} pairs ({m[s]['high_share']} rated 4-5, history {m[s]['history_mean']} items)"
        for s in ("train", "test")))


if __name__ == "__main__":
    main()
