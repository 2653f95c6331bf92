"""The explainer on a table of reference explanations (XRec's), over a small sweep, in one run.

    python bench/reference_table.py --table ../shared/data/xrec/amazon/tst.parquet
    python bench/reference_table.py --table ../shared/data/xrec/google/tst.parquet --configs base,fig4 --json g.json

Reads a precomputed table (uid, iid, title, user_summary, item_summary,
explanation; the ``precomputed`` adapter), splits its rows at random (the
split stage's ``rows`` method, ``--ratios``, seeded), passes its profiles
through, and for each configuration of the sweep fine-tunes the SFT base model
(``--base``, the assets_sft_base stage's folder) on a seeded sample of
``--train`` train rows, then explains ``--test`` test rows greedily, with no
response cache, through the same code as the sft and generate stages
(:func:`explainrec.core.explanation_pairs.build_pairs`, :func:`explainrec.sft.train.train_sft`,
:func:`explainrec.sft.generate.explain_with_model`). Each configuration changes
one thing of ``base`` (the library's SFT defaults with ``targets: reference``):
the target form, the item title in the prompt, the learning rate, LoRA's rank
and modules, the epochs, the number of train pairs.

The generated texts are scored as written, against the references as written,
with the project's metric code (BERTScore-F1 on ``--encoder`` at layer 6,
rouge-score ROUGE-L F1, sacreBLEU sentence BLEU-4, USR), beside their mean
length in words and the count with two openings; then each configuration's
difference from the first one named in ``--configs``, pair by pair on the same
test pairs, with its 95 % paired bootstrap interval. The machine (CPU model, AMX,
dtype, threads) heads the report; each row gives its SFT and generation seconds.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
#: name -> (what it changes, SFTTrainConfig overrides; "train_factor" scales --train)
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "base": ("the defaults: as_written targets, title in the prompt, LoRA r 8 on q/k/v/o, lr 1e-3, 1 epoch", {}),
    "fig4": ("targets in Fig. 4's form", {"target_form": "fig4"}),
    "no_title": ("no item title in the prompt (Fig. 4's prompt)", {"item_title": False}),
    "lr_2e-4": ("learning rate 2e-4 (LoRA's usual rate, the default before this sweep)", {"learning_rate": 2e-4}),
    "lr_3e-3": ("learning rate 3e-3", {"learning_rate": 3e-3}),
    "r16_all": ("LoRA r 16, alpha 32, on every linear layer", {"lora_r": 16, "lora_alpha": 32, "target_modules": LINEAR}),
    "epochs_2": ("2 epochs", {"epochs": 2}),
    "train_x2": ("twice the train pairs", {"train_factor": 2}),
}


def load_rows(table: Path, ratios: tuple[float, float, float], seed: int) -> dict[str, Any]:
    """The table's train and test rows (``{split: (user_id, item_id, explanation)}``), its
    profiles (``users``, ``items``) and item names, after the seeded row split."""
    from explainrec.core.explanation_pairs import item_names
    from explainrec.data.adapters.precomputed import load
    from explainrec.data.split import SplitConfig, assign_splits

    data = load(table)
    inter = data.interactions
    split = assign_splits(inter, SplitConfig(ratios=ratios, method="rows"), seed)
    rows = {s: inter.loc[split == s, ["user_id", "item_id", "explanation"]].astype(str).reset_index(drop=True)
            for s in ("train", "test")}
    users = dict(zip(data.users["user_id"].astype(str), data.users["profile"].astype(str)))
    items = dict(zip(data.items["item_id"].astype(str), data.items["profile"].astype(str)))
    return {"rows": rows, "users": users, "items": items, "names": item_names(data.items)}


def run_config(name: str, inputs: dict[str, Any], base: Path, encoder: Path, n_train: int, n_test: int,
               seed: int, threads: int, max_new_tokens: int) -> dict[str, Any]:
    """Fine-tune and generate with one configuration; its scores and seconds."""
    from explainrec.core.explanation_pairs import build_pairs
    from explainrec.core.explanation_prompt import has_two_openings
    from explainrec.evaluation.text import bertscore, bleu, rouge, usr
    from explainrec.sft.generate import explain_with_model, open_model_llm
    from explainrec.sft.params import SFTGenerateConfig, SFTTrainConfig
    from explainrec.sft.train import sample_pairs, train_sft

    overrides = dict(CONFIGS[name][1])
    factor = overrides.pop("train_factor", 1)
    params = replace(SFTTrainConfig(targets="reference", eval_on_start=False, threads=threads), **overrides)
    names = params.item_names(inputs["names"])
    pairs = {s: build_pairs(inputs["rows"][s], inputs["users"], inputs["items"], names, params.target_form)[0]
             for s in ("train", "test")}
    train = sample_pairs(pairs["train"], n_train * factor, seed)
    test = sample_pairs(pairs["test"], n_test, seed)
    with tempfile.TemporaryDirectory(prefix=f"bench-ref-{name}-") as out:
        sft = train_sft(train, None, base, out, params, seed)
        t0 = time.perf_counter()
        llm = open_model_llm(Path(out) / "model", SFTGenerateConfig(max_new_tokens=max_new_tokens, threads=threads),
                             name=name, progress=False, use_cache=False)
        table = explain_with_model(llm, test, max_new_tokens)
        gen_seconds = time.perf_counter() - t0
        machine = llm.stats.machine
        del llm
    gc.collect()
    cands, refs = list(table["explanation"]), list(table["reference"])
    words = [len(c.split()) for c in cands]
    bs, rg, bl = bertscore(cands, refs, encoder), rouge(cands, refs)["rougeL"], bleu(cands, refs)
    pairs_out = table.assign(bertscore_f1=bs["per_sample"]["f1"], rougeL_f1=rg["per_sample"]["f1"],
                             bleu4=bl["per_sample"]["bleu4"])
    return {
        "config": name, "changes": CONFIGS[name][0], "train_pairs": len(train), "test_pairs": len(test),
        "bertscore_f1": round(bs["f1"], 4),
        "rougeL_f1": round(rg["f1"], 4),
        "bleu4": round(bl["bleu4"], 4),
        "usr": round(usr(cands)["usr"], 4),
        "mean_words": round(sum(words) / len(words), 1),
        "reference_words": round(sum(len(r.split()) for r in refs) / len(refs), 1),
        "two_openings": int(sum(map(has_two_openings, cands))),
        "sft_seconds": sft["seconds"], "generate_seconds": round(gen_seconds, 2),
        "train_loss": sft["train_loss"], "machine": machine, "example": cands[0],
        "pairs": pairs_out.to_dict("records"),
    }


SCORES = ("bertscore_f1", "rougeL_f1", "bleu4")


def differences(first: dict[str, Any], other: dict[str, Any], seed: int, resamples: int = 2000) -> dict[str, Any]:
    """``other`` minus ``first`` on the test pairs both explained, per score: the mean
    difference and its 95 % paired bootstrap interval (:func:`explainrec.evaluation.bootstrap.bootstrap_mean`)."""
    import pandas as pd

    from explainrec.evaluation.bootstrap import bootstrap_mean

    a, b = pd.DataFrame(first["pairs"]), pd.DataFrame(other["pairs"])
    m = a.merge(b, on=["user_id", "item_id"], suffixes=("_a", "_b"))
    return {k: bootstrap_mean((m[f"{k}_b"] - m[f"{k}_a"]).to_numpy(), resamples, 0.95, seed).to_dict(4)
            for k in SCORES}


def _ratios(text: str) -> tuple[float, float, float]:
    parts = [float(x) for x in text.split(",")]
    if len(parts) != 3:
        raise click.BadParameter("three numbers, profile,train,test, e.g. 8,1,1")
    return parts[0], parts[1], parts[2]


@click.command()
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="a precomputed table, e.g. ../shared/data/xrec/amazon/tst.parquet")
@click.option("--base", type=click.Path(file_okay=False, path_type=Path), default=Path("data/assets/sft_base/model"),
              show_default=True, help="the SFT base model folder (`dvc repro assets_sft_base`)")
@click.option("--encoder", type=click.Path(file_okay=False, path_type=Path), default=Path("data/assets/encoder"),
              show_default=True, help="the BERTScore encoder folder (`dvc repro assets_encoder`)")
@click.option("--configs", default=",".join(CONFIGS), show_default=True, help="comma-separated names of the sweep")
@click.option("--train", "n_train", type=click.IntRange(1), default=64, show_default=True, help="train pairs (seeded sample)")
@click.option("--test", "n_test", type=click.IntRange(1), default=48, show_default=True, help="test pairs (seeded sample)")
@click.option("--ratios", default="8,1,1", show_default=True, callback=lambda c, p, v: _ratios(v),
              help="the row split, profile,train,test (the profile part is unused: profiles are passed through)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(0), default=0, show_default=True, help="torch threads; 0: all cores")
@click.option("--max-new-tokens", type=click.IntRange(1), default=96, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the figures here")
def main(table: Path, base: Path, encoder: Path, configs: str, n_train: int, n_test: int,
         ratios: tuple[float, float, float], seed: int, threads: int, max_new_tokens: int,
         json_out: Path | None) -> None:
    names = [c.strip() for c in configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        sys.exit(f"--configs: unknown {', '.join(unknown)}; expected names from {', '.join(CONFIGS)}")
    for path, what in ((table, "the reference table"), (base / "config.json", "the SFT base model"),
                       (encoder, "the encoder")):
        if not path.exists():
            sys.exit(f"{what} is absent: no {path}")
    inputs = load_rows(table, ratios, seed)
    click.echo(f"{table}: {len(inputs['rows']['train'])} train rows, {len(inputs['rows']['test'])} test rows")
    results = []
    for name in names:
        results.append(run_config(name, inputs, base, encoder, n_train, n_test, seed, threads, max_new_tokens))
        r = results[-1]
        click.echo(f"{name}: BERTScore-F1 {r['bertscore_f1']:.4f}, ROUGE-L {r['rougeL_f1']:.4f}, "
                   f"BLEU-4 {r['bleu4']:.4f}, USR {r['usr']:.3f}, {r['mean_words']} words, "
                   f"{r['two_openings']} with two openings; SFT {r['sft_seconds']:.0f} s, "
                   f"generate {r['generate_seconds']:.0f} s", err=True)
    mach = results[0]["machine"] or {}
    click.echo(f"machine: {mach.get('cpu', '?')}, AMX {mach.get('amx', '?')}, {mach.get('dtype', '?')}, "
               f"{mach.get('threads', '?')} threads; {results[0]['train_pairs']} train pairs (x2 in train_x2), "
               f"{results[0]['test_pairs']} test pairs, references {results[0]['reference_words']} words on average")
    click.echo("| config | what changes | BERTScore-F1 | ROUGE-L | BLEU-4 | USR | words | two openings | SFT s | generate s |")
    click.echo("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        click.echo(f"| {r['config']} | {r['changes']} | {r['bertscore_f1']:.4f} | {r['rougeL_f1']:.4f} | "
                   f"{r['bleu4']:.4f} | {r['usr']:.3f} | {r['mean_words']} | {r['two_openings']} | "
                   f"{r['sft_seconds']:.0f} | {r['generate_seconds']:.0f} |")
    base_name = results[0]["config"]
    click.echo(f"\ndifference vs {base_name} on the same test pairs (95 % paired bootstrap interval, 2000 resamples, "
               f"seed {seed}; **: the interval excludes 0)")
    click.echo("| config | BERTScore-F1 | ROUGE-L | BLEU-4 |")
    click.echo("|---|---|---|---|")
    for r in results[1:]:
        r["vs_first"] = differences(results[0], r, seed)
        cells = []
        for k in SCORES:
            d = r["vs_first"][k]
            cell = (f"{d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]" if d["ci_low"] is not None
                    else "n/a (under 2 pairs)")
            cells.append(f"**{cell}**" if d["excludes_0"] else cell)
        click.echo(f"| {r['config']} | " + " | ".join(cells) + " |")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
