"""Where the local backend's time goes, and what prefix reuse and dropping finished rows save.

    python bench/llm_profile.py                       # after `dvc repro cpeg`: the prompts it sent
    python bench/llm_profile.py --cpeg-pairs 8 --pghis 16 --batch-size 16 --json out.json

The workloads are prompts the pipeline really sent, read back from the LLM
response cache (``$EXPLAINREC_CACHE``, else ``.cache/explainrec``; ``--cache``):

- ``pghis L0 users`` and ``pghis L1 items``: ``--pghis`` prompts of each (P_init
  for users, P_agg for items), one ``LLM.chat`` each, as the profiles stage sends them;
- ``cpeg``: ``--cpeg-pairs`` pairs in rounds as the CPEG stage sends them: every
  pair's first prompt P, then its P_retry prompts (P plus the earlier wrong answers).

Each workload runs in one process per mode, greedy, with a fresh backend and no
response cache, in the same run:

- ``base``  no prefix reuse, finished rows keep decoding padding (what ``model.generate`` does);
- ``reuse`` prefix reuse (a batch's shared opening computed once; a retry reuses its first prompt);
- ``full``  prefix reuse and finished rows leave the batch (the project's default).

For ``base`` it prints the share of time in prefill and in decode, the share of
prefill work that is padding and the share of decode work spent on rows that had
already finished (token-slot shares of the measured prefill and decode times);
for every mode its time, the ratio to ``base`` and how many outputs are
identical to ``base``'s. The machine (CPU model, AMX, dtype, threads) heads the report.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

DEFAULT_LLM = "data/assets/llm/llm.json"
MODES = {"base": (0, False), "reuse": (None, False), "full": (None, True)}


def cached_requests(cache: Path, identity: str) -> list[tuple[list[list[str]], dict[str, Any]]]:
    """Every (messages, params) the response cache holds for ``identity``, oldest first."""
    if not cache.is_file():
        sys.exit(f"no response cache at {cache}: run `dvc repro cpeg` first (or pass --cache)")
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT request FROM responses WHERE identity = ? AND request != '' ORDER BY created",
                          (identity,)).fetchall()
    return [(d["messages"], d["params"]) for d in (json.loads(r) for (r,) in rows)]


def workloads(requests: Sequence[tuple[list[list[str]], dict[str, Any]]], n_pghis: int,
              n_pairs: int) -> dict[str, list[list[Any]]]:
    """``{name: [round 1 requests, round 2 requests, ...]}`` from the cached requests."""
    from explainrec.cpeg.prompts import RETRY_HEADER, SYSTEM_PROMPT
    from explainrec.llm import ChatRequest, GenerationConfig
    from explainrec.profiles.prompts import P_AGG_ITEM, P_INIT_USER

    def req(messages: list[list[str]], params: dict[str, Any]) -> Any:
        return ChatRequest(tuple((r, c) for r, c in messages), GenerationConfig(**params))

    def system(messages: list[list[str]]) -> str:
        return messages[0][1] if messages[0][0] == "system" else ""

    out: dict[str, list[list[Any]]] = {}
    for name, prompt in (("pghis L0 users", P_INIT_USER), ("pghis L1 items", P_AGG_ITEM)):
        rows = [req(m, p) for m, p in requests if system(m) == prompt][:n_pghis]
        if rows:
            out[name] = [rows]
    cpeg = [(m, p) for m, p in requests if system(m) == SYSTEM_PROMPT]
    firsts = [(m, p) for m, p in cpeg if RETRY_HEADER not in m[-1][1]][:n_pairs]
    if firsts:
        rounds: list[list[Any]] = [[req(m, p) for m, p in firsts]]
        heads = [m[-1][1].rsplit("\n\n", 1)[0] for m, _ in firsts]  # P without its closing question
        retries = [(m, p) for m, p in cpeg if RETRY_HEADER in m[-1][1] and
                   any(m[-1][1].startswith(h + "\n\n" + RETRY_HEADER) for h in heads)]
        for k in (1, 2):  # P_retry with one, then two error examples
            rk = [req(m, p) for m, p in retries if m[-1][1].count("\n- ") == k]
            if rk:
                rounds.append(rk)
        out["cpeg"] = rounds
    return out


def run_mode(spec: Any, mode: str, rounds: list[list[Any]]) -> dict[str, Any]:
    """One workload in one mode: a fresh backend, rounds in order, no response cache."""
    import dataclasses

    from explainrec.llm import LLM
    from explainrec.llm.local import TransformersBackend

    mb, drop = MODES[mode]
    spec = dataclasses.replace(spec, prefix_cache_mb=spec.prefix_cache_mb if mb is None else mb, drop_finished=drop)
    backend = TransformersBackend(spec)
    warm = rounds[0][0]
    backend.generate([dataclasses.replace(warm, params=dataclasses.replace(warm.params, max_new_tokens=2))])
    if backend.prefix_store is not None:
        backend.prefix_store.clear()
    backend.profile = type(backend.profile)()
    llm = LLM(backend, None, progress=False)
    texts: list[str] = []
    t0 = time.perf_counter()
    for r in rounds:
        texts += [c.text for c in llm.chat(r)]
    seconds = time.perf_counter() - t0
    res = {"mode": mode, "seconds": round(seconds, 3), "texts": texts, "profile": backend.profile.as_metrics(),
           "machine": backend.machine}
    del backend, llm
    gc.collect()
    return res


def shares(p: dict[str, Any]) -> dict[str, float]:
    """Shares of the measured time: prefill, decode, padding (within prefill), finished rows (within decode)."""
    pre = p["prefix_s"] + p["prefill_s"]
    total = pre + p["decode_s"]
    slots = p["prefill_tokens"] + p["pad_tokens"] + p["prefix_tokens"]
    return {
        "prefill": pre / total if total else 0.0,
        "decode": p["decode_s"] / total if total else 0.0,
        "padding": (p["prefill_s"] * p["pad_tokens"] / slots) / total if slots and total else 0.0,
        "finished_rows": (p["decode_s"] * p["finished_row_steps"] / p["row_steps"]) / total
        if p["row_steps"] and total else 0.0,
    }


@click.command()
@click.option("--llm", "llm_json", default=DEFAULT_LLM, show_default=True, help="the llm.json of `dvc repro assets_llm`")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="response cache to read the prompts from (default: the pipeline's)")
@click.option("--pghis", "n_pghis", default=16, show_default=True, help="prompts per PGHIS workload")
@click.option("--cpeg-pairs", default=8, show_default=True, help="CPEG pairs (each with its retries)")
@click.option("--batch-size", default=16, show_default=True, help="prompts per batch")
@click.option("--threads", default=0, show_default=True, help="torch CPU threads (0 = all cores)")
@click.option("--dtype", default="auto", show_default=True, help="auto, float32 or bfloat16")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the numbers as JSON here")
def main(llm_json: str, cache_path: Path | None, n_pghis: int, cpeg_pairs: int, batch_size: int, threads: int,
         dtype: str, json_path: Path | None) -> None:
    import dataclasses

    from transformers.utils import logging as hf_logging

    from explainrec.llm import default_cache_path, load_spec
    from explainrec.llm.local import backend_identity, pick_device, pick_dtype

    if not Path(llm_json).is_file():
        sys.exit(f"no {llm_json}: run `dvc repro assets_llm` first (or pass --llm)")
    hf_logging.disable_progress_bar()
    spec = load_spec(llm_json)
    if spec.backend != "transformers":
        sys.exit(f"{llm_json} names a {spec.backend} backend; this bench profiles the local transformers backend")
    spec = dataclasses.replace(spec, batch_size=batch_size, threads=threads, dtype=dtype, device="cpu")
    identity = backend_identity(spec, pick_dtype(dtype, pick_device("cpu")))
    loads = workloads(cached_requests(cache_path or default_cache_path(), identity), n_pghis, cpeg_pairs)
    if not loads:
        sys.exit(f"the response cache holds no PGHIS or CPEG prompts for {identity}: run `dvc repro cpeg` first")
    report: dict[str, Any] = {"workloads": {}}
    for name, rounds in loads.items():
        results = {m: run_mode(spec, m, rounds) for m in MODES}
        report["machine"] = results["base"]["machine"]
        base = results["base"]
        entry = {"requests": sum(len(r) for r in rounds), "rounds": len(rounds),
                 "base_shares": {k: round(v, 4) for k, v in shares(base["profile"]).items()}, "modes": {}}
        for m, r in results.items():
            same = sum(a == b for a, b in zip(r["texts"], base["texts"]))
            entry["modes"][m] = {"seconds": r["seconds"], "ratio_to_base": round(base["seconds"] / r["seconds"], 3),
                                 "identical_to_base": same, "profile": r["profile"]}
        report["workloads"][name] = entry
        click.echo(f"... {name} done", err=True)
    mach = report["machine"]
    click.echo(f"machine: {mach['cpu']}, AMX {'yes' if mach['amx'] else 'no'}, {mach['dtype']}, "
               f"{mach['threads']} threads of {mach['cores']} cores; batch {batch_size}, greedy")
    for name, e in report["workloads"].items():
        s = e["base_shares"]
        p = e["modes"]["base"]["profile"]
        click.echo(f"{name}: {e['requests']} requests in {e['rounds']} round(s), "
                   f"{p['prompt_tokens']} prompt tokens, {p['new_tokens']} new tokens")
        click.echo(f"  base time: prefill {s['prefill']:.1%}, decode {s['decode']:.1%}; padding {s['padding']:.1%}, "
                   f"finished rows still decoding {s['finished_rows']:.1%}")
        for m, d in e["modes"].items():
            q = d["profile"]
            click.echo(f"  {m:5s} {d['seconds']:8.2f} s = {d['ratio_to_base']:5.2f}x base; reused "
                       f"{q['reused_share']:.1%} of prompt tokens; identical to base: "
                       f"{d['identical_to_base']}/{e['requests']}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
