"""Text quality of generated explanations: BERTScore, ROUGE-1/2/L, BLEU-1/4, USR.

All call their libraries directly (``bert-score``, ``rouge-score``,
``sacrebleu``), never ``evaluate.load``, which fetches metric scripts from the
Hugging Face hub. Every per-sample score comes with its mean and population
standard deviation (``statistics.pstdev``) over the samples.

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

from explainrec.core.errors import AssetError, ParamError


def _check(cands: Sequence[str], refs: Sequence[str]) -> tuple[list[str], list[str]]:
    cands, refs = [str(c) for c in cands], [str(r) for r in refs]
    if len(cands) != len(refs):
        raise ParamError("refs", f"as many references as candidates ({len(cands)})", len(refs))
    return cands, refs


def _stats(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation; both nan for no values."""
    if not values:
        return float("nan"), float("nan")
    return float(statistics.fmean(values)), float(statistics.pstdev(values))


def _summary(name: str, values: list[float]) -> dict[str, float]:
    mean, std = _stats(values)
    return {name: mean, f"{name}_std": std}


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

    # an empty text scores 0, bert-score's convention, set here: bert-score's own path for it calls a
    # tokenizer method transformers 5 no longer has
    scored = [k for k, (c, ref) in enumerate(zip(cands, refs)) if c.strip() and ref.strip()]
    per: dict[str, list[float]] = {"precision": [0.0] * len(cands), "recall": [0.0] * len(cands),
                                   "f1": [0.0] * len(cands)}
    if scored:
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()
        try:
            p, r, f = bert_score.score([cands[k] for k in scored], [refs[k] for k in scored], model_type=str(folder),
                                       num_layers=num_layers, batch_size=batch_size, device=device, verbose=False,
                                       idf=False, rescale_with_baseline=False)
        finally:
            transformers.logging.set_verbosity(verbosity)
        for key, values in (("precision", p), ("recall", r), ("f1", f)):
            for k, v in zip(scored, values):
                per[key][k] = float(v)
    for k, v in per.items():
        out.update(_summary(k, v))
    out["per_sample"] = per
    return out


ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def _rouge(cands: list[str], refs: list[str], stem: bool, types: Sequence[str]) -> dict[str, Any]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(types), use_stemmer=stem)
    scores = [scorer.score(ref, cand) for cand, ref in zip(cands, refs)]  # score(target, prediction)
    out: dict[str, Any] = {}
    for t in types:
        per = {"precision": [s[t].precision for s in scores], "recall": [s[t].recall for s in scores],
               "f1": [s[t].fmeasure for s in scores]}
        out[t] = {}
        for k, v in per.items():
            out[t].update(_summary(k, v))
        out[t]["per_sample"] = per
    return out


def rouge(cands: Sequence[str], refs: Sequence[str], stem: bool = True) -> dict[str, Any]:
    """ROUGE-1, ROUGE-2 and ROUGE-L (longest common subsequence, sentence level) of each
    candidate against its reference, with ``rouge-score``'s ``RougeScorer``: its tokenizer
    (lower-cased, non-alphanumerics dropped) and, with ``stem``, Porter stemming.

    Returns ``{"rouge1": ..., "rouge2": ..., "rougeL": ..., "n"}``, each of the three
    ``{precision, recall, f1}`` (means), their ``_std`` (population std) and
    ``per_sample`` (``{precision, recall, f1}`` lists in input order).
    """
    cands, refs = _check(cands, refs)
    return {**_rouge(cands, refs, stem, ROUGE_TYPES), "n": len(cands)}


def rouge_l(cands: Sequence[str], refs: Sequence[str], stem: bool = True) -> dict[str, Any]:
    """ROUGE-L alone: :func:`rouge`'s ``rougeL`` entry plus ``n``
    (``precision, recall, f1``, their ``_std``, ``per_sample``)."""
    cands, refs = _check(cands, refs)
    return {**_rouge(cands, refs, stem, ("rougeL",))["rougeL"], "n": len(cands)}


def bleu(cands: Sequence[str], refs: Sequence[str], lowercase: bool = True) -> dict[str, Any]:
    """BLEU-1 and BLEU-4 of each candidate against its single reference, with ``sacrebleu``.

    Implementation: ``sacrebleu.metrics.BLEU(max_ngram_order=1 or 4, effective_order=True,
    tokenize="13a", lowercase=lowercase)`` and its ``sentence_score`` per pair, i.e.
    sacreBLEU's defaults otherwise: the ``13a`` tokenizer (mteval-v13a: punctuation split
    off), case-insensitive by default (``lowercase=True``, as ROUGE's tokenizer is),
    smoothing ``exp`` (Chen & Cherry 2014 method 3, NIST: the k-th n-gram order without a
    match gets precision 1 / (2^k * its n-gram count)), effective order (orders the
    candidate is too short to have are left out of the geometric mean), clipped n-gram
    precisions combined by the geometric mean with uniform weights, times the brevity penalty
    ``exp(1 - r/c)`` when the candidate (c tokens) is shorter than the reference (r tokens).
    Scores are divided by 100 to lie in [0, 1]; ``bleu1``/``bleu4`` are means over pairs of
    these sentence scores (not corpus BLEU), ``_std`` their population std.

    ``bleu4_corpus`` is corpus-level BLEU-4 (``BLEU(max_ngram_order=4, tokenize="13a",
    lowercase=lowercase)``, ``exp`` smoothing, no effective order: the usual sacreBLEU score)
    over all pairs, also divided by 100: n-gram counts and lengths summed over the corpus
    first, so it is not the mean of the sentence scores.

    Returns ``bleu1, bleu1_std, bleu4, bleu4_std, bleu4_corpus, per_sample`` (``{bleu1,
    bleu4}`` lists in input order), ``n`` and ``signature`` (sacreBLEU's signature of the
    sentence-level BLEU-4; None for no pairs). An empty candidate scores 0; no pairs give nan.
    """
    from sacrebleu.metrics import BLEU

    cands, refs = _check(cands, refs)
    common = {"tokenize": "13a", "lowercase": bool(lowercase)}
    sentence = {f"bleu{k}": BLEU(max_ngram_order=k, effective_order=True, **common) for k in (1, 4)}
    per = {name: [m.sentence_score(c, [r]).score / 100 for c, r in zip(cands, refs)] for name, m in sentence.items()}
    out: dict[str, Any] = {"n": len(cands)}
    for k, v in per.items():
        out.update(_summary(k, v))
    corpus = BLEU(max_ngram_order=4, **common)
    out["bleu4_corpus"] = corpus.corpus_score(cands, [refs]).score / 100 if cands else float("nan")
    out["per_sample"] = per
    out["signature"] = str(sentence["bleu4"].get_signature()) if cands else None  # known once it has scored
    return out


def usr(texts: Sequence[str]) -> dict[str, Any]:
    """Unique Sentence Ratio (Li et al. 2021, PETER; XRec Table 1): distinct generated
    explanations / explanations.

    Texts are compared after whitespace normalisation (leading and trailing whitespace
    dropped, inner runs of whitespace made one space) and case-sensitively; nothing else is
    normalised. Returns ``usr`` (nan for no texts), ``unique`` and ``n``.
    """
    normal = [" ".join(str(t).split()) for t in texts]
    unique = len(set(normal))
    return {"usr": unique / len(normal) if normal else float("nan"), "unique": unique, "n": len(normal)}
