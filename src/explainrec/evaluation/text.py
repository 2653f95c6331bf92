"""Text similarity of generated and reference explanations: BERTScore and ROUGE-L.

Both call their libraries directly (``bert-score``, ``rouge-score``), never
``evaluate.load``, which fetches metric scripts from the Hugging Face hub.

BERTScore runs on a *local* encoder folder (by default all-MiniLM-L6-v2, from
the assets stage), at a stated layer, without idf weighting or baseline
rescaling; the encoder and layer are part of every result, because scores of
different encoders are not comparable (papers usually report roberta-large,
layer 17, which no registry package ships).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explainrec.errors import AssetError, ParamError


def _check(cands: Sequence[str], refs: Sequence[str]) -> tuple[list[str], list[str]]:
    cands, refs = [str(c) for c in cands], [str(r) for r in refs]
    if len(cands) != len(refs):
        raise ParamError("refs", f"as many references as candidates ({len(cands)})", len(refs))
    return cands, refs


def _summary(name: str, values: list[float]) -> dict[str, float]:
    if not values:
        return {name: float("nan"), f"{name}_std": float("nan")}
    return {name: float(statistics.fmean(values)), f"{name}_std": float(statistics.pstdev(values))}


def encoder_name(folder: str | Path) -> str:
    """What to record as the BERTScore encoder: the identity in the assets stage's
    ``encoder.json`` when the folder has one, else the folder's name (its parent's for ``.../model``)."""
    import json

    folder = Path(folder)
    try:
        identity = json.loads((folder / "encoder.json").read_text()).get("identity")
    except (OSError, ValueError, AttributeError):
        identity = None
    if isinstance(identity, str) and identity:
        return identity
    return folder.name if folder.name != "model" else folder.parent.name


def bertscore(cands: Sequence[str], refs: Sequence[str], encoder_folder: str | Path, num_layers: int = 6,
              batch_size: int = 64, device: str = "cpu") -> dict[str, Any]:
    """BERTScore of each candidate against its reference with a local encoder.

    Returns ``precision, recall, f1`` (means), ``precision_std, recall_std,
    f1_std`` (population std over samples), ``per_sample`` (``{precision,
    recall, f1}`` lists in input order), ``n``, ``encoder`` (:func:`encoder_name`)
    and ``num_layers``. An empty candidate scores 0 (bert-score's convention).
    """
    cands, refs = _check(cands, refs)
    folder = Path(encoder_folder)
    if not (folder / "config.json").exists():
        raise AssetError(f"{folder}: not an encoder folder (no config.json); "
                         "the pipeline's encoder comes from `dvc repro assets_encoder`")
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ParamError("num_layers", "a positive integer (the encoder layer whose embeddings are compared)", num_layers)
    out: dict[str, Any] = {"n": len(cands), "encoder": encoder_name(folder), "num_layers": num_layers}
    if not cands:
        out.update(_summary("precision", []) | _summary("recall", []) | _summary("f1", []))
        out["per_sample"] = {"precision": [], "recall": [], "f1": []}
        return out
    import bert_score
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "Empty candidate sentence detected" etc. stay in the scores
    try:
        p, r, f = bert_score.score(cands, refs, model_type=str(folder), num_layers=num_layers, batch_size=batch_size,
                                   device=device, verbose=False, idf=False, rescale_with_baseline=False)
    finally:
        transformers.logging.set_verbosity(verbosity)
    per = {"precision": [float(x) for x in p], "recall": [float(x) for x in r], "f1": [float(x) for x in f]}
    for k, v in per.items():
        out.update(_summary(k, v))
    out["per_sample"] = per
    return out


def rouge_l(cands: Sequence[str], refs: Sequence[str], stem: bool = True) -> dict[str, Any]:
    """ROUGE-L (longest common subsequence, sentence level) with ``rouge-score``'s tokenizer
    (lower-cased, non-alphanumerics dropped) and Porter stemming.

    Returns ``precision, recall, f1`` (means), their ``_std``, ``per_sample``
    (``{precision, recall, f1}`` lists) and ``n``.
    """
    from rouge_score import rouge_scorer

    cands, refs = _check(cands, refs)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stem)
    scores = [scorer.score(ref, cand)["rougeL"] for cand, ref in zip(cands, refs)]  # score(target, prediction)
    per = {"precision": [s.precision for s in scores], "recall": [s.recall for s in scores],
           "f1": [s.fmeasure for s in scores]}
    out: dict[str, Any] = {"n": len(cands)}
    for k, v in per.items():
        out.update(_summary(k, v))
    out["per_sample"] = per
    return out
