"""Split each user's interactions 3:1:1 into profile / train / test (paper 000).

    python stages/split.py --filtered data/filtered --out data/splits --metrics metrics/data.json

Reads ``split`` and ``seed`` from params.yaml; writes
``<out>/{profile,train,test}.parquet`` and the split statistics.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--filtered", type=click.Path(path_type=Path), default=Path("data/filtered"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--metrics", type=click.Path(path_type=Path), default=Path("metrics/data.json"), show_default=True)
@one_line_errors
def main(params_path: str, filtered: Path, out: Path, metrics: Path) -> None:
    from explainrec.data.schema import Dataset
    from explainrec.data.split import SplitConfig, split_interactions
    from explainrec.data.stats import interaction_stats
    from explainrec.config import from_section
    from explainrec.io import atomic_dir, write_json

    params = load_params(params_path)
    cfg = from_section(SplitConfig, section(params, "split"), "split")
    ds = Dataset.load(filtered)
    parts = split_interactions(ds.interactions, cfg, int(section(params, "seed")), str(filtered / "interactions.parquet"))
    with atomic_dir(out) as tmp:
        for name, df in parts.items():
            df.to_parquet(tmp / f"{name}.parquet", index=False)
    stats = {"all": interaction_stats(ds.interactions), **{name: interaction_stats(df) for name, df in parts.items()}}
    stats["method"] = cfg.method
    write_json(metrics, stats)
    click.echo("split: " + ", ".join(f"{name} {len(df)}" for name, df in parts.items()))


if __name__ == "__main__":
    main()
