"""Ground-truth quality (paper 000 §4.4): CPEG per (k, m), XRec's review rewrite, and a judge's pick.

    python stages/ground_truth.py cpeg --variant k2_m5 --out data/ground_truth/cpeg/k2_m5 --metrics metrics/ground_truth/cpeg_k2_m5.json
    python stages/ground_truth.py rewrite --out data/ground_truth/rewrite --metrics metrics/ground_truth/rewrite.json
    python stages/ground_truth.py judge --cpeg data/ground_truth/cpeg --rewrite data/ground_truth/rewrite --out data/ground_truth/judge --metrics metrics/ground_truth.json --plot metrics/plots/gt_win_rates.csv

All three work on the same pairs: a seeded sample of ``ground_truth.max_pairs``
test pairs of the negatives stage. ``cpeg`` (run by dvc.yaml once per entry of
``ground_truth.variants``: ``gt_cpeg@<name>``) mines ``k`` hard and ``m`` random
negatives for them and runs CPEG with the ``cpeg`` section's settings; with the
negatives stage's (k, m) its prompts are the cpeg stage's, so they come from the
response cache. ``rewrite`` turns each pair's review into XRec's ground truth
(paper 001 Eq. 14); a dataset without reviews gives an empty table. ``judge``
asks the judge LLM (``evaluate.judge``) for the best candidate of each pair, twice
(seeded order, then reversed), and writes win rates and position-bias figures.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import load_params, one_line_errors, section

CPEG_FILE = "explanations.parquet"
REWRITE_FILE = "rewrites.parquet"
KEYS = ("max_pairs", "include_unverified", "rewrite_max_new_tokens", "variants")


def _settings(params: dict) -> dict:
    from explainrec.config import check_section
    from explainrec.errors import ParamError

    gt = check_section(section(params, "ground_truth"), "ground_truth", KEYS)
    max_pairs = gt.get("max_pairs")
    if max_pairs is not None and (isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1):
        raise ParamError("ground_truth.max_pairs", "a positive integer, or null for every test pair", max_pairs)
    if not isinstance(gt.get("include_unverified", True), bool):
        raise ParamError("ground_truth.include_unverified", "true or false", gt.get("include_unverified"))
    variants = gt.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise ParamError("ground_truth.variants", "a mapping of names to {k, m}", variants)
    return gt


def _pairs(params: dict, negatives: Path):
    from explainrec.cpeg.negatives import FILE, read_negatives
    from explainrec.evaluation.ground_truth import select_pairs

    return select_pairs(read_negatives(negatives / FILE), _settings(params).get("max_pairs"),
                        int(section(params, "seed")))


def _reviews(splits: Path) -> dict:
    import pandas as pd

    from explainrec.io import read_table

    df = pd.concat([read_table(splits / f"{s}.parquet", s + " split") for s in ("train", "test")], ignore_index=True)
    if "review" not in df.columns:
        return {}
    return {(str(u), str(i)): (None if pd.isna(r) else str(r)) for u, i, r in zip(df.user_id, df.item_id, df.review)}


@click.group()
def cli() -> None:
    """Ground-truth quality (paper 000 §4.4)."""


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--variant", required=True, help="a key of ground_truth.variants")
@click.option("--negatives", type=click.Path(path_type=Path), default=Path("data/negatives"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--filtered", type=click.Path(path_type=Path), default=Path("data/filtered"), show_default=True)
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--encoder", type=click.Path(path_type=Path), default=Path("data/assets/encoder"), show_default=True)
@click.option("--llm", "llm_path", type=click.Path(path_type=Path), default=Path("data/assets/llm/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@one_line_errors
def cpeg(params_path: str, variant: str, negatives: Path, splits: Path, filtered: Path, profiles: Path, encoder: Path,
         llm_path: Path, out: Path, metrics: Path) -> None:
    """CPEG with one variant's (k, m) on the compared pairs."""
    import pandas as pd

    from explainrec.config import check_layer
    from explainrec.cpeg.loop import config_from_section, generate_explanations, write_explanations
    from explainrec.cpeg.negatives import NegativeConfig, load_encoder, sample_negatives
    from explainrec.errors import ParamError
    from explainrec.evaluation.ground_truth import KM
    from explainrec.io import atomic_dir, read_table, write_json
    from explainrec.llm import open_llm
    from explainrec.profiles.store import load_profiles

    params = load_params(params_path)
    variants = _settings(params)["variants"]
    if variant not in variants:
        raise ParamError("ground_truth.variants", f"an entry '{variant}'", sorted(variants))
    km = KM.from_dict(variant, variants[variant])
    seed = int(section(params, "seed"))
    config, layer = config_from_section(section(params, "cpeg"), seed)
    neg_layer = check_layer((section(params, "negatives") or {}).get("profile_layer", -1), "negatives.profile_layer")

    pairs = _pairs(params, negatives)
    parts = {"test": pairs}
    interactions = read_table(filtered / "interactions.parquet", "interactions")
    users, items = load_profiles(profiles, user_layer=neg_layer, item_layer=neg_layer)
    mined = sample_negatives(parts, interactions, users, items, load_encoder(encoder),
                             NegativeConfig(km.k, km.m, where=f"ground_truth.variants.{variant}"), seed)
    split_rows = pd.concat([read_table(splits / f"{s}.parquet", s + " split") for s in ("train", "test")],
                           ignore_index=True)
    item_table = read_table(filtered / "items.parquet", "items")
    users, item_profiles = load_profiles(profiles, user_layer=layer, item_layer=layer)
    llm = open_llm(llm_path, desc=f"gt cpeg {variant}")
    result = generate_explanations(mined.table, split_rows, item_table, users, item_profiles, llm, config,
                                   source=f"ground_truth.variants.{variant}")
    with atomic_dir(out) as tmp:
        write_explanations(result.table, tmp / CPEG_FILE)
    m = result.metrics["test"]
    write_json(metrics, {"variant": variant, "k": km.k, "m": km.m, **m, "negatives": mined.metrics["test"],
                         "llm": llm.stats.as_metrics()})
    click.echo(f"gt cpeg {variant} (k={km.k}, m={km.m}): {m['pairs']} pairs, first try "
               f"{m.get('first_try_accuracy', 0):.1%}, after retries {m.get('accuracy_after_retries', 0):.1%}; "
               f"{llm.stats.llm_calls} LLM calls, {llm.stats.cache_hits} cached")


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--negatives", type=click.Path(path_type=Path), default=Path("data/negatives"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--llm", "llm_path", type=click.Path(path_type=Path), default=Path("data/assets/llm/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@one_line_errors
def rewrite(params_path: str, negatives: Path, splits: Path, llm_path: Path, out: Path, metrics: Path) -> None:
    """XRec's ground truth (paper 001 Eq. 14): the LLM rewrites each compared pair's review."""
    from explainrec.errors import ParamError
    from explainrec.evaluation.ground_truth import rewrite_reviews
    from explainrec.io import atomic_dir, write_json
    from explainrec.llm import open_llm

    params = load_params(params_path)
    max_new = _settings(params).get("rewrite_max_new_tokens", 80)
    if isinstance(max_new, bool) or not isinstance(max_new, int) or max_new < 1:
        raise ParamError("ground_truth.rewrite_max_new_tokens", "a positive integer", max_new)
    pairs = _pairs(params, negatives)
    reviews = _reviews(splits)
    with_review = sum(1 for u, i in zip(pairs.user_id, pairs.item_id) if (reviews.get((u, i)) or "").strip())
    llm = open_llm(llm_path, desc="gt xrec rewrite") if with_review else None
    table = rewrite_reviews(llm, pairs, reviews, max_new)
    with atomic_dir(out) as tmp:
        table.to_parquet(tmp / REWRITE_FILE, index=False)
    result = {"pairs": len(pairs), "with_review": with_review, "rewritten": len(table),
              "llm": llm.stats.as_metrics() if llm else None}
    if not with_review:
        result["note"] = "the dataset has no reviews for these pairs: no review or XRec candidates"
    write_json(metrics, result)
    click.echo(f"gt rewrite: {len(table)} of {len(pairs)} pairs have a review and were rewritten")


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--negatives", type=click.Path(path_type=Path), default=Path("data/negatives"), show_default=True)
@click.option("--splits", type=click.Path(path_type=Path), default=Path("data/splits"), show_default=True)
@click.option("--profiles", type=click.Path(path_type=Path), default=Path("data/profiles"), show_default=True)
@click.option("--cpeg", "cpeg_dir", type=click.Path(path_type=Path), default=Path("data/ground_truth/cpeg"),
              show_default=True)
@click.option("--rewrite", "rewrite_dir", type=click.Path(path_type=Path), default=Path("data/ground_truth/rewrite"),
              show_default=True)
@click.option("--judge", "judge_json", type=click.Path(path_type=Path), default=Path("data/assets/judge/llm.json"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--plot", type=click.Path(path_type=Path), required=True)
@one_line_errors
def judge(params_path: str, negatives: Path, splits: Path, profiles: Path, cpeg_dir: Path, rewrite_dir: Path,
          judge_json: Path, out: Path, metrics: Path, plot: Path) -> None:
    """The judge's pick among review, XRec rewrite and the CPEG variants, twice (order reversed)."""
    import pandas as pd

    from explainrec.evaluation.ground_truth import REVIEW, XREC, candidate_sets, judge as run_judge
    from explainrec.io import atomic_dir, atomic_file, read_table, write_json
    from explainrec.llm import open_llm
    from explainrec.profiles.store import load_profiles

    params = load_params(params_path)
    gt = _settings(params)
    pairs = _pairs(params, negatives)
    reviews = _reviews(splits)
    sources = {REVIEW: pd.DataFrame({"user_id": list(pairs.user_id), "item_id": list(pairs.item_id),
                                     "explanation": [reviews.get((u, i)) for u, i in zip(pairs.user_id, pairs.item_id)]})}
    sources[XREC] = read_table(rewrite_dir / REWRITE_FILE, "XRec rewrites", "the gt_rewrite stage",
                               ("user_id", "item_id", "explanation"))
    verified = {}
    for name in gt["variants"]:
        table = read_table(cpeg_dir / name / CPEG_FILE, f"CPEG explanations ({name})", f"gt_cpeg@{name}",
                           ("user_id", "item_id", "explanation", "verified"))
        verified[f"cpeg_{name}"] = round(float(table["verified"].mean()), 4) if len(table) else None
        if not gt.get("include_unverified", True):
            table = table[table["verified"]]
        sources[f"cpeg_{name}"] = table
    sets = candidate_sets(pairs, sources)
    users, items = load_profiles(profiles)
    llm = open_llm(judge_json, desc="gt judge")
    table, result = run_judge(llm, sets, users, items, int(section(params, "seed")))
    with atomic_dir(out) as tmp:
        table.to_parquet(tmp / "choices.parquet", index=False)
    for name, share in verified.items():
        result["sources"].setdefault(name, {"candidate_in": 0, "wins": 0, "win_rate": None})["verified_share"] = share
    write_json(metrics, {"pairs": len(pairs), "include_unverified": gt.get("include_unverified", True), **result,
                         "judge": llm.identity, "llm": llm.stats.as_metrics()})
    rows = pd.DataFrame([{"source": s, "win_rate": v["win_rate"]} for s, v in result["sources"].items()
                         if v["win_rate"] is not None], columns=["source", "win_rate"])
    with atomic_file(plot) as tmp:
        rows.to_csv(tmp, index=False)
    rates = ", ".join(f"{s} {v['win_rate']:.0%}" for s, v in result["sources"].items() if v["win_rate"] is not None)
    click.echo(f"gt judge: {result['pairs_judged']} of {len(pairs)} pairs had two or more candidates; "
               f"win rates: {rates or 'none (no readable pick)'}; runs agree on {result['consistent_share']}")


if __name__ == "__main__":
    cli()
