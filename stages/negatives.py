"""Hard and random negative items per (user, item) pair for CPEG (paper 000 §3.2).

    python stages/negatives.py --splits data/splits --filtered data/filtered --profiles data/profiles --encoder data/assets/encoder --out data/negatives --metrics metrics/negatives.json

Reads ``negatives`` (k, m, profile_layer, max_train, max_test) and ``seed``
from params.yaml; writes ``<out>/negatives.parquet`` (split, user_id, item_id,
hard, random) and the pair counts and mean cosines to the metrics file.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import ENCODER, FILTERED, METRICS, OUT, PROFILES, SPLITS, load_params, one_line_errors, params_option, \
    read_section, seed


@click.command()
@params_option
@SPLITS
@FILTERED
@PROFILES
@ENCODER
@OUT
@METRICS
@one_line_errors
def main(params_path: str, splits: Path, filtered: Path, profiles: Path, encoder: Path, out: Path,
         metrics: Path) -> None:
    from explainrec.core.encoder import load_encoder
    from explainrec.core.io import atomic_dir, read_table, write_json
    from explainrec.core.profile_store import load_profiles
    from explainrec.cpeg.negatives import FILE, NegativeConfig, sample_negatives, write_negatives

    params = load_params(params_path)
    config = read_section(params, "negatives", NegativeConfig)
    parts = {name: read_table(splits / f"{name}.parquet", name + " split") for name in ("train", "test")}
    interactions = read_table(filtered / "interactions.parquet", "interactions")
    users, items = load_profiles(profiles, user_layer=config.profile_layer, item_layer=config.profile_layer)
    result = sample_negatives(parts, interactions, users, items, load_encoder(encoder), config, seed(params))
    with atomic_dir(out) as tmp:
        write_negatives(result.table, tmp / FILE)
    write_json(metrics, result.metrics)
    m = result.metrics
    counts = ", ".join(f"{s} {m[s]['pairs']} pairs" for s in parts)
    skipped = sum(m[s]["skipped_no_profile"] for s in parts)
    if skipped:
        counts += f" ({skipped} skipped: user or item without a profile)"
    tr = m["train"]
    click.echo(f"negatives: {counts}; {config.k} hard + {config.m} random each; cosine to the user (train): "
               f"positive {tr['cos_positive']}, hard {tr['cos_hard']}, random {tr['cos_random']}; {m['seconds']} s")


if __name__ == "__main__":
    main()
