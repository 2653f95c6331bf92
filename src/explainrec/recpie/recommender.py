"""f(x, e): LR-Recsys's DNN (paper 003 §3.5; imported, not copied) on rating regression in [0, 1].

Its inputs are the positive and negative explanation embeddings plus the user, item and
history inputs of :func:`explainrec.lrrecsys.experiment.encode_pairs`. Paper 002 §2.2 embeds
explanations with a pre-trained text encoder: :class:`TextEmbedder` uses the bundled sentence
encoder (the DNN learns the projection to its width) or, as a param value, LR-Recsys's
autoencoder fitted once on round 0's train explanations and then kept, so every round's vectors
live in the same space.

Round 0 (and every round without ``warm_start``) fits a fresh model with
:func:`explainrec.core.recommender.train.fit`; a warm start passes it the previous round's weights
(``initial_state``), which training must then beat on the validation slice. The loop fits every
round with the same seed, so the validation slice (seeded by it, :func:`validation_rows`) is the
same train pairs in every round and never trained on: with a slice redrawn per round, most of
it would be pairs the previous round's weights were fitted on, and early stopping would favour
those weights. :func:`weight_change` measures how far a round moved the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from explainrec.core.recommender.model import Inputs, ModelConfig
from explainrec.core.recommender.train import TrainConfig

TASK = "regression"


@dataclass
class TextEmbedder:
    """Explanation texts -> float32 vectors, by the sentence encoder or a kept autoencoder fit."""

    encoder: str
    sentence: Any = None  # explainrec.cpeg.negatives.LazyEncoder (or any object with .encode)
    autoencoder_config: Any = None
    autoencoder: Any = None  # AutoencoderFit, set by fit_autoencoder
    seed: int = 0
    _memo: dict[str, np.ndarray] = field(default_factory=dict)

    def fit_autoencoder(self, texts: Sequence[str]) -> None:
        """Fit LR-Recsys's autoencoder on ``texts`` (round 0's train explanations) and keep it."""
        from explainrec.core.recommender.autoencoder import AutoencoderConfig, autoencoder_checkpoint, train_autoencoder

        config = self.autoencoder_config or AutoencoderConfig()
        self.autoencoder = train_autoencoder(list(texts), config, self.seed, progress=False,
                                             checkpoint=autoencoder_checkpoint("recpie_autoencoder", list(texts),
                                                                               config, self.seed))
        self._memo.clear()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            if self.encoder == "sentence":
                from explainrec.core.encoder import encode_texts

                vecs = encode_texts(self.sentence, todo)
            else:
                from explainrec.core.errors import ExplainrecError
                from explainrec.core.recommender.autoencoder import embed

                if self.autoencoder is None:
                    raise ExplainrecError("recpie: the autoencoder is used before round 0 fitted it")
                vecs = embed(self.autoencoder, None, todo)
            self._memo.update(zip(todo, np.asarray(vecs, np.float32)))
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack([self._memo[t] for t in texts]).astype(np.float32)


def fit_recommender(model_config: ModelConfig, train_config: TrainConfig, inputs: Inputs, ratings: np.ndarray,
                    n_users: int, n_items: int, seed: int, initial: dict[str, torch.Tensor] | None = None) -> Any:
    """The regression fit (:class:`explainrec.core.recommender.train.Fit`: ``model``, ``best_epoch`` (0: the
    warm start's weights were kept), ``epochs_run``, losses): LR-Recsys's ``fit``, from its seeded
    initialisation or (warm start) from ``initial``."""
    from explainrec.core.recommender.train import fit, fit_checkpoint

    # resumable after a kill (checkpoints under $EXPLAINREC_CACHE/checkpoints, removed when the fit is done)
    checkpoint = fit_checkpoint("recpie_recommender", model_config, train_config, inputs, ratings, TASK, n_users,
                                n_items, seed, initial)
    return fit(model_config, train_config, inputs, ratings, TASK, n_users, n_items, seed, initial_state=initial,
               checkpoint=checkpoint)


def validation_rows(n: int, train_config: TrainConfig, seed: int) -> np.ndarray:
    """The rows of ``n`` train samples that :func:`fit_recommender` with ``seed`` holds out for early stopping."""
    from explainrec.core.recommender.train import validation_split

    return validation_split(n, train_config.val_fraction, seed)[1]


def weight_change(before: dict[str, torch.Tensor] | None, model: nn.Module) -> float | None:
    """The L2 norm of the difference between ``model``'s floating-point weights and ``before``'s
    (None without ``before``)."""
    if before is None:
        return None
    total = 0.0
    for name, value in model.state_dict().items():
        if value.is_floating_point():
            total += float(((value.detach().double().cpu() - before[name].double().cpu()) ** 2).sum())
    return total ** 0.5


def with_explanations(inputs: Inputs, vectors: np.ndarray) -> Inputs:
    """``inputs`` with its explanation vectors replaced by ``vectors`` [B, 2, d]."""
    return Inputs(inputs.user, inputs.item, inputs.history,
                  torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)))


def user_table(model: nn.Module) -> torch.Tensor:
    """The recommender's consumer embedding table E_c [n_users, dim]."""
    return model.users.weight.detach().clone()


def save_recommender(model: nn.Module, folder: str | Path) -> None:
    torch.save(model.state_dict(), Path(folder) / "recommender.pt")


def load_state(folder: str | Path) -> dict[str, torch.Tensor]:
    return torch.load(Path(folder) / "recommender.pt", weights_only=True)
