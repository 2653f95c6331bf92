"""CPEG's two choice modes on the same pairs, in one run: accuracy, readable answers, seconds.

    python bench/cpeg_choice.py                  # after `dvc repro negatives`: 16 of its pairs
    python bench/cpeg_choice.py --pairs 48 --json out.json

Reads the pipeline's outputs (``data/negatives``, ``data/splits``, ``data/filtered``,
``data/profiles``; ``--root`` for another checkout), the ``cpeg`` section of
params.yaml and the model of ``data/assets/llm/llm.json``. For each mode it loads
a fresh backend, with no response cache, and runs CPEG on the first ``--pairs``
pairs of the negatives table:

- ``generate``: the model writes its answer, which is parsed (``cpeg.choice: generate``);
- ``likelihood``: the untried candidate numbers are scored after ``Answer: [`` and the
  model explains the most likely one (``cpeg.choice: likelihood``, the default).

It prints, per mode, first-try accuracy and accuracy after retries (exact 95 %
intervals, chance beside them), the share of attempts whose answer named a
candidate (readable), LLM calls and seconds, then the ratio of the seconds. The
machine (CPU model, AMX, dtype, threads) heads the report.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

MODES = ("generate", "likelihood")


def load_inputs(root: Path, n_pairs: int) -> dict[str, Any]:
    """The negatives (first ``n_pairs`` rows), interactions, items and the profiles CPEG reads."""
    import pandas as pd

    from explainrec.core.io import read_table
    from explainrec.cpeg.negatives import FILE, read_negatives

    neg_path = root / "data/negatives" / FILE
    if not neg_path.is_file():
        sys.exit(f"no negatives table at {neg_path}: run `dvc repro negatives` first (or pass --root)")
    negatives = read_negatives(neg_path).head(n_pairs).reset_index(drop=True)
    interactions = pd.concat([read_table(root / f"data/splits/{s}.parquet", s + " split") for s in ("train", "test")],
                             ignore_index=True)
    items = read_table(root / "data/filtered/items.parquet", "items")
    return {"negatives": negatives, "interactions": interactions, "items": items}


def run_mode(mode: str, inputs: dict[str, Any], profiles: Path, llm_json: Path, config: Any) -> dict[str, Any]:
    """CPEG in ``mode`` with a fresh backend and no cache: its metrics over all pairs, seconds, LLM stats."""
    from dataclasses import replace

    from explainrec.core.profile_store import load_profiles
    from explainrec.cpeg.loop import run_cpeg
    from explainrec.llm import LLM, open_backend
    from explainrec.llm.factory import load_spec

    users, items = load_profiles(profiles, user_layer=config.profile_layer, item_layer=config.profile_layer)
    llm = LLM(open_backend(load_spec(llm_json)), None, desc=f"cpeg {mode}")
    t0 = time.perf_counter()
    result = run_cpeg(inputs["negatives"], inputs["interactions"], inputs["items"], users, items, llm,
                      replace(config, choice=mode))
    seconds = time.perf_counter() - t0
    m = result.metrics["all"]
    attempts = int(result.table["attempts"].sum())
    out = {"mode": result.metrics["choice"], "pairs": m["pairs"], "first_try": m["first_try"],
           "after_retries": m["after_retries"], "attempts": attempts,
           "readable_share": round(1 - m["parse_failures"] / attempts, 4) if attempts else None,
           "seconds": round(seconds, 2), "llm_calls": llm.stats.llm_calls, "machine": llm.stats.machine}
    del llm
    gc.collect()
    return out


def _rate(d: dict[str, Any]) -> str:
    return f"{d['rate']:6.1%} [{d['ci_low']:.1%}, {d['ci_high']:.1%}] (chance {d['chance']:.1%})"


@click.command()
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="the checkout whose data/ and params.yaml are read")
@click.option("--llm", "llm_json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the llm.json to load (default: <root>/data/assets/llm/llm.json)")
@click.option("--pairs", type=click.IntRange(1), default=16, show_default=True,
              help="the first N pairs of the negatives table")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the figures here")
def main(root: Path, llm_json: Path | None, pairs: int, json_out: Path | None) -> None:
    import yaml

    from explainrec.core.config import from_section
    from explainrec.cpeg.loop import CPEGConfig

    if not (root / "params.yaml").is_file():
        sys.exit(f"no params.yaml in {root}: pass --root <a checkout of this project>")
    params = yaml.safe_load((root / "params.yaml").read_text())
    config = from_section(CPEGConfig, params.get("cpeg", {}), "cpeg", seed=params.get("seed", 0))
    llm_json = llm_json or root / "data/assets/llm/llm.json"
    if not llm_json.is_file():
        sys.exit(f"no {llm_json}: run `dvc repro assets_llm` first (or pass --llm)")
    inputs = load_inputs(root, pairs)
    results = [run_mode(mode, inputs, root / "data/profiles", llm_json, config) for mode in MODES]
    mach = results[0]["machine"] or {}
    click.echo(f"machine: {mach.get('cpu', mach.get('backend', '?'))}, AMX {mach.get('amx', '?')}, "
               f"{mach.get('dtype', '?')}, {mach.get('threads', '?')} threads")
    click.echo(f"{len(inputs['negatives'])} pairs, up to {1 + config.max_retries} tries each")
    for r in results:
        click.echo(f"{r['mode']:>10}: first try {_rate(r['first_try'])}, after retries {_rate(r['after_retries'])}, "
                   f"readable {r['readable_share']:.1%} of {r['attempts']} attempts, {r['llm_calls']} LLM calls, "
                   f"{r['seconds']:.1f} s")
    by = {r["mode"]: r for r in results}
    if by.get("generate", {}).get("seconds") and "likelihood" in by:
        click.echo(f"seconds likelihood / generate: {by['likelihood']['seconds'] / by['generate']['seconds']:.2f}")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
