"""The result blocks of README.md and the pages of docs/, rendered from the committed metrics.

Every figure of the default run that README.md or a page of ``docs/`` shows sits in a
generated block::

    <!-- generated: recpie -->

    ...markdown rendered from metrics/recpie.json...

    <!-- /generated: recpie -->

(HTML comments: a Markdown renderer shows neither marker, and keeps what is between them.)
Each block has a renderer in :data:`RENDERERS` that reads one or a few files under
``metrics/`` (JSON, the stage-written ``*.md`` tables, the CSVs under ``metrics/plots``) and
returns a compact Markdown table or list, closed by a line naming the files it read. Verdicts
("the 95 % interval [a, b] contains 0: no measurable difference") are derived from the
numbers, so no sentence of the docs can state a comparison its metrics no longer support.

``python -m explainrec.report.readme`` rewrites the blocks in place (atomically), in the files
it is given or, by default, in README.md and every ``docs/*.md`` that holds a block
(:func:`block_files`); ``--check`` rewrites nothing and exits 1 naming the blocks whose copy
differs from what the committed metrics give. ``tests/report/test_readme.py`` runs the check.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pandas as pd

from explainrec.core.errors import ExplainrecError
from explainrec.core.io import atomic_file

#: how one regenerates every block
COMMAND = "python -m explainrec.report.readme"
OPEN = re.compile(r"^<!-- generated: ([A-Za-z0-9_-]+) -->$")
CLOSE = re.compile(r"^<!-- /generated: ([A-Za-z0-9_-]+) -->$")
#: the files the CLI renders when it is given none: README.md, then every page of docs/ with a block
README = "README.md"
DOCS = "docs/*.md"


class ReadmeError(ExplainrecError):
    """A missing or malformed metrics file, or a malformed block in a Markdown file."""


# --- reading the metrics ---------------------------------------------------------------------

class Doc:
    """One parsed JSON metrics file; ``doc["a.b.0"]`` walks keys and list indices and names
    the file and the path when one is missing."""

    def __init__(self, data: Any, where: str):
        self.data, self.where = data, where

    def get(self, path: str, default: Any = ...) -> Any:
        node = self.data
        for part in path.split(".") if path else ():
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif default is not ...:
                return default
            else:
                raise ReadmeError(f"{self.where}: no '{path}' in it (written by an older stage? run `dvc repro`)")
        return node

    def __getitem__(self, path: str) -> Any:
        return self.get(path)

    def sub(self, path: str) -> "Doc":
        """The mapping at ``path``, as a :class:`Doc` of its own."""
        node = self.get(path)
        if not isinstance(node, dict):
            raise ReadmeError(f"{self.where}: '{path}' is not a mapping")
        return Doc(node, f"{self.where} ({path})")


class Metrics:
    """The metrics folder, read by renderers: every file read is remembered, in order, so that
    the block can name its sources. ``label`` is how the folder is named in those lines."""

    def __init__(self, root: str | Path, label: str = "metrics"):
        self.root, self.label = Path(root), label
        self.read: list[str] = []

    def _path(self, rel: str) -> Path:
        path = self.root / rel
        shown = f"{self.label}/{rel}"
        if not path.is_file():
            raise ReadmeError(f"{shown}: missing (a stage of the pipeline writes it: run `dvc repro`)")
        if rel not in self.read and not any(fnmatch.fnmatchcase(rel, g) for g in self.read if "*" in g):
            self.read.append(rel)
        return path

    def json(self, rel: str) -> Doc:
        path = self._path(rel)
        try:
            return Doc(json.loads(path.read_text()), f"{self.label}/{rel}")
        except json.JSONDecodeError as e:
            raise ReadmeError(f"{self.label}/{rel}: not valid JSON ({e})") from None

    def text(self, rel: str) -> str:
        return self._path(rel).read_text()

    def csv(self, rel: str, columns: Sequence[str] = ()) -> pd.DataFrame:
        table = pd.read_csv(self._path(rel))
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ReadmeError(f"{self.label}/{rel}: no column '{missing[0]}' (has {', '.join(table.columns)})")
        return table

    def names(self, folder: str, prefix: str = "", suffix: str = ".json") -> list[str]:
        """The files ``folder/<prefix>*<suffix>`` (relative names, sorted); an error when there is none.
        The sources line names them by that pattern."""
        pattern = f"{prefix}*{suffix}"
        found = sorted(p.name for p in (self.root / folder).glob(pattern) if p.is_file())
        if not found:
            raise ReadmeError(f"{self.label}/{folder}/{pattern}: no such file (a stage writes them: run `dvc repro`)")
        if f"{folder}/{pattern}" not in self.read:
            self.read.append(f"{folder}/{pattern}")
        return [f"{folder}/{n}" for n in found]

    def sources(self) -> str:
        """The files read so far, as one line: a folder whose every file of that kind was read
        is shown as ``folder/*.json``."""
        groups: dict[str, list[str]] = {}
        for rel in self.read:
            if "*" in rel:
                groups[rel] = []
                continue
            folder, _, name = rel.rpartition("/")
            groups.setdefault(folder, []).append(name)
        shown = []
        for folder, files in groups.items():
            if "*" in folder:
                shown.append(f"`{self.label}/{folder}`")
                continue
            if not folder:
                shown += [f"`{self.label}/{f}`" for f in files]
                continue
            suffixes = {Path(f).suffix for f in files}
            everything = len(suffixes) == 1 and sorted(files) == sorted(
                p.name for p in (self.root / folder).glob(f"*{suffixes.pop()}") if p.is_file())
            if everything and len(files) > 1:
                shown.append(f"`{self.label}/{folder}/*{Path(files[0]).suffix}`")
            else:
                shown += [f"`{self.label}/{folder}/{f}`" for f in files]
        return ", ".join(shown)


# --- formatting --------------------------------------------------------------------------------

def pct(x: float, digits: int = 1) -> str:
    """0.475 -> '47.5 %'."""
    return f"{100 * x:.{digits}f} %"


def num(x: float | None, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def signed(x: float, digits: int = 4) -> str:
    return f"{x:+.{digits}f}"


def count(n: int) -> str:
    return f"{n:,}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], right: Sequence[bool] | None = None) -> str:
    """A Markdown table; ``right`` says per column whether it is right-aligned (numbers)."""
    right = right or [False] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def span(values: Sequence[float], digits: int) -> str:
    """'a' when all values round alike, else 'min-max'."""
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return lo if lo == hi else f"{lo}-{hi}"


def interval_verdict(lo: float, hi: float, digits: int = 4, below: str = "below", above: str = "above") -> str:
    """What a 95 % interval of a difference says: '[a, b] contains 0: no measurable difference', or
    that the difference is below / above 0."""
    iv = f"[{signed(lo, digits)}, {signed(hi, digits)}]"
    if lo <= 0 <= hi:
        return f"the 95 % interval {iv} contains 0: no measurable difference"
    return f"{below if hi < 0 else above}: the 95 % interval {iv} excludes 0"


def rate_verdict(rate: dict[str, Any]) -> str:
    """A binomial rate with its interval against its chance rate:
    'k of n, 47.5 % [31.5 %, 63.9 %], chance 37.5 %: the interval contains chance'."""
    lo, hi, chance = rate["ci_low"], rate["ci_high"], rate["chance"]
    where = ("contains the chance rate" if lo <= chance <= hi
             else "is above the chance rate" if lo > chance else "is below the chance rate")
    return (f"{rate['k']} of {rate['n']}, {pct(rate['rate'])} [{pct(lo)}, {pct(hi)}] (chance {pct(chance)}): "
            f"the interval {where}")


def machine_text(m: dict[str, Any] | None) -> str:
    if not m:
        return "machine not recorded"
    amx = "AMX" if m.get("amx") else "no AMX"
    dtype = f", {m['dtype']}" if m.get("dtype") else ""
    threads = m.get("threads", "?")
    return (f"{m.get('cpu', '?')} ({amx}, {m.get('cores', '?')} cores, {threads} thread{'' if threads == 1 else 's'}, "
            f"{m.get('device', '?')}{dtype})")


def llm_text(llm: dict[str, Any] | None) -> str:
    """One stage's LLM work: calls, tokens and seconds, or that the answers came from the cache."""
    if not llm:
        return "no LLM calls"
    calls, hits, scored = llm.get("llm_calls", 0), llm.get("cache_hits", 0), llm.get("scored", 0)
    if not calls:
        return f"all {count(hits)} answers from the response cache (0 LLM calls)" if hits else "no LLM calls"
    what = f"{count(calls)} LLM calls" + (f" ({count(scored)} scorings)" if scored else "")
    text = f"{what}, {count(llm.get('completion_tokens', 0))} tokens generated in {llm.get('seconds', 0):.0f} s"
    return text + (f", {count(hits)} answers from the cache" if hits else "")


# --- the blocks --------------------------------------------------------------------------------

def default_run(m: Metrics) -> str:
    """The per-stage summary: data, profiles, negatives, CPEG with its intervals, SFT, generation."""
    raw, flt, split = m.json("raw.json"), m.json("filter.json"), m.json("split.json")
    prof, neg, cpeg = m.json("profiles.json"), m.json("negatives.json"), m.json("cpeg.json")
    sft, gen = m.json("sft.json"), m.json("generate.json")
    data = (f"**Data:** `{raw['dataset']}` ({count(raw['users'])} users, {count(raw['items'])} items, "
            f"{count(raw['interactions'])} interactions), filtered and capped to {flt['users']} users and "
            f"{flt['items']} items ({count(flt['interactions'])} interactions), split ({split['method']}) into "
            f"{count(split['profile.interactions'])} profile, {count(split['train.interactions'])} train and "
            f"{count(split['test.interactions'])} test interactions. **LLM:** {machine_text(prof['llm.machine'])}.")
    layers = prof["layers"]
    words_u = " / ".join(f"{layer['mean_words_user']:.1f}" for layer in layers)
    words_i = " / ".join(f"{layer['mean_words_item']:.1f}" for layer in layers)
    ln = " / ".join(f"L{layer['layer']}" for layer in layers)
    profiles = (f"layers {layers[0]['layer']}-{layers[-1]['layer']} for {layers[0]['users']} users and "
                f"{layers[0]['items']} items, {count(prof['llm.requests'])} requests: {llm_text(prof['llm'])}; "
                f"mean profile length {words_u} words (users, {ln}), {words_i} (items)")
    tr, te = neg["train"], neg["test"]
    negatives = (f"{tr['pairs']} train and {te['pairs']} test pairs, {neg['k']} hard + {neg['m']} random negatives "
                 f"each; mean cosine to the user profile (train): positive {num(tr['cos_positive'], 3)}, hard "
                 f"{num(tr['cos_hard'], 3)}, random {num(tr['cos_random'], 3)}")
    a = cpeg.sub("all")
    split_acc = ", ".join(f"{s} {pct(cpeg[s + '.first_try.rate'])} / {pct(cpeg[s + '.after_retries.rate'])}"
                          for s in ("train", "test"))
    cpeg_text = (f"{a['pairs']} pairs, {a['candidates']:.0f} candidates each, {cpeg['choice']} choice, up to "
                 f"{cpeg['max_retries']} retries; first try {pct(a['first_try.rate'])} "
                 f"[{pct(a['first_try.ci_low'])}, {pct(a['first_try.ci_high'])}] ({a['first_try.k']} of "
                 f"{a['first_try.n']}; chance {pct(a['first_try.chance'])}), after retries "
                 f"{pct(a['after_retries.rate'])} [{pct(a['after_retries.ci_low'])}, "
                 f"{pct(a['after_retries.ci_high'])}] "
                 f"({a['after_retries.k']} of {a['after_retries.n']}; chance {pct(a['after_retries.chance'])}): "
                 f"{split_acc} (first try / after retries); {a['parse_failures']} answers unreadable; "
                 f"{pct(a['unverified_share'])} of pairs unverified; the chosen candidate's mean probability "
                 f"{a['mean_choice_probability']:.2f}; {llm_text(cpeg['llm'])}")
    lr = sft.get("learning_rate", None)
    sft_text = (f"{sft['method']}{f' (lr {lr:g})' if lr is not None else ''} on {sft['examples']} train pairs "
                f"(targets `{sft['targets']}`, `include_unverified: {str(sft['include_unverified']).lower()}`), "
                f"{sft['steps']} steps, {sft['train_seconds']:.0f} s of training: test loss "
                f"{sft['eval_loss_before']:.3f} → {sft['eval_loss']:.3f} ({sft['eval_examples']} test pairs)")
    gen_text = (f"{gen['pairs']} test pairs explained, {gen['empty_explanations']} empty, {gen['two_openings']} "
                f"with two openings; {llm_text(gen['llm'])}")
    rows = [("profiles", profiles), ("negatives", negatives), ("cpeg", cpeg_text), ("sft", sft_text),
            ("generate", gen_text)]
    body = table(["stage", "figures"], rows)
    tries = [a["first_try"], a["after_retries"]]
    at_chance = all(t["ci_low"] <= t["chance"] <= t["ci_high"] for t in tries)
    verdict = ("**CPEG's choices:** " + ("every interval (first try and after retries) contains the chance rate: "
               "the model's choices are no better than chance." if at_chance else
               "; ".join(f"{name}: {rate_verdict(t)}" for name, t in zip(("first try", "after retries"), tries)) + "."))
    verified = (f"**Verified explanations** (CPEG found the positive item): {cpeg['train.after_retries.k']} of "
                f"{cpeg['train.after_retries.n']} train pairs and {cpeg['test.after_retries.k']} of "
                f"{cpeg['test.after_retries.n']} test pairs.")
    return "\n\n".join([data, body, verdict + " " + verified])


def eval_table(m: Metrics) -> str:
    """``metrics/eval_table.md`` as the eval_summary stage wrote it."""
    return m.text("eval_table.md").strip()


def _eval_methods(m: Metrics) -> tuple[Doc, str, list[str]]:
    """eval_summary.json, the baseline's name and the compared methods (sorted). The baseline is the
    method every other one is compared with (``vs_<baseline>``); a ``compare.controls`` pair adds a
    ``vs_<control>`` to one method only."""
    summary = m.json("eval_summary.json")
    methods = [v for v in summary.data.values() if isinstance(v, dict)]
    keys = {k for v in methods for k in v if k.startswith("vs_") and k[3:] in summary.data
            and sum(k in w for w in methods) == len(methods) - 1 and k not in summary.data[k[3:]]}
    if len(keys) != 1:
        raise ReadmeError(f"{summary.where}: expected one 'vs_<baseline>' comparison in every method but the "
                          f"baseline, got {sorted(keys)}")
    baseline = keys.pop()[3:]
    return summary, baseline, sorted(k for k in summary.data if k != baseline)


#: the compared metrics of eval_summary's ``vs_<baseline>``
COMPARED = (("bs_f1", "BERTScore-F1"), ("bleu_4", "BLEU-4"), ("r_l", "ROUGE-L"))


def _diff_cell(d: dict[str, Any]) -> str:
    cell = f"{signed(d['diff'])} [{signed(d['ci_low'])}, {signed(d['ci_high'])}]"
    return f"**{cell}**" if d["excludes_0"] else cell


def _method_verdict(name: str, baseline: str, vs: dict[str, Any]) -> str:
    parts = [f"{label} {signed(vs[key]['diff'])}, "
             + interval_verdict(vs[key]["ci_low"], vs[key]["ci_high"], below=f"below `{baseline}`",
                                above=f"above `{baseline}`")
             for key, label in COMPARED]
    below = sum(vs[k]["ci_high"] < 0 for k, _ in COMPARED)
    above = sum(vs[k]["ci_low"] > 0 for k, _ in COMPARED)
    if not below and not above:
        head = f"cannot be told from `{baseline}` on any of the {len(COMPARED)} metrics"
    else:
        head = "; ".join(x for x in (f"below `{baseline}` on {below} of {len(COMPARED)}" if below else "",
                                     f"above `{baseline}` on {above} of {len(COMPARED)}" if above else "") if x)
    return f"- `{name}` {head} ({'; '.join(parts)})"


def comparisons(m: Metrics) -> str:
    """Every explainer against the baseline: the paired bootstrap intervals and what they say."""
    summary, baseline, names = _eval_methods(m)
    lines = [_method_verdict(n, baseline, summary[f"{n}.vs_{baseline}"]) for n in names]
    total = len(names) * len(COMPARED)
    excl = sum(summary[f"{n}.vs_{baseline}.{k}.excludes_0"] for n in names for k, _ in COMPARED)
    pairs = summary[f"{baseline}.pairs"]
    tail = (f"{excl} of the {total} intervals exclude 0, on {pairs} test pairs; no correction is made for "
            f"{total} comparisons, so about {total / 20:.1f} would exclude 0 by chance alone if nothing differed.")
    sft, cpeg = m.json("sft.json"), m.json("cpeg.json")
    if sft["targets"] == "cpeg":
        t = cpeg["test.after_retries"]
        refs = (f"The references are CPEG's explanations (`targets: cpeg`): {t['n'] - t['k']} of the {t['n']} test "
                f"pairs' ({pct((t['n'] - t['k']) / t['n'])}) never verified, so they explain a candidate that is "
                f"not the pair's item, written by the same LLM.")
    else:
        refs = f"The references are the dataset's own (`targets: {sft['targets']}`)."
    return "\n".join(lines) + "\n\n" + tail + " " + refs


def eval_judge(m: Metrics) -> str:
    """The encoder and the GPTScore judge, and how the judge's scores spread."""
    _, baseline, names = _eval_methods(m)
    docs = {n: m.json(f"eval/{n}.json") for n in [baseline, *names]}
    first = docs[baseline]
    g = {n: d["gptscore"] for n, d in docs.items()}
    by = {k: sum(x["scored_by"].get(k, 0) for x in g.values()) for k in ("probability", "parsed")}
    unscored = sum(x["unscored"] for x in g.values())
    means = [x["mean"] for x in g.values() if x["mean"] is not None]
    stds = [x["std"] for x in g.values() if x["std"] is not None]
    masses = [x["option_mass"] for x in g.values() if x.get("option_mass") is not None]
    lo, hi = min(g, key=lambda n: g[n]["mean"]), max(g, key=lambda n: g[n]["mean"])
    lines = [
        f"- **Encoder:** `{first['bertscore_encoder'].split(':')[0]}`, layer {first['bertscore_layer']}. "
        f"**Judge:** `{first['judge'].split(':')[0]}`, on "
        f"{machine_text(first['llm.machine'])}.",
        f"- **GPTScore:** {by['probability']} explanations scored by probability, {by['parsed']} parsed, "
        f"{unscored} unscored; the judge puts {span(masses, 3) if masses else '–'} of its probability mass on "
        f"starting its answer with a score at all.",
        f"- Mean GPTScore per explainer {span(means, 2)} of 100 (lowest `{lo}` {g[lo]['mean']:.2f}, highest `{hi}` "
        f"{g[hi]['mean']:.2f}), with a spread (std over pairs) of {span(stds, 2)}.",
    ]
    return "\n".join(lines)


def ablations(m: Metrics) -> str:
    """Paper 000's ablations: their training and their intervals against the full model."""
    summary, baseline, _ = _eval_methods(m)
    rows, verdicts = [], []
    for rel in m.names("ablations"):
        a = m.json(rel)
        name = a["variant"]
        layers = f"user layer {a['user_layer']}, item layer {a['item_layer']}"
        if a["sft"]:
            t = a["training"]
            trained = (f"{t['method']}, {t['steps']} steps, {t['train_seconds']:.0f} s: test loss "
                       f"{t['eval_loss_before']:.3f} → {t['eval_loss']:.3f}")
        else:
            trained = "not fine-tuned (the SFT base model)"
        vs = summary.get(f"{name}.vs_{baseline}", None)
        cells = [_diff_cell(vs[k]) if vs else "–" for k, _ in COMPARED]
        rows.append([f"`{name}`", layers, trained, *cells])
        if vs:
            verdicts.append(_method_verdict(name, baseline, vs))
    head = ["ablation", "profiles (-1: last layer)", "training", *(f"{label} − {baseline}" for _, label in COMPARED)]
    return (table(head, rows, [False, False, False, True, True, True]) + "\n\n"
            + f"Cells: mean difference over the test pairs [95 % paired bootstrap interval]; bold: it excludes 0.\n\n"
            + "\n".join(verdicts))


def ground_truth(m: Metrics) -> str:
    """The ground-truth study: each source's win rate, the CPEG variants' accuracy, position bias."""
    gt = m.json("ground_truth.json")
    rows = []
    for source, s in gt["sources"].items():
        extra = "–"
        if source.startswith("cpeg_"):
            v = m.json(f"ground_truth/{source}.json")
            extra = (f"{pct(v['first_try.rate'])} / {pct(v['after_retries.rate'])} "
                     f"[{pct(v['after_retries.ci_low'])}, {pct(v['after_retries.ci_high'])}]")
            label = f"CPEG ({v['k']}, {v['m']})"
        else:
            label = source
        verified = pct(s["verified_share"]) if s.get("verified_share") is not None else "–"
        rows.append([label, s["candidate_in"], verified, extra, s["wins"], pct(s["win_rate"])])
    judgements = gt["run_a.readable"] + gt["run_b.readable"]
    out = [f"{gt['pairs_judged']} of {gt['pairs']} pairs judged, each twice (`{gt['choice']}` choice; judge "
           f"`{gt['judge'].split(':')[0]}`, {gt['judge'].rsplit('|', 1)[-1]}); {judgements} readable judgements.",
           table(["source", "in pairs", "verified", "CPEG accuracy: first try / after retries [95 %]", "wins",
                  f"win rate (of {judgements} judgements)"], rows, [False, True, True, False, True, True])]
    runs = []
    for run, what in (("run_a", "the first run (seeded order)"), ("run_b", "the second (reversed order)")):
        r = gt[run]
        rate = {"k": round(r["first_position_rate"] * r["readable"]), "n": r["readable"],
                "rate": r["first_position_rate"],
                "ci_low": r["first_position_ci_low"], "ci_high": r["first_position_ci_high"],
                "chance": r["first_position_chance"]}
        bias = ("a position bias" if rate["ci_low"] > rate["chance"]
                else "no measurable position bias" if rate["ci_low"] <= rate["chance"] <= rate["ci_high"]
                else "an avoidance of the first position")
        runs.append(f"{what} picked the first position in {rate_verdict(rate)}: {bias}")
    agree = gt["consistent_share"]
    out.append("**Position:** " + "; ".join(runs) + f". The two runs agree on {pct(agree)} of the "
               f"{gt['both_readable']} pairs both read.")
    rw = m.json("ground_truth/rewrite.json")
    if rw.get("note", None):
        out.append(f"**Reviews:** {rw['note']} (`{m.label}/ground_truth/rewrite.json`: {rw['with_review']} of "
                   f"{rw['pairs']} pairs with a review, {rw['rewritten']} rewritten).")
    return "\n\n".join(out)


#: LR-Recsys's metrics: (key, label, digits, lower is better)
LR_METRICS = (("rmse", "RMSE [0, 1]", 4, True), ("mae", "MAE [0, 1]", 4, True), ("auc", "AUC", 3, False))


def lrrecsys(m: Metrics) -> str:
    """LR-Recsys against the runs without explanation information: means, paired tests, verdicts."""
    s = m.json("lrrecsys_summary.json")
    others = list(s["paired_tests"])
    runs = {r: m.json(f"lrrecsys/{r}.json") for r in ["lr_recsys", *others]}
    main = runs["lr_recsys"]
    explain = m.json("lrrecsys_inputs/explain_main.json")
    seeds = ", ".join(map(str, main["seeds"]))
    head = (f"{main['train_pairs']} train and {main['test_pairs']} test pairs, seeds {seeds}; "
            f"recommenders trained on {machine_text(main['machine'])}; explanations by the LLM on "
            f"{machine_text(explain['llm.machine'])}.")
    rows = []
    for r, doc in runs.items():
        rows.append([doc["label"], *(f"{s[f'runs.{r}.{k}.mean']:.{d}f} ± {s[f'runs.{r}.{k}.std']:.{d}f}"
                                     for k, _, d, _ in LR_METRICS)])
    n_seeds = len(main["seeds"])
    verdicts: list[str] = []
    found: list[tuple[str, str]] = []
    for r in others:
        t = s[f"paired_tests.{r}"]
        rows.append([f"LR-Recsys − {runs[r]['label']} (paired t-test over seeds)",
                     *(f"{signed(t[k]['mean_diff'], d)} ± {t[k]['std_diff']:.{d}f} (p {t[k]['p_value']:.2f})"
                       for k, _, d, _ in LR_METRICS)])
        sig = []
        for k, label, d, lower in LR_METRICS:
            if t[k]["p_value"] < 0.05:
                better = (t[k]["mean_diff"] < 0) == lower
                sig.append(f"{'better' if better else 'worse'} on {label} ({signed(t[k]['mean_diff'], d)}, "
                           f"p {t[k]['p_value']:.3f})")
        verdicts.append(f"- against {runs[r]['label']}: "
                        + ("LR-Recsys is " + " and ".join(sig) + ", significant at 5 %" if sig else
                           f"no difference is significant at 5 % over {n_seeds} seeds"))
        found += [(runs[r]["label"], x) for x in sig]
    better = [f"{x} than {label}" for label, x in found if x.startswith("better")]
    worse = [f"{x} than {label}" for label, x in found if x.startswith("worse")]
    headline = ("**Did the explanations help?** "
                + ("Not measurably: no difference is significant at 5 %" if not found else
                   "Yes, measurably: LR-Recsys is " + "; ".join(better) if not worse else
                   "No: LR-Recsys is " + "; ".join(worse) if not better else
                   "Mixed: LR-Recsys is " + "; ".join(better + worse)) + ".")
    return "\n\n".join([head, table(["", *(lab for _, lab, _, _ in LR_METRICS)], rows, [False, True, True, True]),
                        headline + "\n\n" + "\n".join(verdicts)])


def lrrecsys_inputs(m: Metrics) -> str:
    """LR-Recsys's inputs: the explanations, the autoencoder, the attention, the model sizes."""
    ex = m.json("lrrecsys_inputs/explain_main.json")
    main, ncf = m.json("lrrecsys/lr_recsys.json"), m.json("lrrecsys/robustness_1.json")
    att, ae = main.sub("attention"), main.sub("autoencoder")
    lines = [
        f"- **Explanations** (`{ex['style']}`, `{ex['prompt']}` prompt): {ex['pairs']} pairs; in "
        f"{ex['identical_pos_neg_reason']} of them the positive and the negative reason are word for word the same; "
        f"mean length {ex['mean_words.positive']:.1f} words (positive), {ex['mean_words.negative']:.1f} (negative); "
        f"{llm_text(ex['llm'])}.",
        f"- **Autoencoder** (one per model seed, fitted on that run's train explanations: {ae['fits']} fits; "
        f"{ae['parameters.mean']:,.0f} parameters, {ae['mlp_parameters']:,} of them in the paper's MLP): "
        f"reconstructs {pct(ae['train_token_accuracy.mean'])} of the non-pad train tokens and "
        f"{pct(ae['test_token_accuracy.mean'])} of the test tokens (means over the fits), against a chance rate of "
        f"{pct(ae['chance_token_accuracy'])} (vocabulary {ae['vocabulary.mean']:.0f}).",
        f"- **Attention** (test pairs, mean ᾱ): positive {att['high.pos']:.3f} / negative {att['high.neg']:.3f} for "
        f"high-rated pairs ({att['high.rows']}), {att['low.pos']:.3f} / {att['low.neg']:.3f} for low-rated ones "
        f"({att['low.rows']}); the two explanation tokens take {pct(att['explanation_share'])} of the attention.",
        f"- **Sizes:** the DNN has {main['parameters']:,} parameters, Robustness 1's NCF {ncf['parameters']:,}.",
    ]
    return "\n".join(lines)


def lrrecsys_efficiency(m: Metrics) -> str:
    """The learning-efficiency curve (Table 3's layout): the metrics against the share of train pairs."""
    cols = ("train_percent", "train_pairs", "rmse", "rmse_std", "mae", "mae_std", "auc", "auc_std")
    t = m.csv("plots/lrrecsys_efficiency.csv", cols).sort_values("train_percent")
    rows = [[f"{r.train_percent:g} %", int(r.train_pairs), f"{r.rmse:.4f} ± {r.rmse_std:.4f}",
             f"{r.mae:.4f} ± {r.mae_std:.4f}", f"{r.auc:.3f} ± {r.auc_std:.3f}"] for r in t.itertuples()]
    rmse = list(t["rmse"])
    trend = ("falls with every step" if all(b < a for a, b in zip(rmse, rmse[1:]))
             else "does not fall with every step")
    first, last = t.iloc[0], t.iloc[-1]
    apart = abs(last.rmse - first.rmse) > (last.rmse_std + first.rmse_std)
    return (table(["train pairs", "n", "RMSE [0, 1]", "MAE [0, 1]", "AUC"], rows, [False, True, True, True, True])
            + f"\n\nRMSE {trend} of the train share; from {first.train_percent:g} % to {last.train_percent:g} % it "
            f"moves by {signed(last.rmse - first.rmse)}, "
            + ("more than" if apart else "less than") + " the two stds over seeds together.")


def xrec_table(m: Metrics) -> str:
    """``metrics/xrec_table.md`` as the xrec_report stage wrote it."""
    return m.text("xrec_table.md").strip()


def xrec_graph(m: Metrics) -> str:
    """XRec's graph and adapters: edges, held-out users, parameter counts."""
    gnn, moe = m.json("xrec/gnn.json"), m.json("xrec/moe_full.json")
    return (f"{gnn['users']} users and {gnn['items']} items; {count(gnn['train_edges'])} graph edges and "
            f"{gnn['val_edges']} more held out for validation (splits {', '.join(gnn['config.splits'])}); "
            f"{gnn['zero_shot_users']} zero-shot users ({moe['pairs.zero_shot_test_pairs']} of the "
            f"{moe['pairs.test_pairs']} test pairs); the two adapters have {count(moe['adapter_parameters'])} "
            f"trainable parameters (hidden size {moe['hidden']}), the base model "
            f"{moe['base_parameters_with_grad']} parameters with a gradient.")


def xrec_findings(m: Metrics) -> str:
    """What XRec's default run says: ranking, how far the adapters moved, profiles and injection,
    and XRec against the SFT explainer with its interval."""
    x = m.json("xrec.json")
    g = x["gnn"]
    lg, pop = g["lightgcn"], g["popularity"]
    wins = [k for k in ("recall@20", "ndcg@20") if lg[k] > pop[k]]
    rank = (f"- **Ranking** (one seed, no interval): LightGCN Recall@20 {lg['recall@20']:.3f} against popularity's "
            f"{pop['recall@20']:.3f}, NDCG@20 {lg['ndcg@20']:.3f} against {pop['ndcg@20']:.3f} "
            f"({g['epochs']} epochs, best {g['best_epoch']}): LightGCN "
            + ("higher on both" if len(wins) == 2 else "lower on both" if not wins
               else f"higher on {wins[0]} only") + ".")
    variants = x["variants"]
    m.names("xrec", "moe_")
    moves, parts = [], []
    for v in variants:
        moe = m.json(f"xrec/moe_{v}.json")
        d = moe["test_nll_after"] - moe["test_nll_before"]
        moves.append((abs(d), moe["test_nll_before"]))
        parts.append(f"{variants[v]['label']} {moe['test_nll_before']:.3f} → {moe['test_nll_after']:.3f} "
                     f"({moe['steps']} steps)")
    biggest, before = max(moves)
    small = all(dd < 0.05 * b for dd, b in moves)
    adapters = (f"- **Adapters:** test NLL before → after training: {'; '.join(parts)}. It moves by at most "
                f"{biggest:.3f} nats" + (", less than 5 % of its value before training in every variant: the "
                "adapters barely moved, so the variants differ by their prompts more than by what the adapters learnt."
                if small else "."))
    f1 = {v: variants[v]["all"]["bertscore_f1"] for v in variants}
    with_p = [v for v in variants if m.json(f"xrec/moe_{v}.json")["profiles"]]
    without_p = [v for v in variants if v not in with_p]
    prof = (f"- **Profiles:** BERTScore-F1 {span([f1[v] for v in with_p], 4)} with them "
            f"({', '.join(variants[v]['label'] for v in with_p)}), {span([f1[v] for v in without_p], 4)} without.")
    inj = []
    for a, b in (("full", "wo_injection"), ("wo_profile", "wo_both")):
        if a in variants and b in variants:
            same = variants[a]["all"] == variants[b]["all"]
            inj.append(f"{variants[a]['label']} {f1[a]:.4f} against {variants[b]['label']} {f1[b]:.4f}"
                       + (" (every score identical)" if same else ""))
    injection = "- **Layer injection** (BERTScore-F1, no interval between the two): " + "; ".join(inj) + "."
    summary, baseline, _ = _eval_methods(m)
    vs = summary.get(f"xrec.vs_{baseline}.bs_f1", None)
    lines = [rank, adapters, prof, injection]
    if vs:
        lines.append(f"- **Against the SFT explainer** (`{baseline}`, BERTScore-F1 {summary[f'{baseline}.bs_f1']:.4f}; "
                     f"XRec {summary['xrec.bs_f1']:.4f}): XRec − `{baseline}` {signed(vs['diff'])}, "
                     + interval_verdict(vs["ci_low"], vs["ci_high"], below=f"below `{baseline}`",
                                        above=f"above `{baseline}`") + ".")
    sizes = [b["pairs"] for b in variants["full"]["buckets"].values()]
    lines.append(f"- **Buckets:** {span(sizes, 0)} pairs each (no interval per bucket).")
    return "\n".join(lines)


def recpie(m: Metrics) -> str:
    """RecPIE per round next to LR-Recsys, and what the rounds changed."""
    r, s = m.json("recpie.json"), m.json("lrrecsys_summary.json")
    rounds = r["rounds"]
    lr = {k: (s[f"runs.lr_recsys.{k}.mean"], s[f"runs.lr_recsys.{k}.std"]) for k in ("rmse", "mae", "rmse_5")}
    rows = [["LR-Recsys (no RL; autoencoder, mean ± std over seeds)", f"{lr['rmse'][0]:.4f} ± {lr['rmse'][1]:.4f}",
             f"{lr['mae'][0]:.4f} ± {lr['mae'][1]:.4f}", f"{lr['rmse_5'][0]:.4f}", "–", "–", "–", "–"]]
    rl_done = 0
    for row in rounds:
        what = "base explainer, no RL" if row["round"] == 0 else f"after {rl_done} GRPO optimiser steps"
        rl_done += row.get("rl_steps") or 0
        rows.append([f"RecPIE round {row['round']} ({what})", f"{row['rmse']:.4f}", f"{row['mae']:.4f}",
                     f"{row['rmse_5']:.4f}", f"{row['reward']:.4f}", num(row.get("rl_reward"), 4),
                     f"{row['kl']:.3f}", f"{row['coverage']:.3f}"])
    head = ["", "RMSE [0, 1]", "MAE [0, 1]", "RMSE (1-5)", "mean reward (train)", "GRPO samples' reward",
            "KL to round 0", "Coverage"]
    first, last = rounds[0], rounds[-1]
    d = last["rmse"] - first["rmse"]
    spread = lr["rmse"][1]
    moved = (f"The test RMSE went from {first['rmse']:.4f} (round 0) to {last['rmse']:.4f} (round {last['round']}), "
             f"{signed(d)}: " + ("less than" if abs(d) < spread else "more than")
             + f" LR-Recsys's own spread over seeds (± {spread:.4f}), "
             + ("so the loop has not measurably changed the recommendations" if abs(d) < spread
                else "a change beyond the seed-to-seed spread (one recommender seed, no interval)") + ".")
    gap = last["rmse"] - lr["rmse"][0]
    vs_lr = (f"Its last round is {signed(gap)} from LR-Recsys's mean, "
             + ("within" if abs(gap) <= spread else "outside") + " LR-Recsys's spread over seeds.")
    reward = (f"The mean train reward went from {first['reward']:.4f} to {last['reward']:.4f} and the KL to the "
              f"base explainer is {last['kl']:.3f} nats per token.")
    refits = " ".join(
        f"Round {x['round']}'s refit kept its best weights from epoch {x['best_epoch']} of {x['epochs_run']}"
        + (" (epoch 0: the previous round's weights, which no epoch on the new explanations beat on the "
           "validation slice)" if x["best_epoch"] == 0 and x["round"] > 0 else "")
        + f"; the weights moved by {x['recommender_change']:.4g} (L2 norm)." if x["round"] > 0 else
        f"Round 0's recommender stopped at epoch {x['best_epoch']} of {x['epochs_run']}."
        for x in rounds)
    secs = [x["seconds"] for x in rounds]
    explain = " + ".join(f"{x['explain']:.0f}" for x in secs)
    rl = " + ".join(f"{x['rl']:.0f}" for x in secs)
    cost = (f"Rounds: explanations {explain} s, RL {rl} s, {sum(x['total'] for x in secs):.0f} s in all "
            f"({len(rounds)} rounds of {first['generated'] + first['cached']} explanations; "
            f"{first['train_pairs']} train and {first['test_pairs']} test pairs; one recommender seed, the same "
            "validation slice in every round); "
            f"on {machine_text(r['machine'])}.")
    return "\n\n".join([table(head, rows, [False] + [True] * 7), " ".join([moved, vs_lr, reward]), refits, cost])


def _llm_groups(m: Metrics) -> list[tuple[str, list[dict[str, Any]]]]:
    """(stage label, [llm dicts]) for every stage that calls the LLM layer."""
    groups: list[tuple[str, list[dict[str, Any]]]] = [
        ("profiles", [m.json("profiles.json")["llm"]]),
        ("cpeg", [m.json("cpeg.json")["llm"]]),
        ("generate", [m.json("generate.json")["llm"]]),
    ]
    abl = [m.json(rel)["generation.llm"] for rel in m.names("ablations")]
    groups.append((f"ablation@ ({len(abl)})", abl))
    ev = [m.json(rel)["llm"] for rel in m.names("eval")]
    groups.append((f"evaluate@ ({len(ev)}, GPTScore judge)", ev))
    gt = [m.json(rel)["llm"] for rel in m.names("ground_truth", "cpeg_")]
    groups.append((f"gt_cpeg@ ({len(gt)})", gt))
    rw = m.json("ground_truth/rewrite.json").get("llm", None)
    groups.append(("gt_rewrite", [rw] if rw else []))
    groups.append(("gt_judge", [m.json("ground_truth.json")["llm"]]))
    lr = [m.json(rel)["llm"] for rel in m.names("lrrecsys_inputs", "explain_")]
    groups.append((f"lrrecsys_explain@ ({len(lr)})", lr))
    groups.append(("recpie (aspects)", [m.json("recpie.json")["llm"]]))
    return groups


def llm_cost(m: Metrics) -> str:
    """The LLM work of every LLM stage (calls, cache hits, tokens, seconds) and the machines it ran on."""
    rows, tot = [], {"requests": 0, "cache_hits": 0, "llm_calls": 0, "scored": 0, "prompt_tokens": 0,
                     "completion_tokens": 0, "seconds": 0.0}
    groups = _llm_groups(m)
    for label, llms in groups:
        sums = {k: sum(x.get(k, 0) or 0 for x in llms) for k in tot}
        for k in tot:
            tot[k] += sums[k]
        reused = [x["decode"]["reused_share"] for x in llms if x.get("decode")]
        calls = count(sums["llm_calls"]) + (f" ({count(sums['scored'])})" if sums["scored"] else "")
        rows.append([label, count(sums["requests"]), count(sums["cache_hits"]), calls, count(sums["prompt_tokens"]),
                     span([100 * v for v in reused], 0) + " %" if reused else "–", count(sums["completion_tokens"]),
                     f"{sums['seconds']:,.1f}"])
    rows.append(["**total**", f"**{count(tot['requests'])}**", f"**{count(tot['cache_hits'])}**",
                 f"**{count(tot['llm_calls'])}**" + (f" ({count(tot['scored'])})" if tot["scored"] else ""),
                 f"**{count(tot['prompt_tokens'])}**", "", f"**{count(tot['completion_tokens'])}**",
                 f"**{tot['seconds']:,.1f}**"])
    head = ["stage", "requests", "from the cache", "LLM calls (scorings)", "prompt tokens",
            "reused from the prefix store", "generated tokens", "LLM seconds"]
    out = [table(head, rows, [False] + [True] * 7)]
    # the two stages that count their own generation
    r = m.json("recpie.json")
    rounds = r["rounds"]
    xg = [m.json(rel) for rel in m.names("xrec", "generate_")]
    r_tokens = count(sum(x["llm"]["completion_tokens"] for x in rounds))
    x_tokens = count(sum(x["llm.new_tokens"] for x in xg))
    out.append(f"Counted apart: RecPIE's explainer (LoRA, its own cache) generated "
               f"{sum(x['generated'] for x in rounds)} explanations ({r_tokens} tokens) in "
               f"{sum(x['llm']['seconds'] for x in rounds):.1f} s over {len(rounds)} rounds; XRec's {len(xg)} "
               f"generation stages generated {sum(x['llm.generated'] for x in xg)} explanations ({x_tokens} new "
               f"tokens) and took {sum(x['llm.cached'] for x in xg)} from the cache.")
    sft = m.json("sft.json")
    abl = [m.json(rel) for rel in m.names("ablations")]
    moe = [m.json(rel) for rel in m.names("xrec", "moe_")]
    trained = [f"sft {sft['train_seconds']:.0f} s"] + [
        f"ablation@{a['variant']} {a['training.train_seconds']:.0f} s" for a in abl if a["sft"]]
    trained.append(f"xrec_moe@ {span([x['seconds'] for x in moe], 0)} s each")
    trained.append(f"recpie's RL {sum(x['seconds']['rl'] for x in rounds):.0f} s")
    out.append("Training (no LLM calls): " + ", ".join(trained) + ".")
    machines: dict[str, list[str]] = {}
    for label, llms in groups:
        for x in llms:
            names = machines.setdefault(machine_text(x.get("machine")), [])
            if label not in names:
                names.append(label)
    for label, docs in (("xrec_generate@", xg), ("xrec_moe@", moe)):
        for x in docs:
            names = machines.setdefault(machine_text(x.get("machine", None)), [])
            if label not in names:
                names.append(label)
    if len(machines) == 1:
        out.append(f"**Machine and dtype** of every stage above (`llm.machine`, XRec's `machine`): "
                   f"{next(iter(machines))}.")
    else:
        out.append("**Machines and dtypes** (`llm.machine`, XRec's `machine`): " + "; ".join(
            f"{k}: {', '.join(v)}" for k, v in machines.items()) + ".")
    if tot["llm_calls"] == 0 and tot["cache_hits"]:
        out.append("**No LLM call was made** in the run these metrics come from: every answer came from the response "
                   "cache, so the seconds above are not the LLM's cost. A run from an empty LLM cache records it.")
    elif tot["cache_hits"]:
        out.append(f"{count(tot['cache_hits'])} of the {count(tot['requests'])} requests were answered from the "
                   f"response cache (asked by another stage, or by an earlier run), so the seconds cover the "
                   f"{count(tot['llm_calls'])} calls made.")
    return "\n\n".join(out)


def report_page(m: Metrics) -> str:
    """What the report stage put on its page."""
    r = m.json("report.json")
    return (f"`report: data/report/index.html: {r['tables']} tables, {r['plots']} plots, {r['pairs']} test pairs, "
            f"{len(r['methods'])} methods ({r['bytes'] / 1024:.0f} KiB)`; methods: "
            + ", ".join(f"{k} ({v} pairs)" for k, v in r["explained_pairs"].items()) + ".")


def summary(m: Metrics) -> str:
    """The report page's summary (one row per method: headline comparison, value, interval, excludes 0).

    The rows the report stage wrote to report.json (RecPIE's interval needs its per-pair predictions,
    which only the stage reads); from a report.json without them, the same rows computed here from
    eval_summary.json, lrrecsys_summary.json and recpie.json, RecPIE's without an interval."""
    from explainrec.core.errors import InputError
    from explainrec.report.summary import SummaryRow, ordered, summary_markdown, summary_rows

    r = m.json("report.json")
    written = r.get("summary", None)
    try:
        if written:
            rows = ordered([SummaryRow.from_dict(d, f"{m.label}/report.json") for d in written.values()])
        else:
            files = {rel: m.json(rel) for rel in ("eval_summary.json", "lrrecsys_summary.json", "recpie.json")}
            rows = summary_rows(*(x for rel, d in files.items() for x in (d.data, f"{m.label}/{rel}")))
    except InputError as e:
        raise ReadmeError(str(e)) from None
    return summary_markdown(rows)


#: block name -> renderer
RENDERERS: dict[str, Callable[[Metrics], str]] = {
    "default_run": default_run,
    "eval_table": eval_table,
    "eval_judge": eval_judge,
    "comparisons": comparisons,
    "ablations": ablations,
    "ground_truth": ground_truth,
    "lrrecsys": lrrecsys,
    "lrrecsys_inputs": lrrecsys_inputs,
    "lrrecsys_efficiency": lrrecsys_efficiency,
    "xrec_table": xrec_table,
    "xrec_graph": xrec_graph,
    "xrec_findings": xrec_findings,
    "recpie": recpie,
    "llm_cost": llm_cost,
    "report_page": report_page,
    "summary": summary,
}


# --- the blocks in a Markdown file ---------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """One generated block: its name and the lines of its markers (0-based, inclusive)."""

    name: str
    start: int
    end: int


def render_block(name: str, metrics_root: str | Path, label: str = "metrics") -> str:
    """The whole block ``name``, markers included, from the metrics under ``metrics_root``."""
    if name not in RENDERERS:
        raise ReadmeError(f"no renderer for block '{name}' (known: {', '.join(RENDERERS)})")
    m = Metrics(metrics_root, label)
    try:
        body = RENDERERS[name](m)
    except ReadmeError as e:
        raise ReadmeError(f"block '{name}': {e}") from None
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        raise ReadmeError(f"block '{name}': unexpected content in {m.sources() or 'its metrics'}: {e!r}") from None
    return (f"<!-- generated: {name} -->\n\n{body}\n\n*Generated from {m.sources()} by `{COMMAND}`; "
            f"do not edit by hand.*\n\n<!-- /generated: {name} -->")


def find_blocks(text: str, where: str = "README.md") -> list[Block]:
    """The generated blocks of ``text``; unclosed, nested or stray markers are errors."""
    blocks, open_at, open_name = [], None, ""
    for i, line in enumerate(text.split("\n")):
        if (o := OPEN.match(line)):
            if open_at is not None:
                raise ReadmeError(f"{where}:{i + 1}: block '{o.group(1)}' opens inside block '{open_name}'")
            open_at, open_name = i, o.group(1)
        elif (c := CLOSE.match(line)):
            if open_at is None or c.group(1) != open_name:
                raise ReadmeError(f"{where}:{i + 1}: '/generated: {c.group(1)}' closes no open block of that name")
            blocks.append(Block(open_name, open_at, i))
            open_at = None
        elif "<!-- generated:" in line or "<!-- /generated:" in line:
            raise ReadmeError(f"{where}:{i + 1}: a block marker must stand alone on its line: {line.strip()!r}")
    if open_at is not None:
        raise ReadmeError(f"{where}:{open_at + 1}: block '{open_name}' is never closed")
    return blocks


def regenerate(text: str, metrics_root: str | Path, label: str = "metrics",
               where: str = "README.md") -> tuple[str, list[str]]:
    """``text`` with every block rendered again, and the names of the blocks that changed."""
    lines = text.split("\n")
    out, stale, last = [], [], 0
    for b in find_blocks(text, where):
        new = render_block(b.name, metrics_root, label)
        old = "\n".join(lines[b.start:b.end + 1])
        if new != old:
            stale.append(b.name)
        out += lines[last:b.start] + [new]
        last = b.end + 1
    out += lines[last:]
    return "\n".join(out), stale


def block_files(root: str | Path = ".") -> list[Path]:
    """README.md under ``root``, then every ``docs/*.md`` there that holds a generated block
    (sorted): the files ``python -m explainrec.report.readme`` renders when it is given none."""
    root = Path(root)
    docs = [p for p in sorted(root.glob(DOCS))
            if any(OPEN.match(line) for line in p.read_text().split("\n"))]
    return [root / README, *docs]


def update_file(path: str | Path, metrics_root: str | Path, label: str = "metrics",
                check: bool = False) -> list[str]:
    """Regenerate the blocks of ``path`` (rewritten atomically, its mode kept, only when one
    changed; with ``check`` nothing is written). Returns the names of the blocks that differed."""
    path = Path(path)
    if not path.is_file():
        raise ReadmeError(f"{path}: no such file")
    text = path.read_text()
    new, stale = regenerate(text, metrics_root, label, str(path))
    if stale and not check:
        mode = path.stat().st_mode & 0o777
        with atomic_file(path) as tmp:
            tmp.write_text(new)
            os.chmod(tmp, mode)
    return stale


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--metrics", "metrics_dir", type=click.Path(path_type=Path), default=Path("metrics"),
              show_default=True, help="The metrics folder the blocks are rendered from.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 naming every block whose copy differs from the metrics.")
def main(files: tuple[Path, ...], metrics_dir: Path, check: bool) -> None:
    """Render the generated blocks of FILES from the committed metrics (default: README.md and
    every docs/*.md that holds a block)."""
    label = metrics_dir.as_posix() if not metrics_dir.is_absolute() else metrics_dir.name
    stale_any = False
    try:
        for path in files or block_files():
            stale = update_file(path, metrics_dir, label, check)
            n = len(find_blocks(path.read_text(), str(path)))
            if check and stale:
                stale_any = True
                click.echo(f"stale: {path}: block{'s' if len(stale) > 1 else ''} {', '.join(stale)} "
                           f"differ{'' if len(stale) > 1 else 's'} from {label}/; run `{COMMAND}`", err=True)
            elif check:
                click.echo(f"{path}: all {n} blocks match {label}/")
            else:
                names = f" ({', '.join(stale)})" if stale else ""
                click.echo(f"{path}: {len(stale)} of {n} blocks rewritten{names}")
    except ExplainrecError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if stale_any:
        sys.exit(1)


if __name__ == "__main__":
    main()
