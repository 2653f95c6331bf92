"""PGHIS: LLM-written user and item profiles, layer 0 then layers 1..n (paper 000 §3.1).

    python stages/profiles.py --splits data/splits --filtered data/filtered --llm data/assets/llm/llm.json --out data/profiles --metrics metrics/profiles.json

Reads ``profiles`` and ``seed`` from params.yaml; writes
``<out>/user_profiles.parquet`` and ``<out>/item_profiles.parquet`` (every
layer). LLM answers are cached outside the outputs, so a rerun or a resumed
run repeats no finished call.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import FILTERED, LLM, METRICS, OUT, SPLITS, load_params, one_line_errors, params_option, read_section, \
    seed


@click.command()
@params_option
@SPLITS
@FILTERED
@LLM
@OUT
@METRICS
@one_line_errors
def main(params_path: str, splits: Path, filtered: Path, llm_json: Path, out: Path, metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, read_table, write_json
    from explainrec.core.profile_store import write_profiles
    from explainrec.data.schema import Dataset, conform
    from explainrec.llm import open_llm
    from explainrec.profiles.pghis import ProfileConfig, build_profiles

    params = load_params(params_path)
    cfg = read_section(params, "profiles", ProfileConfig)
    ds = Dataset.load(filtered)
    profile_path = splits / "profile.parquet"
    profile_split = conform(read_table(profile_path, "profile split"), "interactions", profile_path)
    llm = None if cfg.passthrough else open_llm(llm_json, desc="profiles")
    result = build_profiles(profile_split, ds.items, ds.users, llm, cfg, seed(params), str(filtered))
    with atomic_dir(out) as tmp:
        write_profiles(result.users, result.items, tmp)
    stats = dict(result.stats)
    if llm is not None:
        stats["llm"] = llm.stats.as_metrics()
    write_json(metrics, stats)
    top = result.stats["layers"][-1]
    click.echo(f"profiles: layers 0..{top['layer']}, {top['users']} users, {top['items']} items")


if __name__ == "__main__":
    main()
