"""Scoring one explainer's output, and the table that compares explainers.

:func:`evaluate_table` scores a table of generated explanations
(``user_id, item_id, explanation, reference``) with every metric of paper 000
Table 1 and paper 001 Table 1: GPTScore (a judge LLM, XRec's prompt), BERTScore
P/R/F1, BLEURT and BARTScore (only with a local checkpoint), BLEU-1/4,
ROUGE-1/2/L and USR, each per-sample score with its standard deviation (XRec's
stability columns). :func:`summarise` lays several explainers' metrics out as
Table 1 / Fig. 5 of paper 000.

Every explainer (the SFT model, its ablations, and the later methods) is
scored here, by the same code, so their numbers are comparable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.errors import InputError, ParamError
from explainrec.evaluation.bootstrap import CompareConfig, Difference, paired_bootstrap
from explainrec.evaluation.identical import identical_note, identical_texts

TABLE_COLUMNS = ("user_id", "item_id", "explanation", "reference")


@dataclass(frozen=True)
class EvalConfig:
    """The ``evaluate`` section of params.yaml.

    ``judge``: the GPTScore and ground-truth judge, a name from the ``llms`` catalogue
    (the assets_judge stage resolves it; the stages here read its ``llm.json``).

    ``bertscore_encoder``: a local transformers encoder folder for BERTScore (e.g. roberta-large,
    the papers' choice), or None for the bundled all-MiniLM-L6-v2 that the stage passes in.
    ``bertscore_layers``: encoder layer BERTScore compares (all-MiniLM-L6-v2 has 6).
    ``score_without_prefix``: drop the fixed opening "The user would interact with the
    item because" from both texts before the overlap metrics, since every SFT answer
    repeats it. ``judge_max_new_tokens``: room for the judge's number.
    ``bleurt_checkpoint`` / ``bartscore_checkpoint``: local folders, or None (not computed).
    """

    judge: str = "smollm2-135m"
    judge_max_new_tokens: int = 8
    bertscore_encoder: str | None = None
    bertscore_layers: int = 6
    score_without_prefix: bool = True
    bleurt_checkpoint: str | None = None
    bartscore_checkpoint: str | None = None

    def __post_init__(self) -> None:
        from explainrec.core.config import check_bool, check_int, check_path

        check_path(self.judge, "judge", "a name from the llms catalogue", none_ok=False)
        for key in ("bertscore_layers", "judge_max_new_tokens"):
            check_int(getattr(self, key), key)
        check_bool(self.score_without_prefix, "score_without_prefix")
        for key in ("bertscore_encoder", "bleurt_checkpoint", "bartscore_checkpoint"):
            check_path(getattr(self, key), key, "a local checkpoint folder")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_explainer_output(path: str | Path) -> pd.DataFrame:
    """An explainer's output table, checked: the four :data:`TABLE_COLUMNS`, at least one row."""
    from explainrec.core.io import read_table

    df = read_table(path, "explanations", "an explainer stage (generate, ablation, ...)", TABLE_COLUMNS)
    if df.empty:
        raise InputError(path, "(rows)", "at least one generated explanation with a reference")
    for col in TABLE_COLUMNS:
        df[col] = df[col].astype("string").fillna("").astype(str)
    return df


def write_scores(scores: pd.DataFrame, folder: str | Path) -> None:
    """The evaluate stage's per-pair scores (``scores.parquet``), which eval_summary bootstraps."""
    from explainrec.core.io import write_parquet

    write_parquet(scores, Path(folder) / "scores.parquet")


def _finite(x: Any) -> Any:
    """None for nan (JSON has no nan; ``dvc metrics`` shows null), the value otherwise."""
    return None if isinstance(x, float) and math.isnan(x) else x


def _stat_block(d: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: _finite(d[k]) for k in keys}


def evaluate_table(table: pd.DataFrame, encoder: str | Path, judge: Any, params: EvalConfig,
                   progress: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every metric for ``table``: a per-sample score table (with each pair's ``explanation``, as
    generated) and the metrics (means, stds, counts).

    ``encoder`` is the BERTScore encoder folder unless ``params.bertscore_encoder`` names another.
    ``judge`` is an :class:`explainrec.llm.LLM` (or anything with its ``chat``) that
    answers XRec's GPTScore prompt; it sees the texts as generated. The overlap metrics
    see them without the fixed prefix when ``params.score_without_prefix``.
    """
    from explainrec.core.explanation_prompt import strip_prefix
    from explainrec.evaluation.judge import gptscore
    from explainrec.evaluation.learned import learned_metric
    from explainrec.evaluation.text import bertscore, bleu, rouge, usr

    raw_c, raw_r = list(table["explanation"]), list(table["reference"])
    cands, refs = raw_c, raw_r
    if params.score_without_prefix:
        cands, refs = [strip_prefix(c) for c in raw_c], [strip_prefix(r) for r in raw_r]

    gs = gptscore(judge, raw_c, raw_r, max_new_tokens=params.judge_max_new_tokens)
    bs = bertscore(cands, refs, params.bertscore_encoder or encoder, num_layers=params.bertscore_layers)
    bl = bleu(cands, refs)
    rg = rouge(cands, refs)
    un = usr(raw_c)
    learned = {name: learned_metric(name, cands, refs, ckpt) for name, ckpt in
               (("bleurt", params.bleurt_checkpoint), ("bartscore", params.bartscore_checkpoint))}

    scores = pd.DataFrame({
        "user_id": table["user_id"].to_numpy(), "item_id": table["item_id"].to_numpy(),
        "gptscore": pd.array(gs["per_sample"], dtype="Float64"),
        "bertscore_precision": bs["per_sample"]["precision"], "bertscore_recall": bs["per_sample"]["recall"],
        "bertscore_f1": bs["per_sample"]["f1"],
        "bleu1": bl["per_sample"]["bleu1"], "bleu4": bl["per_sample"]["bleu4"],
        **{f"{t}_f1": rg[t]["per_sample"]["f1"] for t in ("rouge1", "rouge2", "rougeL")},
        **{name: m["per_sample"] for name, m in learned.items() if m.get("computed")},
        # the text scored, as generated: eval_summary names explainers whose texts are identical
        "explanation": raw_c,
    })
    metrics: dict[str, Any] = {
        "pairs": len(table),
        "empty_explanations": int(sum(1 for c in raw_c if not c.strip())),
        "gptscore": {**_stat_block(gs, ("mean", "std")), "scored": gs["scored"], "unscored": gs["unscored"],
                     "scored_by": gs["scored_by"], "option_mass": gs["option_mass"]},
        "judge": gs["judge"],
        "bertscore": _stat_block(bs, ("precision", "recall", "f1", "precision_std", "recall_std", "f1_std")),
        "bertscore_encoder": bs["encoder"], "bertscore_layer": bs["num_layers"],
        "bleu": _stat_block(bl, ("bleu1", "bleu1_std", "bleu4", "bleu4_std", "bleu4_corpus")),
        "bleu_signature": bl["signature"],
        "rouge": {f"{t}_{k}": _finite(rg[t][k]) for t in ("rouge1", "rouge2", "rougeL")
                  for k in ("precision", "recall", "f1", "f1_std")},
        "usr": {"usr": _finite(un["usr"]), "unique": un["unique"]},
        "scored_without_prefix": params.score_without_prefix,
    }
    for name, m in learned.items():
        metrics[name] = ({"computed": True, **_stat_block(m, ("mean", "std")), "checkpoint": m["checkpoint"]}
                         if m.get("computed") else m)
    return scores, metrics


# -- comparing explainers ------------------------------------------------------

#: (column header, path into an evaluate metrics file); higher is better for all of them
TABLE1 = (
    ("GPTScore", ("gptscore", "mean")),
    ("BS-P", ("bertscore", "precision")),
    ("BS-R", ("bertscore", "recall")),
    ("BS-F1", ("bertscore", "f1")),
    ("BLEURT", ("bleurt", "mean")),
    ("BARTScore", ("bartscore", "mean")),
    ("BLEU-1", ("bleu", "bleu1")),
    ("BLEU-4", ("bleu", "bleu4")),
    ("R-1", ("rouge", "rouge1_f1")),
    ("R-2", ("rouge", "rouge2_f1")),
    ("R-L", ("rouge", "rougeL_f1")),
    ("USR", ("usr", "usr")),
)
#: XRec's stability columns (lower is more stable)
STABILITY = (
    ("GPT std", ("gptscore", "std")),
    ("BS-F1 std", ("bertscore", "f1_std")),
    ("R-L std", ("rouge", "rougeL_f1_std")),
)


def _get(metrics: Mapping[str, Any], path: Sequence[str]) -> float | None:
    node: Any = metrics
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def _slug(header: str) -> str:
    return header.lower().replace("-", "_").replace(" ", "_")


def summarise(methods: Mapping[str, Mapping[str, Any]], scores: Mapping[str, pd.DataFrame] | None = None,
              compare: CompareConfig | None = None, seed: int = 0,
              labels: Mapping[str, str] | None = None) -> tuple[dict[str, Any], str, pd.DataFrame]:
    """Lay the evaluate metrics of several explainers (``{name: metrics}``, in display order)
    out as paper 000's Table 1: a summary mapping (``{name: {column: value}}``), the
    markdown table (best value of each column in bold) and one plot row per explainer.

    With ``scores`` (each explainer's per-pair score table, the evaluate stage's
    ``scores.parquet``), every explainer but ``compare.baseline`` is also compared with the
    baseline on :data:`COMPARED` by a paired bootstrap (:func:`compare_to_baseline`, seeded
    by ``seed``): ``vs_<baseline>`` in its summary entry and a second markdown table.
    ``labels`` name each explainer's table in errors (its file); ``scores of <name>`` by default.
    The score tables' ``explanation`` column, where they have one, is checked for explainers whose
    texts are identical (:func:`~explainrec.evaluation.identical.identical_texts`): ``identical_to`` in
    their summary entries and a note under the table.
    """
    if not methods:
        raise ParamError("explainers", "at least one explainer to summarise")
    columns = TABLE1 + STABILITY
    values = {name: {h: _get(m, path) for h, path in columns} for name, m in methods.items()}
    # GPTScore, the papers' first column, stays even when no judge answer held a score
    shown = [h for h, _ in columns if h == "GPTScore" or any(values[n][h] is not None for n in values)]
    best = {}
    for h, _ in TABLE1:
        present = [values[n][h] for n in values if values[n][h] is not None]
        if h in shown and len(present) > 1:
            best[h] = max(present)

    def cell(name: str, h: str) -> str:
        v = values[name][h]
        if v is None:
            return "–"
        text = f"{v:.2f}" if h.startswith("GPT") else f"{v:.4f}"
        return f"**{text}**" if best.get(h) == v else text

    lines = ["| Method | pairs | " + " | ".join(shown) + " |", "|---|---:|" + "---:|" * len(shown)]
    for name, m in methods.items():
        lines.append(f"| {name} | {m.get('pairs', '–')} | " + " | ".join(cell(name, h) for h in shown) + " |")
    first = next(iter(methods.values()))
    notes = [f"BERTScore: {first.get('bertscore_encoder')}, layer {first.get('bertscore_layer')}; "
             f"GPTScore judge: {first.get('judge')}; BLEU: {first.get('bleu_signature')}."]
    how = []
    for name, m in methods.items():
        g = m.get("gptscore")
        if isinstance(g, Mapping) and isinstance(g.get("scored_by"), Mapping):
            by = g["scored_by"]
            mass = f", mean mass on 0-100 {g['option_mass']:.3f}" if g.get("option_mass") is not None else ""
            how.append(f"{name} {by.get('probability', 0)} by probability, {by.get('parsed', 0)} parsed, "
                       f"{g.get('unscored', 0)} unscored{mass}")
    if how:
        notes.append("GPTScore per pair: the probability-weighted mean of 0-100 where the judge gives "
                     "log-probabilities, else the number parsed from its answer (unscored ones are left out): "
                     + "; ".join(how) + ".")
    for name in ("bleurt", "bartscore"):
        if isinstance(first.get(name), Mapping) and not first[name].get("computed"):
            notes.append(f"{name}: not computed ({first[name].get('reason')}).")
    same: dict[str, dict[str, int]] = {}
    if scores is not None:
        texts = {n: scores[n] for n in methods if n in scores and "explanation" in scores[n].columns}
        same = identical_texts(texts)
        notes.append(identical_note(same, [n for n in methods if n not in texts]))
    markdown = "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"
    summary = {name: {_slug(h): v for h, v in row.items() if v is not None} | {"pairs": methods[name].get("pairs")}
               for name, row in values.items()}
    for name, others in same.items():
        if others:
            summary[name]["identical_to"] = list(others)
    if scores is not None:
        compare = compare or CompareConfig()
        differences = compare_to_baseline(list(methods), scores, compare, seed, labels)
        key = f"vs_{compare.baseline}"
        for name, by_metric in differences.items():
            summary[name][key] = {_slug(h): d.to_dict() for h, d in by_metric.items()}
        if differences:
            markdown += "\n" + difference_table(differences, {n: methods[n].get("pairs") for n in differences},
                                                 compare, seed)
        for name, control in compare_controls(list(methods), scores, compare, seed, labels).items():
            summary[name][f"vs_{compare.controls[name]}"] = {_slug(h): d.to_dict() for h, d in control.items()}
        skipped = [f"{a} against {b}" for a, b in compare.controls.items() if a not in methods or b not in methods]
        if skipped:
            markdown += (f"\nNot compared (compare.controls names an explainer this run does not have): "
                         f"{'; '.join(skipped)}.\n")
    plot = pd.DataFrame([{"method": name, **{_slug(h): row[h] for h in shown}} for name, row in values.items()])
    return summary, markdown, plot


#: (column header, per-pair score column) compared by the paired bootstrap; the table's values are their means
COMPARED = (("BS-F1", "bertscore_f1"), ("BLEU-4", "bleu4"), ("R-L", "rougeL_f1"))


def compare_to_baseline(names: Sequence[str], scores: Mapping[str, pd.DataFrame], compare: CompareConfig,
                        seed: int, labels: Mapping[str, str] | None = None) -> dict[str, dict[str, Difference]]:
    """``{name: {header: Difference}}`` for every explainer in ``names`` but the baseline, in that
    order: the mean per-pair difference (name − baseline) of each :data:`COMPARED` score with its
    paired bootstrap interval (:func:`explainrec.evaluation.bootstrap.paired_bootstrap`)."""
    if compare.baseline not in names:
        raise ParamError("compare.baseline", f"one of the explainers ({', '.join(names)})", compare.baseline)
    return _paired(names, scores, {n: compare.baseline for n in names if n != compare.baseline}, compare, seed, labels)


def compare_controls(names: Sequence[str], scores: Mapping[str, pd.DataFrame], compare: CompareConfig,
                     seed: int, labels: Mapping[str, str] | None = None) -> dict[str, dict[str, Difference]]:
    """``{name: {header: Difference}}`` for every ``compare.controls`` entry with both explainers in
    ``names``: the explainer against its control (name − control), paired as
    :func:`compare_to_baseline` pairs them. An entry with a side missing from the run is left out
    (:func:`summarise` notes it under the table)."""
    against = {name: control for name, control in compare.controls.items() if name in names and control in names}
    return _paired(names, scores, against, compare, seed, labels)


def _paired(names: Sequence[str], scores: Mapping[str, pd.DataFrame], against: Mapping[str, str],
            compare: CompareConfig, seed: int, labels: Mapping[str, str] | None) -> dict[str, dict[str, Difference]]:
    missing = [n for n in names if n not in scores]
    if missing:
        raise ParamError("scores", "a per-pair score table for every explainer", missing)
    label = {n: (labels or {}).get(n, f"scores of {n}") for n in names}
    columns = [col for _, col in COMPARED]
    out = {}
    for name, base in against.items():
        by_col = paired_bootstrap(scores[base], scores[name], columns, resamples=compare.resamples,
                                  confidence=compare.confidence, seed=seed, labels=(label[base], label[name]))
        out[name] = {h: by_col[col] for h, col in COMPARED}
    return out


def difference_table(differences: Mapping[str, Mapping[str, Difference]], pairs: Mapping[str, Any],
                     compare: CompareConfig, seed: int) -> str:
    """The markdown of :func:`compare_to_baseline`'s result: one row per explainer, cells
    ``diff [low, high]``, in bold where the interval excludes 0, and a note on the marking."""
    level = f"{compare.confidence * 100:g} %"
    lines = [f"Difference vs {compare.baseline} ({level} paired bootstrap interval, {compare.resamples} resamples, "
             f"seed {seed}):", "",
             "| Method | pairs | " + " | ".join(h for h, _ in COMPARED) + " |", "|---|---:|" + "---:|" * len(COMPARED)]

    def cell(d: Difference) -> str:
        if d.diff is None:
            return "–"
        if d.ci_low is None or d.ci_high is None:
            return f"{d.diff:+.4f} [–]"
        text = f"{d.diff:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
        return f"**{text}**" if d.excludes_zero else text

    for name, by_metric in differences.items():
        lines.append(f"| {name} | {pairs.get(name, '–')} | " + " | ".join(cell(by_metric[h]) for h, _ in COMPARED)
                     + " |")
    marked = sum(d.excludes_zero for by in differences.values() for d in by.values())
    total = sum(len(by) for by in differences.values())
    note = (f"Each cell: the mean over the test pairs of (method − {compare.baseline}) [its interval]; **bold**: the "
            f"interval excludes 0 ({marked} of {total}), the sign survives resampling the pairs (no correction "
            f"for making {total} comparisons).")
    return "\n".join(lines) + "\n\n" + note + "\n"

