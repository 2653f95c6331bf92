"""Explanation embeddings: the autoencoder's 8-dim bottleneck (§3.4.2) or, for Ablation 2, raw text embeddings.

``autoencoder``
    the paper's model: the text autoencoder trained on the train pairs' positive and
    negative explanations only (App. C.1: no test text leaks into it), then applied to
    every pair.
``llm``
    Ablation 2 as the paper words it: the LLM's own embedding of the explanation, here the
    mean over the explanation's tokens of the ``llm``'s last hidden states (needs its
    weights: a transformers backend); the recommender learns a projection to 8 dims.
``sentence``
    ours: the repository's sentence encoder (L2-normalised), also projected by the recommender.

The table holds ``pair_id``, ``split`` and one float32 list column per explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explainrec.config import check_choice, check_path
from explainrec.errors import ExplainrecError, InputError
from explainrec.io import read_table

ENCODERS = ("autoencoder", "llm", "sentence")
FILE = "embeddings.parquet"
KINDS = ("positive", "negative")


@dataclass(frozen=True)
class EmbedConfig:
    """One entry of ``lrrecsys.embeddings``: which explanation set, which encoder."""

    explanations: str = "main"
    encoder: str = "autoencoder"

    def __post_init__(self) -> None:
        check_path(self.explanations, "explanations", "the name of an lrrecsys.explanation_sets entry", none_ok=False)
        check_choice(self.encoder, "encoder", ENCODERS)


def llm_hidden_embeddings(model_folder: str | Path | None, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Mean-pooled last hidden states of a causal LM (float32, one row per text); ``model_folder``
    is None when the llm is served over HTTP (no weights here)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = Path(model_folder) if model_folder is not None else None
    if folder is None or not (folder / "config.json").exists():
        raise ExplainrecError(f"{folder or 'the llm is served over HTTP'}: Ablation 2's LLM embeddings need the llm's weights (a transformers "
                              "backend with a local model folder); this llm has none, so use the "
                              "sentence-encoder variant or a local llm")
    tok = AutoTokenizer.from_pretrained(folder)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    rows = []
    with torch.inference_mode():
        for s in range(0, len(texts), batch_size):
            enc = tok(list(texts[s:s + batch_size]), return_tensors="pt", padding=True, truncation=True,
                      max_length=128)
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            rows.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))
    width = int(model.config.hidden_size)
    return torch.cat(rows).numpy().astype(np.float32) if rows else np.zeros((0, width), np.float32)


def sentence_embeddings(encoder_folder: str | Path, texts: Sequence[str]) -> np.ndarray:
    """The sentence encoder's L2-normalised embeddings (float32, one row per text)."""
    from explainrec.cpeg.negatives import encode_texts, load_encoder

    return encode_texts(load_encoder(encoder_folder), list(texts))


def embedding_table(explanations: pd.DataFrame, positive: np.ndarray, negative: np.ndarray) -> pd.DataFrame:
    """``pair_id``, ``split``, ``positive``, ``negative`` (float32 lists)."""
    return pd.DataFrame({
        "pair_id": explanations["pair_id"].astype(str).to_numpy(),
        "split": explanations["split"].astype(str).to_numpy(),
        "positive": list(np.asarray(positive, np.float32)),
        "negative": list(np.asarray(negative, np.float32)),
    })


def read_embeddings(path: str | Path, pair_ids: Sequence[str]) -> np.ndarray:
    """The embeddings of ``pair_ids``, in that order, as float32 ``[n, 2, d]`` (positive, negative)."""
    table = read_table(path, "explanation embeddings", "the lrrecsys_embed stage", ("pair_id", *KINDS))
    index = dict(zip(table["pair_id"].astype(str), range(len(table))))
    missing = [p for p in pair_ids if p not in index]
    if missing:
        raise InputError(path, "pair_id", "an embedding for every pair of the pairs table (rerun the chain)",
                         got=f"{len(missing)} missing, e.g. {missing[0]}")
    rows = table.iloc[[index[p] for p in pair_ids]]
    stacked = [np.stack([np.asarray(v, np.float32) for v in rows[k]]) if len(rows) else np.zeros((0, 0), np.float32)
               for k in KINDS]
    return np.stack(stacked, axis=1)


@dataclass
class Embedded:
    """An embedding table, its metrics and, for the autoencoder, the fit (saved beside the table)."""

    table: pd.DataFrame
    metrics: dict[str, object]
    fit: object | None = None


def embed_explanations(explanations: pd.DataFrame, config: EmbedConfig, seed: int, *,
                       autoencoder: object | None = None, llm_model: str | Path | None = None,
                       encoder_folder: str | Path | None = None, progress: bool = True) -> Embedded:
    """Embed every pair's positive and negative explanation with ``config.encoder``.

    The autoencoder (its :class:`~explainrec.lrrecsys.autoencoder.AutoencoderConfig` in
    ``autoencoder``) learns from the train split's explanations only and then embeds all
    of them; ``llm_model`` (a transformers folder) and ``encoder_folder`` serve the other two.
    """
    pos = explanations["positive"].astype(str).tolist()
    neg = explanations["negative"].astype(str).tolist()
    train = (explanations["split"] == "train").to_numpy()
    metrics: dict[str, object] = {"encoder": config.encoder, "explanations": config.explanations,
                                  "pairs": int(len(explanations)), "train_pairs": int(train.sum())}
    fit = None
    if config.encoder == "autoencoder":
        from explainrec.lrrecsys.autoencoder import (PAD, UNK, autoencoder_checkpoint, embed, reconstruction_accuracy,
                                                     train_autoencoder)

        corpus = [t for t, keep in zip(pos, train) if keep] + [t for t, keep in zip(neg, train) if keep]
        # resumable after a kill (checkpoints under $EXPLAINREC_CACHE/checkpoints, removed when the fit is done)
        fit = train_autoencoder(corpus, autoencoder, seed, progress=progress,
                                checkpoint=autoencoder_checkpoint("lrrecsys_autoencoder", corpus, autoencoder, seed))
        test_texts = [t for t, keep in zip(pos + neg, np.concatenate([train, train])) if not keep]
        test_ids = fit.vocab.encode(test_texts, fit.config.max_len)
        words = test_ids[test_ids != PAD]
        metrics.update({
            "vocabulary": len(fit.vocab),
            "mlp_parameters": fit.model.mlp_parameter_count(),
            "parameters": fit.model.parameter_count(),
            "final_loss": round(fit.losses[-1], 5),
            "train_token_accuracy": round(fit.token_accuracy, 4),
            "chance_token_accuracy": round(fit.chance_accuracy, 4),
            "test_token_accuracy": round(reconstruction_accuracy(fit.model, test_ids), 4) if words.size else None,
            "test_unknown_share": round(float((words == UNK).mean()), 4) if words.size else None,
            "resumed_from_epoch": fit.resumed_from,
        })
        p, n = embed(fit, None, pos), embed(fit, None, neg)
    elif config.encoder == "llm":
        both = llm_hidden_embeddings(llm_model, pos + neg)
        p, n = both[:len(pos)], both[len(pos):]
    else:
        both = sentence_embeddings(encoder_folder, pos + neg)
        p, n = both[:len(pos)], both[len(pos):]
    metrics["dim"] = int(p.shape[1]) if p.ndim == 2 else 0
    return Embedded(embedding_table(explanations, p, n), metrics, fit)
