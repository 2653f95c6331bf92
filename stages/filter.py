"""Iterative k-core filtering and the optional seeded caps for small runs.

    python stages/filter.py --raw data/raw --out data/filtered --metrics metrics/filter.json

Reads ``filter`` and ``seed`` from params.yaml.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--raw", type=click.Path(path_type=Path), default=Path("data/raw"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/filtered"), show_default=True)
@click.option("--metrics", type=click.Path(path_type=Path), default=Path("metrics/filter.json"), show_default=True)
@one_line_errors
def main(params_path: str, raw: Path, out: Path, metrics: Path) -> None:
    from explainrec.data.kcore import FilterConfig, filter_dataset
    from explainrec.data.schema import Dataset
    from explainrec.data.stats import interaction_stats
    from explainrec.config import from_section
    from explainrec.io import atomic_dir, write_json

    params = load_params(params_path)
    cfg = from_section(FilterConfig, section(params, "filter"), "filter")
    filtered = filter_dataset(Dataset.load(raw), cfg, int(section(params, "seed")), source=str(raw / "interactions.parquet"))
    with atomic_dir(out) as tmp:
        filtered.save(tmp)
    stats = interaction_stats(filtered.interactions)
    write_json(metrics, stats)
    click.echo(f"filter: {stats['interactions']} interactions, {stats['users']} users, {stats['items']} items")


if __name__ == "__main__":
    main()
