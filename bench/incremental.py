"""What a small data change costs the LLM stages: a first run, a few new interactions, a rerun.

    python bench/incremental.py                         # the default data, params.yaml, a fresh cache
    python bench/incremental.py --max-users 10 --max-new-tokens 8 -S cpeg.max_new_tokens=16 \\
        -S negatives.max_train=8 -S negatives.max_test=4 --json incremental.json   # a quick run

Runs the profile and CPEG stages' library functions (``build_profiles`` ->
``sample_negatives`` -> ``run_cpeg``, with configs built from
params.yaml's ``profiles``, ``negatives``, ``cpeg`` and ``seed`` sections the way
the stage scripts build them) on ``data/splits`` + ``data/filtered``, with a fresh
response cache in a temporary folder, so the first run is a real first run. Then
it gives ``--users-share`` of the users (at least one, seeded) ``--new-per-user``
new interactions each (items they never interacted with, seeded; rating
``--rating``; timestamps after their last one) in the profile split and the
filtered interactions, and reruns the three steps with the same cache.

The rerun calls the LLM only for prompts whose text changed. The bench counts
those independently: it records every request the library sends and counts the
distinct requests of the rerun that the first run never sent; that count must
equal the rerun's ``LLM.stats.llm_calls`` (exit status 1 otherwise). It prints
calls, tokens and wall time of both runs and the rerun's ratios to the first,
and, per prompt kind (profile layer, users/items; CPEG round), how many prompts
changed, so the cascade is visible: a changed user profile changes the layer-1
prompts of the items that sampled it, and a changed item profile changes every
CPEG prompt that shows the item as a candidate.

Model loading (LLM and sentence encoder) happens before the clock starts.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import pandas as pd
import yaml

DAY = 86_400


# -- inputs and configs ------------------------------------------------------------------------------
@dataclass
class Inputs:
    """The tables the three stages read: the splits and the filtered dataset."""

    profile: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame


@dataclass(frozen=True)
class Configs:
    """What the stage scripts build from params.yaml."""

    profiles: Any  # ProfileConfig
    negatives: Any  # NegativeConfig
    cpeg: Any  # CPEGConfig
    seed: int


def apply_overrides(params: dict[str, Any], sets: Sequence[str]) -> dict[str, Any]:
    """``section.key=value`` overrides (values read as YAML), like ``dvc exp run -S``."""
    params = copy.deepcopy(params)
    for s in sets:
        if "=" not in s:
            raise click.BadParameter(f"expected section.key=value, got {s!r}", param_hint="-S/--set")
        path, value = s.split("=", 1)
        *parents, last = path.strip().split(".")
        node = params
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise click.BadParameter(f"{path}: {p} is not a section", param_hint="-S/--set")
        node[last] = yaml.safe_load(value)
    return params


def configs_from_params(params: Mapping[str, Any]) -> Configs:
    """The configs of stages/profiles.py, stages/negatives.py and stages/cpeg.py, read as they read them."""
    from explainrec.core.config import check_int, from_section
    from explainrec.core.errors import ParamError
    from explainrec.cpeg.loop import CPEGConfig
    from explainrec.cpeg.negatives import NegativeConfig
    from explainrec.profiles.pghis import ProfileConfig

    for key in ("seed", "profiles", "negatives", "cpeg"):
        if key not in params:
            raise ParamError(key, f"a '{key}' entry in params.yaml")
    seed = check_int(params["seed"], "seed", 0)
    return Configs(from_section(ProfileConfig, params["profiles"], "profiles"),
                   from_section(NegativeConfig, params["negatives"], "negatives"),
                   from_section(CPEGConfig, params["cpeg"], "cpeg", seed=seed), seed)


def load_inputs(splits: Path, filtered: Path) -> Inputs:
    """The tables as the stages read them (profile split and filtered dataset conformed to the schema)."""
    from explainrec.core.io import read_table
    from explainrec.data.schema import Dataset, conform

    ds = Dataset.load(filtered)
    path = splits / "profile.parquet"
    profile = conform(read_table(path, "profile split"), "interactions", path)
    train, test = (read_table(splits / f"{s}.parquet", s + " split") for s in ("train", "test"))
    return Inputs(profile, train, test, ds.interactions, ds.items, ds.users)


def restrict_users(inputs: Inputs, max_users: int | None) -> Inputs:
    """Only the first ``max_users`` users of the users table, their interactions, and the items
    those interactions touch (for a quick run); unchanged when ``max_users`` is None."""
    if max_users is None or max_users >= len(inputs.users):
        return inputs
    users = inputs.users.head(max_users).reset_index(drop=True)
    keep = set(users["user_id"].astype(str))

    def mine(df: pd.DataFrame) -> pd.DataFrame:
        return df[df["user_id"].astype(str).isin(keep)].reset_index(drop=True)

    profile, train, test, inter = (mine(d) for d in (inputs.profile, inputs.train, inputs.test, inputs.interactions))
    touched = set(inter["item_id"].astype(str)) | set(profile["item_id"].astype(str)) \
        | set(train["item_id"].astype(str)) | set(test["item_id"].astype(str))
    items = inputs.items[inputs.items["item_id"].astype(str).isin(touched)].reset_index(drop=True)
    return Inputs(profile, train, test, inter, items, users)


def add_interactions(inputs: Inputs, share: float, per_user: int, seed: int, rating: float = 4.0
                     ) -> tuple[Inputs, pd.DataFrame]:
    """Give ``share`` of the users (at least one; seeded) ``per_user`` new interactions each with
    items they never interacted with (seeded), rated ``rating``, one day apart after their last
    interaction; add them to the profile split and to the filtered interactions."""
    from explainrec.core.seeding import stable_rng
    from explainrec.data.schema import conform

    users = sorted(inputs.users["user_id"].astype(str))
    n = min(len(users), max(1, round(share * len(users))))
    rng = stable_rng(seed, "bench", "incremental")
    chosen = sorted(users[i] for i in rng.choice(len(users), size=n, replace=False))
    every = pd.concat([d[["user_id", "item_id", "timestamp"]] for d in
                       (inputs.interactions, inputs.profile, inputs.train, inputs.test)], ignore_index=True)
    every = every.astype({"user_id": str, "item_id": str})
    all_items = sorted(inputs.items["item_id"].astype(str))
    rows = []
    for u in chosen:
        mine = every[every["user_id"] == u]
        seen = set(mine["item_id"])
        pool = [i for i in all_items if i not in seen]
        if len(pool) < per_user:
            raise ValueError(f"user {u} has only {len(pool)} never-interacted items, fewer than {per_user}")
        last = pd.to_numeric(mine["timestamp"], errors="coerce").max()
        last = 0 if pd.isna(last) else int(last)
        picks = [pool[j] for j in sorted(rng.choice(len(pool), size=per_user, replace=False))]
        for k, item in enumerate(picks, 1):
            rows.append({"user_id": u, "item_id": item, "rating": float(rating), "timestamp": last + k * DAY,
                         "review": None})
    added = conform(pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp", "review"]),
                    "interactions", "bench:new interactions")

    def extend(df: pd.DataFrame, where: str) -> pd.DataFrame:
        cols = list(df.columns)
        new = added.reindex(columns=cols)
        return conform(pd.concat([df, new], ignore_index=True), "interactions", where)

    changed = replace(inputs, profile=extend(inputs.profile, "bench:profile split"),
                      interactions=extend(inputs.interactions, "bench:interactions"))
    return changed, added


# -- running the stages -----------------------------------------------------------------------------------
class RecordingLLM:
    """Delegates ``chat`` to a real :class:`explainrec.llm.LLM` and records every request (with its ``desc``)."""

    def __init__(self, llm: Any):
        self.llm = llm
        self.log: list[tuple[str, Any]] = []

    def chat(self, requests: Sequence[Any], desc: str | None = None) -> list[Any]:
        requests = list(requests)
        self.log.extend((desc or "", r) for r in requests)
        return self.llm.chat(requests, desc=desc)


@dataclass
class RunResult:
    profiles: Any  # Profiles
    negatives: Any  # Negatives
    cpeg: Any  # CPEGResult
    seconds: dict[str, float]
    requests: list[tuple[str, Any]]


def run_stages(inputs: Inputs, llm: Any, encoder: Any, cfg: Configs) -> RunResult:
    """profiles -> negatives -> cpeg through the library, as the three stage scripts call it."""
    from explainrec.core.profile_store import select_layer
    from explainrec.cpeg.loop import run_cpeg
    from explainrec.cpeg.negatives import sample_negatives
    from explainrec.profiles.pghis import build_profiles

    rec = RecordingLLM(llm)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    prof = build_profiles(inputs.profile, inputs.items, inputs.users, rec, cfg.profiles, cfg.seed)
    seconds["profiles"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    users = select_layer(prof.users, "user_id", cfg.negatives.profile_layer)
    items = select_layer(prof.items, "item_id", cfg.negatives.profile_layer)
    neg = sample_negatives({"train": inputs.train, "test": inputs.test}, inputs.interactions, users, items, encoder,
                           cfg.negatives, cfg.seed)
    seconds["negatives"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    users = select_layer(prof.users, "user_id", cfg.cpeg.profile_layer)
    items = select_layer(prof.items, "item_id", cfg.cpeg.profile_layer)
    pairs_interactions = pd.concat([inputs.train, inputs.test], ignore_index=True)
    cp = run_cpeg(neg.table, pairs_interactions, inputs.items, users, items, rec, cfg.cpeg)
    seconds["cpeg"] = time.perf_counter() - t0
    seconds["total"] = seconds["profiles"] + seconds["negatives"] + seconds["cpeg"]
    return RunResult(prof, neg, cp, seconds, rec.log)


def new_requests(before: Sequence[tuple[str, Any]], after: Sequence[tuple[str, Any]]) -> dict[Any, str]:
    """The distinct requests of ``after`` that ``before`` never sent (messages and parameters
    compared as values), each with the ``desc`` it was first sent under."""
    seen = {r for _, r in before}
    out: dict[Any, str] = {}
    for desc, r in after:
        if r not in seen and r not in out:
            out[r] = desc
    return out


def _changed_nodes(a: pd.DataFrame, b: pd.DataFrame, id_col: str) -> dict[int, int]:
    """Per layer: how many nodes' profile text differs between two profile tables."""
    m = a.merge(b, on=[id_col, "layer"], how="outer", suffixes=("_a", "_b"))
    diff = m["profile_a"].astype(str) != m["profile_b"].astype(str)
    return {int(k): int(v) for k, v in m[diff].groupby("layer").size().items()}


def _pairs_with_new_candidates(a: pd.DataFrame, b: pd.DataFrame) -> int:
    key = ["split", "user_id", "item_id"]
    m = a.merge(b, on=key, how="outer", suffixes=("_a", "_b"))
    return int(sum(1 for ha, ra, hb, rb in zip(m["hard_a"], m["random_a"], m["hard_b"], m["random_b"])
                   if not isinstance(ha, list) or not isinstance(hb, list) or ha != hb or ra != rb))


def _snapshot(llm: Any) -> Any:
    return copy.copy(llm.stats)


def run_incremental(inputs: Inputs, llm: Any, encoder: Any, cfg: Configs, share: float = 0.05, per_user: int = 2,
                    rating: float = 4.0, seed: int | None = None,
                    log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """First run, change, rerun; the report (see :func:`report_lines`). ``llm`` is a fresh
    :class:`explainrec.llm.LLM` with a response cache; ``seed`` (default ``cfg.seed``) picks the change."""
    seed = cfg.seed if seed is None else seed
    s0 = _snapshot(llm)
    log("first run ...")
    first = run_stages(inputs, llm, encoder, cfg)
    s1 = _snapshot(llm)
    changed_inputs, added = add_interactions(inputs, share, per_user, seed, rating)
    log(f"rerun after {len(added)} new interactions for {added['user_id'].nunique()} users ...")
    again = run_stages(changed_inputs, llm, encoder, cfg)
    s2 = _snapshot(llm)

    def delta(a: Any, b: Any) -> dict[str, Any]:
        return {"llm_calls": b.llm_calls - a.llm_calls, "cache_hits": b.cache_hits - a.cache_hits,
                "requests": b.requests - a.requests, "prompt_tokens": b.prompt_tokens - a.prompt_tokens,
                "completion_tokens": b.completion_tokens - a.completion_tokens,
                "generation_s": round(b.seconds - a.seconds, 3)}

    r1, r2 = delta(s0, s1), delta(s1, s2)
    fresh = new_requests([], first.requests)
    changed = new_requests(first.requests, again.requests)
    distinct2 = new_requests([], again.requests)
    kinds = list(dict.fromkeys([d for d, _ in first.requests] + [d for d, _ in again.requests]))
    per_kind = {k: {"first_requests": sum(1 for d in fresh.values() if d == k),
                    "rerun_requests": sum(1 for d in distinct2.values() if d == k),
                    "changed": sum(1 for d in changed.values() if d == k)} for k in kinds}
    report = {
        "users": int(inputs.users.shape[0]), "items": int(inputs.items.shape[0]),
        "change": {"users": int(added["user_id"].nunique()), "interactions": len(added), "rating": rating,
                   "user_ids": sorted(added["user_id"].astype(str).unique().tolist()),
                   "item_ids": sorted(added["item_id"].astype(str).unique().tolist())},
        "first": {**r1, "distinct_requests": len(fresh), "wall_s": {k: round(v, 3) for k, v in first.seconds.items()}},
        "rerun": {**r2, "distinct_requests": len(distinct2), "changed_prompts": len(changed),
                  "wall_s": {k: round(v, 3) for k, v in again.seconds.items()}},
        "per_kind": per_kind,
        "changed_profiles": {
            "users": _changed_nodes(first.profiles.users, again.profiles.users, "user_id"),
            "items": _changed_nodes(first.profiles.items, again.profiles.items, "item_id"),
        },
        "pairs": int(len(first.negatives.table)),
        "pairs_with_new_candidates": _pairs_with_new_candidates(first.negatives.table, again.negatives.table),
        "ratios": {
            "calls": r2["llm_calls"] / r1["llm_calls"] if r1["llm_calls"] else None,
            "wall": again.seconds["total"] / first.seconds["total"] if first.seconds["total"] else None,
        },
    }
    report["agree"] = len(changed) == r2["llm_calls"]
    report["first_run_fresh"] = len(fresh) == r1["llm_calls"]
    return report


def report_lines(r: dict[str, Any]) -> list[str]:
    f, g, c = r["first"], r["rerun"], r["change"]
    lines = [
        f"data: {r['users']} users, {r['items']} items; {r['pairs']} CPEG pairs",
        f"first run : {f['llm_calls']:5d} LLM calls, {f['completion_tokens']:7d} tokens generated, "
        f"{f['wall_s']['total']:8.1f} s wall (profiles {f['wall_s']['profiles']:.1f}, negatives "
        f"{f['wall_s']['negatives']:.1f}, cpeg {f['wall_s']['cpeg']:.1f}; LLM generation {f['generation_s']:.1f})",
        f"change    : {c['interactions']} new interactions (rating {c['rating']:g}) for {c['users']} of "
        f"{r['users']} users",
        f"rerun     : {g['llm_calls']:5d} LLM calls, {g['completion_tokens']:7d} tokens generated, "
        f"{g['wall_s']['total']:8.1f} s wall (profiles {g['wall_s']['profiles']:.1f}, negatives "
        f"{g['wall_s']['negatives']:.1f}, cpeg {g['wall_s']['cpeg']:.1f}; LLM generation {g['generation_s']:.1f}); "
        f"{g['cache_hits']} answers from the cache",
    ]
    rc, rw = r["ratios"]["calls"], r["ratios"]["wall"]
    lines.append(f"rerun / first: calls {rc:.3f}, wall time {rw:.3f}" if rc is not None and rw is not None
                 else "rerun / first: n/a (the first run made no LLM calls)")
    lines.append("changed prompts per kind (changed / rerun's distinct prompts of that kind):")
    for kind, d in r["per_kind"].items():
        lines.append(f"  {kind:<22s}: {d['changed']:5d} / {d['rerun_requests']:5d}")
    cu, ci = r["changed_profiles"]["users"], r["changed_profiles"]["items"]
    layers = sorted(set(cu) | set(ci))
    lines.append("changed profiles: " + (", ".join(f"L{k} {cu.get(k, 0)} users / {ci.get(k, 0)} items" for k in layers)
                                           or "none") +
                 f"; CPEG pairs with other candidates: {r['pairs_with_new_candidates']} of {r['pairs']}")
    verdict = "agree" if r["agree"] else "DISAGREE"
    lines.append(f"check: prompts whose text changed (counted from the recorded requests) {g['changed_prompts']}, "
                 f"rerun LLM calls {g['llm_calls']}: {verdict}")
    if not r["first_run_fresh"]:
        lines.append(f"check: the first run made {f['llm_calls']} calls for {f['distinct_requests']} distinct "
                     "requests: the cache was not fresh")
    return lines


@click.command()
@click.option("--params", "params_path", type=click.Path(path_type=Path), default=Path("params.yaml"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--filtered", type=click.Path(path_type=Path), default=Path("data/filtered"), show_default=True)
@click.option("--encoder", type=click.Path(path_type=Path), default=Path("data/assets/encoder"), show_default=True)
@click.option("--llm", "llm_json", type=click.Path(path_type=Path), default=Path("data/assets/llm/llm.json"),
              show_default=True)
@click.option("--users-share", default=0.05, show_default=True, help="share of the users that get new interactions")
@click.option("--new-per-user", default=2, show_default=True, help="new interactions per chosen user")
@click.option("--rating", default=4.0, show_default=True, help="rating of the new interactions")
@click.option("--max-users", type=int, default=None, help="only the first N users (and their items): a quick run")
@click.option("--max-new-tokens", type=int, default=None, help="override profiles.max_new_tokens")
@click.option("-S", "--set", "sets", multiple=True, help="override a param, e.g. -S cpeg.max_new_tokens=16")
@click.option("--threads", type=int, default=None,
              help="torch CPU threads for the local backend (default: llm.json's; 0 = all cores)")
@click.option("--seed", type=int, default=None, help="seed of the change (default: params.yaml's seed)")
@click.option("--progress", is_flag=True, help="show the LLM progress bars")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the numbers as JSON here")
def main(params_path: Path, splits: Path, filtered: Path, encoder: Path, llm_json: Path, users_share: float,
         new_per_user: int, rating: float, max_users: int | None, max_new_tokens: int | None, sets: tuple[str, ...],
         threads: int | None, seed: int | None, progress: bool, json_path: Path | None) -> None:
    from explainrec.core.encoder import load_encoder
    from explainrec.core.errors import ExplainrecError
    from explainrec.llm import load_spec, open_llm

    if not 0 < users_share <= 1:
        raise click.BadParameter("a share in (0, 1]", param_hint="--users-share")
    if new_per_user < 1:
        raise click.BadParameter("at least 1", param_hint="--new-per-user")
    try:
        params = yaml.safe_load(params_path.read_text())
        if max_new_tokens is not None:
            sets = (f"profiles.max_new_tokens={max_new_tokens}", *sets)
        cfg = configs_from_params(apply_overrides(params, sets))
        if cfg.profiles.passthrough:
            sys.exit("profiles.passthrough is true: the profiles stage calls no LLM; nothing to measure")
        inputs = restrict_users(load_inputs(splits, filtered), max_users)
        enc = load_encoder(encoder)
        with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
            spec = load_spec(llm_json)
            if threads is not None:
                spec = replace(spec, threads=threads)  # not part of the cache identity
            llm = open_llm(spec, cache_path=Path(tmp) / "responses.sqlite", desc="bench", progress=progress)
            enc.encode(["warm up"], batch_size=1, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)  # load the encoder before the clock starts
            click.echo(f"llm {llm.identity}; cache {Path(tmp) / 'responses.sqlite'} (fresh)", err=True)
            report = run_incremental(inputs, llm, enc, cfg, users_share, new_per_user, rating, seed,
                                     log=lambda s: click.echo(s, err=True))
            llm.cache.close()
    except (ExplainrecError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    for line in report_lines(report):
        click.echo(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    if not report["agree"] or not report["first_run_fresh"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
