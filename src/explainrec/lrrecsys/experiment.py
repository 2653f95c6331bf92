"""One LR-Recsys run: a model variant (``lrrecsys.runs.<name>``) trained and tested over seeds.

The pairs and their explanation embeddings become :class:`~explainrec.core.recommender.model.Inputs`
(user and item ids indexed over every pair, history included; item 0 is padding); a run may
keep a seeded share of the train pairs (Table 3's learning efficiency: the same subset for
every model seed, the same test pairs for every share). Model seeds are ``seed, seed+1, ...``.

With the autoencoder (:class:`~explainrec.lrrecsys.embeddings.AutoencoderTexts`) each model
seed gets its own autoencoder, fitted with that seed on the explanations of the run's kept
train pairs only (positives and negatives; positives only for ``n_explanations: 1``), so the
spread over seeds includes the autoencoder's and a 12 % run's recommender never sees a vector
from an autoencoder that read the other 88 %. Runs whose model reads no explanation vector
(``explanations: free`` or ``none``) fit none.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from explainrec.core.config import check_choice, check_int, check_number, check_path
from explainrec.core.errors import ExplainrecError
from explainrec.core.recommender.encoded import encode_pairs
from explainrec.core.recommender.model import ARCHS, EXPLANATIONS, Inputs, ModelConfig
from explainrec.core.recommender.train import TASKS, SeedRuns, TrainConfig, mean_std, run_seeds
from explainrec.core.seeding import stable_rng
from explainrec.lrrecsys.analysis import attention_summary, attention_table
from explainrec.lrrecsys.embeddings import AutoencoderTexts, autoencoder_embeddings


@dataclass(frozen=True)
class RunConfig:
    """One entry of ``lrrecsys.runs``: its table label, the embeddings it reads and how it differs."""

    label: str = ""
    embeddings: str = "main"
    arch: str = "dnn"
    explanations: str = "given"
    n_explanations: int = 2
    train_fraction: float = 1.0

    def __post_init__(self) -> None:
        check_path(self.embeddings, "embeddings", "the name of an lrrecsys.embeddings entry", none_ok=False)
        check_choice(self.arch, "arch", ARCHS)
        check_choice(self.explanations, "explanations", EXPLANATIONS)
        check_int(self.n_explanations, "n_explanations")
        check_number(self.train_fraction, "train_fraction", 0.0, 1.0, low_open=True)


def train_share(n: int, fraction: float, seed: int) -> np.ndarray:
    """A seeded, sorted subset of ``ceil(fraction * n)`` train indices (all of them at 1.0)."""
    if fraction >= 1.0:
        return np.arange(n)
    k = max(1, math.ceil(fraction * n))
    return np.sort(stable_rng(seed, "lrrecsys-train-share", fraction).choice(n, size=k, replace=False))


@dataclass
class RunResult:
    metrics: dict[str, Any]
    predictions: pd.DataFrame
    attention: pd.DataFrame
    autoencoders: list[Any] = field(default_factory=list)  # one AutoencoderFit per model seed, or none


def run_experiment(pairs: pd.DataFrame, embeddings: np.ndarray | AutoencoderTexts, run: RunConfig,
                   model: ModelConfig, train: TrainConfig, seeds: int, seed: int, progress: bool = True,
                   live: Any = None) -> RunResult:
    """Fit ``seeds`` regression and classification models of the variant and test them.

    ``live`` (a :class:`dvclive.Live`, :mod:`explainrec.core.curves`): the per-epoch curves of every fit,
    under ``seed<seed>/regression/``, ``seed<seed>/classification/`` and ``seed<seed>/autoencoder/``.

    ``embeddings``: fixed vectors ``[n, 2, d]`` in the pairs' order, or the explanations an
    autoencoder is fitted on per model seed (see the module docstring)."""
    check_int(seeds, "seeds")
    texts = embeddings if isinstance(embeddings, AutoencoderTexts) else None
    if texts is not None:
        if len(texts) != len(pairs):
            raise ExplainrecError(f"lrrecsys: {len(texts)} explanations for {len(pairs)} pairs")
        vectors = np.zeros((len(pairs), 2, texts.config.bottleneck), np.float32)  # until an autoencoder fills them
    else:
        vectors = embeddings
    data = encode_pairs(pairs, vectors, model.history)
    if len(data.train) < 2 or len(data.test) < 1:
        raise ExplainrecError(f"lrrecsys: {len(data.train)} train and {len(data.test)} test pairs; "
                              "need at least 2 and 1 (raise lrrecsys.pairs.max_train / max_test)")
    keep = train_share(len(data.train), run.train_fraction, seed)
    seed_list = [seed + k for k in range(seeds)]
    is_train = (pairs["split"] == "train").to_numpy()
    train_rows, test_rows = np.flatnonzero(is_train), np.flatnonzero(~is_train)
    autoencoders, ae_metrics, checkpoints = [], [], []
    train_inputs: Inputs | list[Inputs] = data.train.subset(torch.from_numpy(keep))
    test_inputs: Inputs | list[Inputs] = data.test
    if texts is not None and model.explanations == "given":
        train_inputs, test_inputs = [], []
        for s in seed_list:  # checkpoints kept until every fit is done: a rerun after a kill resumes
            ae = autoencoder_embeddings(texts, train_rows[keep], s, negatives=model.n_explanations == 2,
                                        test_rows=test_rows, keep_checkpoint=True, progress=False,
                                        live=live, prefix=f"seed{s}/autoencoder/")
            autoencoders.append(ae.fit)
            ae_metrics.append(ae.metrics)
            checkpoints.append(ae.checkpoint)
            explanations = torch.from_numpy(ae.vectors)
            train_inputs.append(dataclasses.replace(data.train, explanations=explanations[train_rows])
                                .subset(torch.from_numpy(keep)))
            test_inputs.append(dataclasses.replace(data.test, explanations=explanations[test_rows]))
    runs: SeedRuns = run_seeds(model, train, train_inputs, data.train_ratings[keep], test_inputs, data.test_ratings,
                               data.n_users, data.n_items, seed_list, progress=progress, live=live)
    for checkpoint in checkpoints:
        if checkpoint is not None:
            checkpoint.clear()
    predictions = pd.DataFrame([
        {"pair_id": pid, "seed": s, "task": task, "prediction": float(p), "rating": float(r)}
        for task in TASKS for s, preds in zip(seed_list, runs.predictions[task])
        for pid, p, r in zip(data.test_ids, preds, data.test_ratings)])
    attention = attention_table(runs, data.test_ids, data.test_ratings)
    metrics: dict[str, Any] = {
        "label": run.label,
        "arch": model.arch,
        "explanations": model.explanations,
        "tokens": list(runs.tokens),
        "embeddings": run.embeddings,
        "train_fraction": run.train_fraction,
        "train_pairs": int(len(keep)),
        "test_pairs": int(len(data.test)),
        "test_high_share": round(float((data.test_ratings >= 4).mean()), 4),
        "parameters": runs.parameter_count,
        "seeds": seed_list,
        "best_epochs": runs.best_epochs,
        **runs.summary(),
        "attention": attention_summary(attention, runs.tokens) if len(attention) else None,
        "autoencoder": {
            "fits": len(ae_metrics), "texts": ae_metrics[0]["texts"],
            "mlp_parameters": autoencoders[0].model.mlp_parameter_count(),
            **{k: mean_std([m[k] for m in ae_metrics], 4)
               for k in ("train_token_accuracy", "test_token_accuracy", "vocabulary", "parameters")},
            "chance_token_accuracy": mean_std([m["chance_token_accuracy"] for m in ae_metrics], 4)["mean"],
            "per_seed": ae_metrics,
        } if ae_metrics else None,
    }
    return RunResult(metrics, predictions, attention, autoencoders)
