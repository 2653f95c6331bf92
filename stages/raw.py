"""Read the dataset selected in params.yaml into the project's parquet schema.

    python stages/raw.py --out data/raw --metrics metrics/raw.json

Reads ``dataset`` (a name) and ``datasets`` (the catalogue) from params.yaml
and writes ``<out>/{interactions,items,users}.parquet`` and
``<out>/provenance.json`` (input files and their sha256).
"""

from __future__ import annotations

from pathlib import Path

import click

from common import METRICS, OUT, load_params, one_line_errors, params_option, section


@click.command()
@params_option
@OUT
@METRICS
@one_line_errors
def main(params_path: str, out: Path, metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.data.adapters import load_dataset
    from explainrec.data.stats import interaction_stats

    params = load_params(params_path)
    dataset, provenance = load_dataset(section(params, "dataset"), section(params, "datasets"), Path("."))
    with atomic_dir(out) as tmp:
        dataset.save(tmp)
        write_json(tmp / "provenance.json", provenance)
    stats = interaction_stats(dataset.interactions)
    write_json(metrics, {"dataset": provenance["dataset"], "format": provenance["format"], **stats})
    click.echo(f"raw: {stats['interactions']} interactions, {stats['users']} users, {stats['items']} items")


if __name__ == "__main__":
    main()
