"""Explanation embeddings: the autoencoder's 8-dim bottleneck (§3.4.2) or, for Ablation 2, raw text embeddings.

``autoencoder``
    the paper's model: the text autoencoder trained on the train pairs' positive and
    negative explanations only (App. C.1: no test text leaks into it), then applied to
    every pair. It is fitted inside each run, once per model seed and on that run's share
    of the train pairs only (:func:`autoencoder_embeddings`, called by
    :func:`explainrec.lrrecsys.experiment.run_experiment`), so the spread over seeds includes
    the autoencoder's and Table 3's learning-efficiency runs never see the texts they leave
    out. The lrrecsys_embed stage therefore writes the texts (``texts.parquet``) and the
    settings (``autoencoder.json``) for an autoencoder entry, not vectors
    (:func:`load_embeddings` reads either).
``llm``
    Ablation 2 as the paper words it: the LLM's own embedding of the explanation, here the
    mean over the explanation's tokens of the ``llm``'s last hidden states (needs its
    weights: a transformers backend); the recommender learns a projection to 8 dims.
``sentence``
    ours: the repository's sentence encoder (L2-normalised), also projected by the recommender.

The ``llm`` and ``sentence`` tables hold ``pair_id``, ``split`` and one float32 list column per
explanation (``embeddings.parquet``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainrec.core.config import check_choice, check_path
from explainrec.core.errors import ExplainrecError, InputError
from explainrec.core.io import read_table

ENCODERS = ("autoencoder", "llm", "sentence")
FILE = "embeddings.parquet"
#: an autoencoder entry's folder: the explanations and the autoencoder's settings
TEXTS_FILE, AUTOENCODER_FILE = "texts.parquet", "autoencoder.json"
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
    from explainrec.core.encoder import encode_texts, load_encoder

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
    """An embedding table and its metrics; for the autoencoder, the explanations table (the
    vectors come per run and seed, see :func:`autoencoder_embeddings`) and its settings."""

    table: pd.DataFrame
    metrics: dict[str, object]
    autoencoder: Any = None  # AutoencoderConfig for an autoencoder entry


def embed_explanations(explanations: pd.DataFrame, config: EmbedConfig, *,
                       autoencoder: object | None = None, llm_model: str | Path | None = None,
                       encoder_folder: str | Path | None = None, progress: bool = True) -> Embedded:
    """Embed every pair's positive and negative explanation with ``config.encoder``.

    ``llm_model`` (a transformers folder) and ``encoder_folder`` serve the ``llm`` and
    ``sentence`` encoders. For the ``autoencoder`` (its
    :class:`~explainrec.core.recommender.autoencoder.AutoencoderConfig` in ``autoencoder``) nothing is
    fitted here: the result holds the explanations and the settings, and each run fits the
    autoencoder per seed on its own train pairs.
    """
    pos = explanations["positive"].astype(str).tolist()
    neg = explanations["negative"].astype(str).tolist()
    train = (explanations["split"] == "train").to_numpy()
    metrics: dict[str, object] = {"encoder": config.encoder, "explanations": config.explanations,
                                  "pairs": int(len(explanations)), "train_pairs": int(train.sum())}
    if config.encoder == "autoencoder":
        from explainrec.core.recommender.autoencoder import AutoencoderConfig, Vocabulary

        ae = autoencoder if autoencoder is not None else AutoencoderConfig()
        corpus = [t for t, keep in zip(pos + neg, np.concatenate([train, train])) if keep]
        metrics.update({"dim": ae.bottleneck, "fitted": "per model seed and train share, by lrrecsys_train",
                        "train_vocabulary": len(Vocabulary.build(corpus, ae.min_count)) if corpus else 0})
        table = explanations[["pair_id", "split", "positive", "negative"]].astype(str).reset_index(drop=True)
        return Embedded(table, metrics, ae)
    if config.encoder == "llm":
        both = llm_hidden_embeddings(llm_model, pos + neg)
    else:
        both = sentence_embeddings(encoder_folder, pos + neg)
    p, n = both[:len(pos)], both[len(pos):]
    metrics["dim"] = int(p.shape[1]) if p.ndim == 2 else 0
    return Embedded(embedding_table(explanations, p, n), metrics)


def save_embedded(result: Embedded, folder: Path) -> None:
    """Write ``result`` into ``folder`` (an existing, empty folder): ``embeddings.parquet``, or
    ``texts.parquet`` and ``autoencoder.json`` for the autoencoder."""
    from explainrec.core.io import write_json, write_parquet

    if result.autoencoder is None:
        write_parquet(result.table, folder / FILE)
    else:
        write_parquet(result.table, folder / TEXTS_FILE)
        write_json(folder / AUTOENCODER_FILE, asdict(result.autoencoder))


@dataclass(frozen=True)
class AutoencoderTexts:
    """The explanations of the pairs, in the pairs' order, still to be encoded by an autoencoder
    that each run fits per seed on its train pairs (:func:`autoencoder_embeddings`)."""

    positive: list[str]
    negative: list[str]
    config: Any  # AutoencoderConfig

    def __len__(self) -> int:
        return len(self.positive)


def load_embeddings(folder: str | Path, pair_ids: Sequence[str]) -> np.ndarray | AutoencoderTexts:
    """An lrrecsys_embed folder for ``pair_ids``: float32 ``[n, 2, d]`` vectors (the llm and sentence
    encoders) or, for an autoencoder entry, the :class:`AutoencoderTexts` to fit it on."""
    from explainrec.core.recommender.autoencoder import AutoencoderConfig

    folder = Path(folder)
    if not (folder / AUTOENCODER_FILE).is_file():
        return read_embeddings(folder / FILE, pair_ids)
    config = AutoencoderConfig(**json.loads((folder / AUTOENCODER_FILE).read_text()))
    table = read_table(folder / TEXTS_FILE, "explanation texts", "the lrrecsys_embed stage", ("pair_id", *KINDS))
    index = dict(zip(table["pair_id"].astype(str), range(len(table))))
    missing = [p for p in pair_ids if p not in index]
    if missing:
        raise InputError(folder / TEXTS_FILE, "pair_id", "an explanation for every pair of the pairs table "
                         "(rerun the chain)", got=f"{len(missing)} missing, e.g. {missing[0]}")
    rows = table.iloc[[index[p] for p in pair_ids]]
    return AutoencoderTexts(rows["positive"].astype(str).tolist(), rows["negative"].astype(str).tolist(), config)


@dataclass
class AutoencoderRun:
    """One seed's autoencoder: the fit, every pair's vectors ``[n, 2, bottleneck]`` and its metrics."""

    fit: Any  # AutoencoderFit
    vectors: np.ndarray
    metrics: dict[str, Any]
    checkpoint: Any = None  # the Checkpoint kept for the caller to clear, or None


def autoencoder_embeddings(texts: AutoencoderTexts, train_rows: Sequence[int], seed: int, *,
                           negatives: bool = True, test_rows: Sequence[int] = (),
                           checkpoint_name: str | None = "lrrecsys_autoencoder", keep_checkpoint: bool = False,
                           progress: bool = False, live: Any = None, prefix: str = "") -> AutoencoderRun:
    """Fit the autoencoder with ``seed`` on the explanations of the pairs ``train_rows`` (their
    positives, then, with ``negatives``, their negatives: App. C.1, training data only) and
    embed every pair's two explanations with it.

    ``test_rows``: the pairs whose texts the metrics' held-out reconstruction accuracy is
    measured on. ``checkpoint_name``: the fit resumes after a kill from
    ``$EXPLAINREC_CACHE/checkpoints/<name>/`` (None: no checkpoint); with ``keep_checkpoint`` the
    checkpoint stays (``checkpoint`` of the result) until the caller clears it. ``live`` / ``prefix``: the
    fit's curve (:func:`~explainrec.core.recommender.autoencoder.train_autoencoder`)."""
    from explainrec.core.recommender.autoencoder import (PAD, UNK, autoencoder_checkpoint, embed, reconstruction_accuracy,
                                                 train_autoencoder)

    rows = [int(r) for r in train_rows]
    corpus = [texts.positive[r] for r in rows] + ([texts.negative[r] for r in rows] if negatives else [])
    checkpoint = None
    if checkpoint_name is not None:
        checkpoint = autoencoder_checkpoint(checkpoint_name, corpus, texts.config, seed)
    fit = train_autoencoder(corpus, texts.config, seed, progress=progress, checkpoint=checkpoint,
                            keep_checkpoint=keep_checkpoint, live=live, prefix=prefix)
    vectors = np.stack([embed(fit, None, texts.positive), embed(fit, None, texts.negative)], axis=1)
    held_out = [texts.positive[int(r)] for r in test_rows] + \
        ([texts.negative[int(r)] for r in test_rows] if negatives else [])
    ids = fit.vocab.encode(held_out, fit.config.max_len)
    words = ids[ids != PAD]
    metrics = {
        "seed": int(seed),
        "texts": len(corpus),
        "vocabulary": len(fit.vocab),
        "parameters": fit.model.parameter_count(),
        "final_loss": round(fit.losses[-1], 5),
        "train_token_accuracy": round(fit.token_accuracy, 4),
        "chance_token_accuracy": round(fit.chance_accuracy, 4),
        "test_token_accuracy": round(reconstruction_accuracy(fit.model, ids), 4) if words.size else None,
        "test_unknown_share": round(float((words == UNK).mean()), 4) if words.size else None,
        "resumed_from_epoch": fit.resumed_from,
    }
    return AutoencoderRun(fit, vectors.astype(np.float32), metrics, checkpoint if keep_checkpoint else None)
