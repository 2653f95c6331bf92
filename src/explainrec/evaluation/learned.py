"""Learned metrics whose weights no package registry ships: BLEURT and BARTScore.

They run only on a *local* checkpoint folder that the user provides; without
one, a caller records ``{"computed": False, "reason": ...}`` (see
:func:`learned_metric`) instead of a number. torch and transformers are
imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explainrec.core.errors import AssetError, ParamError
from explainrec.evaluation.text import _check, _stats

NO_CHECKPOINT = ("no local checkpoint given (param evaluate.{name}_checkpoint); "
                 "no registry package ships BLEURT/BART weights")


def not_computed(reason: str) -> dict[str, Any]:
    """What to record for a metric that was not computed, and why."""
    return {"computed": False, "reason": str(reason)}


def _checkpoint(folder: str | Path, name: str, expected: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise AssetError(f"{folder}: no such folder; expected a local {name} checkpoint ({expected})")
    if not (folder / "config.json").exists():
        raise AssetError(f"{folder}: not a {name} checkpoint (no config.json); expected {expected}")
    return folder


def _name(folder: Path) -> str:
    return folder.name if folder.name != "model" else folder.parent.name


def _result(per: list[float], folder: Path) -> dict[str, Any]:
    mean, std = _stats(per)
    return {"mean": mean, "std": std, "per_sample": per, "n": len(per), "checkpoint": _name(folder)}


def _max_length(tokenizer: Any, config: Any, default: int) -> int:
    found = (getattr(tokenizer, "model_max_length", None), getattr(config, "max_position_embeddings", None))
    limits = [v for v in found if isinstance(v, int) and 0 < v < 1_000_000]  # tokenizers without one say 1e30
    return min(limits) if limits else default


def bleurt(cands: Sequence[str], refs: Sequence[str], checkpoint: str | Path, batch_size: int = 16,
           device: str = "cpu") -> dict[str, Any]:
    """BLEURT of each candidate against its reference with a local PyTorch checkpoint.

    The folder must load with ``AutoTokenizer`` and ``AutoModelForSequenceClassification``
    and have one regression output (``num_labels == 1``), as the PyTorch conversions of
    BLEURT-base/large in BERT layout do (BLEURT-20's RemBERT layout needs its own package and
    is not supported). Each pair is encoded as BLEURT does, reference first:
    ``[CLS] reference [SEP] candidate [SEP]`` (truncated to the model's length), and the score
    is ``logits[:, 0]``. Returns ``mean``, ``std`` (population), ``per_sample``, ``n`` and
    ``checkpoint`` (the folder's name).
    """
    cands, refs = _check(cands, refs)
    folder = _checkpoint(checkpoint, "BLEURT", "a transformers sequence-classification folder with one output")
    if not cands:
        return _result([], folder)
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).to(device).eval()
    if model.config.num_labels != 1:
        raise AssetError(f"{folder}: not a BLEURT checkpoint; expected one regression output, "
                         f"got num_labels={model.config.num_labels}")
    max_length = _max_length(tok, model.config, 512)
    per: list[float] = []
    with torch.inference_mode():
        for s in range(0, len(cands), max(1, int(batch_size))):
            enc = tok(refs[s : s + batch_size], cands[s : s + batch_size], padding=True, truncation=True,
                      max_length=max_length, return_tensors="pt").to(device)
            per.extend(float(x) for x in model(**enc).logits[:, 0].float().cpu())
    return _result(per, folder)


def bartscore(cands: Sequence[str], refs: Sequence[str], checkpoint: str | Path, batch_size: int = 8,
              device: str = "cpu") -> dict[str, Any]:
    """BARTScore (Yuan et al. 2021) of each candidate against its reference with a local
    ``AutoModelForSeq2SeqLM`` folder (e.g. a BART-large-CNN checkpoint).

    Direction: src = candidate, tgt = reference, as BARTScore's ``score(srcs, tgts)`` is
    called with the system output as source: the score is the mean log-likelihood per
    reference token, ``log p(reference | candidate)`` summed over the reference's tokens
    (special tokens included, padding masked) divided by their number, i.e. minus the
    model's mean token cross-entropy loss. Higher is better; scores are <= 0. Returns
    ``mean``, ``std`` (population), ``per_sample``, ``n`` and ``checkpoint`` (the folder's name).
    """
    cands, refs = _check(cands, refs)
    folder = _checkpoint(checkpoint, "BARTScore", "a transformers sequence-to-sequence model folder")
    if not cands:
        return _result([], folder)
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).to(device).eval()
    max_length = _max_length(tok, model.config, 1024)
    per: list[float] = []
    with torch.inference_mode():
        for s in range(0, len(cands), max(1, int(batch_size))):
            src = tok(cands[s : s + batch_size], padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt").to(device)
            tgt = tok(refs[s : s + batch_size], padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt").to(device)
            mask = tgt["attention_mask"].bool()
            labels = tgt["input_ids"].masked_fill(~mask, -100)  # the model shifts labels into decoder inputs
            logits = model(input_ids=src["input_ids"], attention_mask=src["attention_mask"], labels=labels).logits
            nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100,
                                                    reduction="none")
            per.extend(float(x) for x in (-(nll * mask).sum(1) / mask.sum(1)).cpu())
    return _result(per, folder)


METRICS = {"bleurt": bleurt, "bartscore": bartscore}


def learned_metric(name: str, cands: Sequence[str], refs: Sequence[str],
                   checkpoint: str | Path | None, **kwargs: Any) -> dict[str, Any]:
    """:func:`bleurt` or :func:`bartscore` (by ``name``) with ``computed: True`` added, or
    :func:`not_computed` with the reason when ``checkpoint`` is None. A folder that does
    not exist or lacks ``config.json`` raises :class:`AssetError`."""
    if name not in METRICS:
        raise ParamError("name", f"one of {', '.join(METRICS)}", name)
    if checkpoint is None:
        return not_computed(NO_CHECKPOINT.format(name=name))
    return {"computed": True, **METRICS[name](cands, refs, checkpoint, **kwargs)}
