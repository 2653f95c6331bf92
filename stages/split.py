"""Split the interactions 3:1:1 into profile / train / test (paper 000), per user or over all rows.

    python stages/split.py --filtered data/filtered --out data/splits --metrics metrics/split.json

Reads ``split`` (ratios; method random or temporal per user, or rows for
precomputed tables) and ``seed`` from params.yaml; writes
``<out>/{profile,train,test}.parquet`` and the split statistics.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import FILTERED, METRICS, OUT, load_params, one_line_errors, params_option, read_section, seed


@click.command()
@params_option
@FILTERED
@OUT
@METRICS
@one_line_errors
def main(params_path: str, filtered: Path, out: Path, metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.data.schema import Dataset
    from explainrec.data.split import SplitConfig, split_interactions, write_splits
    from explainrec.data.stats import interaction_stats

    params = load_params(params_path)
    cfg = read_section(params, "split", SplitConfig)
    ds = Dataset.load(filtered)
    parts = split_interactions(ds.interactions, cfg, seed(params), str(filtered / "interactions.parquet"))
    with atomic_dir(out) as tmp:
        write_splits(parts, tmp)
    stats = {"all": interaction_stats(ds.interactions), **{name: interaction_stats(df) for name, df in parts.items()}}
    stats["method"] = cfg.method
    write_json(metrics, stats)
    click.echo("split: " + ", ".join(f"{name} {len(df)}" for name, df in parts.items()))


if __name__ == "__main__":
    main()
