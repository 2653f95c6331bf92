"""Iterative k-core filtering and the optional seeded caps for small runs.

    python stages/filter.py --raw data/raw --out data/filtered --metrics metrics/filter.json

Reads ``filter`` and ``seed`` from params.yaml.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import METRICS, OUT, RAW, load_params, one_line_errors, params_option, read_section, seed


@click.command()
@params_option
@RAW
@OUT
@METRICS
@one_line_errors
def main(params_path: str, raw: Path, out: Path, metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.data.kcore import FilterConfig, filter_dataset
    from explainrec.data.schema import Dataset
    from explainrec.data.stats import interaction_stats

    params = load_params(params_path)
    cfg = read_section(params, "filter", FilterConfig)
    filtered = filter_dataset(Dataset.load(raw), cfg, seed(params), source=str(raw / "interactions.parquet"))
    with atomic_dir(out) as tmp:
        filtered.save(tmp)
    stats = interaction_stats(filtered.interactions)
    write_json(metrics, stats)
    click.echo(f"filter: {stats['interactions']} interactions, {stats['users']} users, {stats['items']} items")


if __name__ == "__main__":
    main()
