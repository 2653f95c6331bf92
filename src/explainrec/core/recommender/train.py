"""Training and evaluation of the LR-Recsys recommendation model (paper 003, §3.5.3, App. A.3, C.1; §5.1).

The paper trains the DNN with learning rate 0.01, batch size 128 and 100 epochs (A.3, C.1)
and does not name the optimiser; we use Adam (``optimizer="adam"``; plain SGD, the update of
Eq. 5, is the alternative). We add early stopping on the loss of a seeded validation slice
of the train pairs (``val_fraction``), keeping the best epoch's weights.

Two tasks (C.1), one model each:

* ``"regression"``: the rating r in 1..5 rescaled to [0, 1], ``(r - 1) / 4``, predicted by the
  sigmoid output with the MSE loss; RMSE and MAE are reported on that [0, 1] scale (the scale
  of the paper's tables) and on the 1..5 scale (4x);
* ``"classification"``: high rating (r >= 4) vs low, the BCE loss of Eq. 14 (computed from the
  logit, ``BCEWithLogits``, which is the same loss without the log(0) risk); AUC.

The paper runs every model ten times and reports means and standard deviations
(§5.1); :func:`run_seeds` does that for both tasks and :func:`paired_seed_test` compares two
variants over the same seeds.

Resume after a kill: :func:`fit` takes a :class:`~explainrec.core.checkpoints.Checkpoint` and saves,
every ``save_every`` epochs (default: each), the weights, the optimiser, the batch-order
generator, torch's global generators, the losses so far and the early-stopping state (best
loss, best epoch, best weights). A rerun with the same inputs (:func:`fit_checkpoint` keys the
checkpoint on them) continues from the last saved epoch and returns the same weights and loss
curves as an uninterrupted fit, bit for bit on one machine. :func:`run_seeds` keeps each
finished fit's checkpoint until every seed is done, so a killed run redoes only the fit it was in.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import mean_absolute_error, roc_auc_score, root_mean_squared_error
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from explainrec.core.checkpoints import UNUSABLE, Checkpoint, array_digest, fingerprint, restore_fit, rng_state, state_digest
from explainrec.core.config import check_choice, check_device, check_int, check_number, resolve_device
from explainrec.core.curves import log_step
from explainrec.core.errors import ParamError
from explainrec.core.recommender.model import Inputs, ModelConfig, build_model, parameter_count
from explainrec.core.seeding import deterministic_torch, stable_rng

TASKS = ("regression", "classification")
OPTIMIZERS = ("adam", "sgd")
#: ratings at or above this are the positive class of the classification task
HIGH_RATING = 4
#: the layout of :func:`fit`'s checkpoints (part of their key: a new layout never reads an old file)
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of the recommendation model (App. A.3: lr 0.01, batch 128, 100 epochs).

    ``optimizer``: "adam" (our choice; the paper does not say) or "sgd". ``patience``: epochs
    without a lower validation loss before stopping (0: no early stopping). ``val_fraction``:
    the share of the train pairs held out, seeded, for the validation loss (0: none; then
    every epoch runs and the last one is kept).
    """

    learning_rate: float = 0.01
    batch_size: int = 128
    epochs: int = 100
    patience: int = 10
    val_fraction: float = 0.1
    optimizer: str = "adam"
    #: where the model trains: cpu (the default: these models are small, and a CPU run is the committed
    #: one) | auto | cuda | cuda:N | mps; the fitted model is handed back on the CPU either way
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_number(self.learning_rate, "learning_rate", 0, math.inf, low_open=True, high_open=True)
        check_int(self.batch_size, "batch_size")
        check_int(self.epochs, "epochs")
        check_int(self.patience, "patience", 0)
        check_number(self.val_fraction, "val_fraction", 0, 1, high_open=True)
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_device(self.device)


def targets(ratings: np.ndarray, task: str) -> np.ndarray:
    """The training target: ``(r - 1) / 4`` for regression, ``r >= 4`` (1.0 / 0.0) for classification."""
    check_choice(task, "task", TASKS)
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 1:
        raise ParamError("ratings", "a 1-d array of ratings in [1, 5]", r.shape)
    bad = ~np.isfinite(r) | (r < 1) | (r > 5)
    if bad.any():
        raise ParamError("ratings", "a 1-d array of ratings in [1, 5]", r[bad][:3].tolist())
    y = (r - 1) / 4 if task == "regression" else (r >= HIGH_RATING).astype(np.float64)
    return y.astype(np.float32)


def _loss(logit: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    if task == "regression":
        return F.mse_loss(torch.sigmoid(logit), y)
    return F.binary_cross_entropy_with_logits(logit, y)  # Eq. 14


@dataclass
class Fit:
    """A trained model and its training curve (epochs are numbered from 1)."""

    model: nn.Module
    task: str
    seed: int
    best_epoch: int
    epochs_run: int
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    resumed_from: int = 0  # the epoch a checkpoint gave (0: a fresh fit); never part of a data file


def validation_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) row indices; at least one row on each side when both are possible."""
    order = stable_rng(seed, "lrrecsys", "validation").permutation(n)
    n_val = 0 if val_fraction == 0 or n < 2 else min(max(1, round(val_fraction * n)), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _mean_loss(model: nn.Module, inputs: Inputs, y: torch.Tensor, task: str, batch_size: int) -> float:
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            rows = slice(start, start + batch_size)
            logit, _ = model.logits(inputs.subset(rows))
            total += float(_loss(logit, y[rows], task)) * len(y[rows])
    return total / len(inputs)


def fit_checkpoint(name: str, model_config: ModelConfig, train_config: TrainConfig, inputs: Inputs,
                   ratings: np.ndarray, task: str, n_users: int, n_items: int, seed: int,
                   initial_state: Mapping[str, torch.Tensor] | None = None) -> Checkpoint:
    """The checkpoint of :func:`fit` with these arguments: ``<name>/<key>``, the key a fingerprint of
    the configs, the task, the seed, the sizes, every input tensor, the ratings and the warm start."""
    key = fingerprint("lrrecsys.fit", CHECKPOINT_FORMAT, model_config, train_config, task, int(n_users), int(n_items),
                      int(seed), array_digest(inputs.user, inputs.item, inputs.history, inputs.explanations,
                                              np.asarray(ratings, dtype=np.float64)), state_digest(initial_state))
    return Checkpoint(name, key)


def fit(model_config: ModelConfig, train_config: TrainConfig, inputs: Inputs, ratings: np.ndarray, task: str,
        n_users: int, n_items: int, seed: int, progress: bool = False,
        initial_state: Mapping[str, torch.Tensor] | None = None, checkpoint: Checkpoint | None = None,
        save_every: int = 1, keep_checkpoint: bool = False, live: Any = None, prefix: str = "") -> Fit:
    """Train one model of ``model_config`` for ``task`` on ``inputs`` and their ``ratings``.

    ``initial_state``: weights to start from (a warm start, as RecPIE's rounds do) instead of the
    seeded initialisation; they are then a candidate too (best epoch 0), so training has to beat
    them on the validation slice to replace them.

    Deterministic for a seed: ``torch.manual_seed(seed)`` before the model is built (its
    initialisation), a numpy generator from :func:`explainrec.core.seeding.stable_rng` for the
    validation slice and a ``torch.Generator`` seeded with ``seed`` for the batch order.

    ``checkpoint`` (see :func:`fit_checkpoint`): the state is saved there every ``save_every``
    epochs and when training stops, and a fit that finds a saved state continues from it
    (``resumed_from`` says which epoch), ending with the weights and losses of an uninterrupted
    fit. The checkpoint is removed when the fit returns, unless ``keep_checkpoint`` (the caller
    then clears it once its outputs are written; a rerun before that returns at once).

    ``live`` (a :class:`dvclive.Live`, :mod:`explainrec.core.curves`): each epoch's ``<prefix>train/loss``
    and ``<prefix>val/loss`` (with a validation slice) at step ``epoch``; a resumed fit logs the saved
    epochs first.
    """
    check_choice(task, "task", TASKS)
    check_int(save_every, "save_every")
    y_all = torch.from_numpy(targets(ratings, task))
    if len(y_all) != len(inputs) or len(inputs) == 0:
        raise ParamError("ratings", f"one rating per sample ({len(inputs)}, at least one)", len(y_all))
    deterministic_torch()
    torch.manual_seed(seed)
    model = build_model(model_config, n_users, n_items, inputs.d_in)
    if initial_state is not None:
        model.load_state_dict(initial_state)
    device = torch.device(resolve_device(train_config.device))
    model.to(device)
    inputs, y_all = inputs.to(device), y_all.to(device)
    train_rows, val_rows = validation_split(len(inputs), train_config.val_fraction, seed)
    train, y_train = inputs.subset(train_rows), y_all[train_rows]
    val, y_val = inputs.subset(val_rows), y_all[val_rows]
    make = torch.optim.Adam if train_config.optimizer == "adam" else torch.optim.SGD
    optimizer = make(model.parameters(), lr=train_config.learning_rate)
    shuffle = torch.Generator().manual_seed(seed)

    result = Fit(model=model, task=task, seed=seed, best_epoch=0, epochs_run=0)
    best_loss, best_state = math.inf, None
    stopped = False
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:  # the state at the end of epoch saved["epoch"]
        try:
            restore_fit(saved, model, optimizer, shuffle)
            best_loss, best_state, stopped = saved["best_loss"], saved["best_state"], saved["stopped"]
            result.best_epoch, result.epochs_run = saved["best_epoch"], saved["epoch"]
            result.train_loss, result.val_loss = list(saved["train_loss"]), list(saved["val_loss"])
            result.resumed_from = saved["epoch"]
        except UNUSABLE as exc:  # e.g. a model the code now builds otherwise
            checkpoint.discard(exc)
            return fit(model_config, train_config, inputs, ratings, task, n_users, n_items, seed, progress,
                       initial_state, checkpoint, save_every, keep_checkpoint, live, prefix)
    elif initial_state is not None and len(val):
        model.eval()
        best_loss, best_state = _mean_loss(model, val, y_val, task, 1024), copy.deepcopy(model.state_dict())

    def save(epoch: int) -> None:
        checkpoint.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "shuffle": shuffle.get_state(), "rng": rng_state(), "best_loss": best_loss,
                         "best_state": best_state, "best_epoch": result.best_epoch, "stopped": stopped,
                         "train_loss": result.train_loss, "val_loss": result.val_loss})

    def log(epoch: int) -> None:
        log_step(live, {f"{prefix}train/loss": result.train_loss[epoch - 1],
                        f"{prefix}val/loss": result.val_loss[epoch - 1] if len(result.val_loss) >= epoch else None},
                 epoch)

    for done in range(1, result.epochs_run + 1):  # the epochs a checkpoint gave
        log(done)
    last = result.epochs_run if stopped else train_config.epochs  # an early stop a checkpoint holds is final
    bar = tqdm(range(result.epochs_run + 1, last + 1), desc=f"fit {model_config.arch} {task}", unit="epoch",
               disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        total = 0.0
        for batch in torch.randperm(len(train), generator=shuffle).split(train_config.batch_size):
            logit, _ = model.logits(train.subset(batch))
            loss = _loss(logit, y_train[batch], task)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        result.train_loss.append(total / len(train))
        result.epochs_run = epoch
        if len(val) == 0:
            result.best_epoch = epoch
        else:
            model.eval()
            result.val_loss.append(_mean_loss(model, val, y_val, task, 1024))
            bar.set_postfix(train=f"{result.train_loss[-1]:.4f}", val=f"{result.val_loss[-1]:.4f}")
            if result.val_loss[-1] < best_loss:
                best_loss, result.best_epoch = result.val_loss[-1], epoch
                best_state = copy.deepcopy(model.state_dict())
            elif train_config.patience and epoch - result.best_epoch >= train_config.patience:
                stopped = True
        log(epoch)
        if checkpoint is not None and (stopped or epoch % save_every == 0 or epoch == train_config.epochs):
            save(epoch)
        if stopped:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu").eval()
    if checkpoint is not None and not keep_checkpoint:
        checkpoint.clear()
    return result


def predict(model: nn.Module, inputs: Inputs, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray | None]:
    """(y_hat [B] in (0, 1), input attention [B, T, T] or None for the NCF), in eval mode without gradients."""
    check_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    outputs: list[np.ndarray] = []
    attentions: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for start in range(0, len(inputs), batch_size):
                y_hat, attention = model(inputs.subset(slice(start, start + batch_size)))
                outputs.append(y_hat.numpy())
                if attention is not None:
                    attentions.append(attention.numpy())
    finally:
        model.train(was_training)
    y = np.concatenate(outputs) if outputs else np.zeros(0, dtype=np.float32)
    return y, (np.concatenate(attentions) if attentions else None)


def regression_metrics(y_hat01: np.ndarray, ratings: np.ndarray) -> dict[str, float]:
    """RMSE and MAE on the [0, 1] scale of the target (as in the paper's tables) and, as
    ``rmse_5`` / ``mae_5``, on the 1..5 rating scale (4 times those)."""
    y_hat01 = np.asarray(y_hat01, dtype=np.float64)
    truth01 = targets(ratings, "regression").astype(np.float64)
    truth5, y_hat5 = np.asarray(ratings, dtype=np.float64), 1 + 4 * y_hat01
    return {
        "rmse": float(root_mean_squared_error(truth01, y_hat01)),
        "mae": float(mean_absolute_error(truth01, y_hat01)),
        "rmse_5": float(root_mean_squared_error(truth5, y_hat5)),
        "mae_5": float(mean_absolute_error(truth5, y_hat5)),
    }


def classification_metrics(p: np.ndarray, ratings: np.ndarray) -> dict[str, Any]:
    """``auc``: ROC AUC of ``p`` against ratings >= 4, or None with ``auc_reason`` when the
    ratings hold one class only (AUC is undefined there)."""
    labels = targets(ratings, "classification")
    n_high = int(labels.sum())
    if n_high in (0, len(labels)):
        return {"auc": None, "auc_reason": f"the {len(labels)} test ratings are all "
                                           f"{'high (>= 4)' if n_high else 'low (< 4)'}: AUC is undefined"}
    return {"auc": float(roc_auc_score(labels, np.asarray(p, dtype=np.float64)))}


def _spread(values: Sequence[float]) -> float:
    """Standard deviation over seeds: ddof=1 (the sample std) with > 1 seed, 0.0 with one."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def mean_std(values: Sequence[float | None], digits: int | None = None) -> dict[str, float | None]:
    """``{"mean", "std"}`` over runs (std by :func:`_spread`), rounded to ``digits`` when given; both
    None when there is no value or any value is None."""
    if not len(values) or any(v is None for v in values):
        return {"mean": None, "std": None}
    mean, std = float(np.mean(values)), _spread(values)
    return {"mean": round(mean, digits), "std": round(std, digits)} if digits is not None else {"mean": mean, "std": std}


@dataclass
class SeedRuns:
    """Both tasks' models over seeds, evaluated on the test pairs.

    ``metrics[s]`` holds the regression metrics (rmse, mae, rmse_5, mae_5) and the
    classification ones (auc, and auc_reason when AUC is undefined) of ``seeds[s]``;
    ``predictions[task][s]`` the test predictions; ``attention[s]`` the classification model's
    test attention [B, T, T] (None for the NCF), whose token names are ``tokens``.
    """

    seeds: list[int]
    tokens: tuple[str, ...]
    parameter_count: int
    metrics: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, list[np.ndarray]] = field(default_factory=lambda: {t: [] for t in TASKS})
    attention: list[np.ndarray | None] = field(default_factory=list)
    best_epochs: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in TASKS})
    epochs_run: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in TASKS})
    resumed_from: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in TASKS})

    def summary(self) -> dict[str, dict[str, Any]]:
        """For each metric ``{"mean", "std", "per_seed"}``; std is the sample std (ddof=1) over
        seeds, 0.0 for a single seed; mean and std are None when a seed's value is None."""
        out: dict[str, dict[str, Any]] = {}
        names = [k for k in (self.metrics[0] if self.metrics else {}) if not k.endswith("_reason")]
        for name in names:
            values = [m[name] for m in self.metrics]
            out[name] = {**mean_std(values), "per_seed": values}
        return out


def run_seeds(model_config: ModelConfig, train_config: TrainConfig, train_inputs: Inputs | Sequence[Inputs],
              train_ratings: np.ndarray, test_inputs: Inputs | Sequence[Inputs], test_ratings: np.ndarray,
              n_users: int, n_items: int, seeds: Sequence[int], progress: bool = True,
              checkpoint_name: str | None = "lrrecsys_train", live: Any = None) -> SeedRuns:
    """For each seed, fit a regression and a classification model on the train pairs and
    evaluate both on the test pairs (the paper's ten independent runs, §5.1).

    ``train_inputs`` and ``test_inputs``: the same inputs for every seed, or one per seed (the
    explanation vectors of an autoencoder fitted with that seed).

    Each fit checkpoints under ``$EXPLAINREC_CACHE/checkpoints/<checkpoint_name>/`` (None: no
    checkpoints); the checkpoints stay until the last fit is done, so a rerun after a kill skips
    the finished fits and resumes the interrupted one, and are removed before returning.

    ``live`` (a :class:`dvclive.Live`): each fit's curves under the prefix ``seed<seed>/<task>/``
    (``seed3/regression/train/loss``, ...), so the seeds' curves do not interleave."""
    seeds = [check_int(s, "seeds", 0) for s in seeds]
    if not seeds:
        raise ParamError("seeds", "at least one seed", seeds)
    per_seed = {}
    for name, given in (("train_inputs", train_inputs), ("test_inputs", test_inputs)):
        per_seed[name] = [given] * len(seeds) if isinstance(given, Inputs) else list(given)
        if len(per_seed[name]) != len(seeds):
            raise ParamError(name, f"one Inputs, or one per seed ({len(seeds)})", len(per_seed[name]))
    runs: SeedRuns | None = None
    bar = tqdm(total=len(seeds) * len(TASKS), desc=f"lrrecsys {model_config.arch}/{model_config.explanations}",
               unit="model", disable=not progress)
    checkpoints: list[Checkpoint] = []
    for seed, train_inputs, test_inputs in zip(seeds, per_seed["train_inputs"], per_seed["test_inputs"]):
        metrics: dict[str, Any] = {}
        for task in TASKS:
            checkpoint = None
            if checkpoint_name is not None:
                checkpoint = fit_checkpoint(checkpoint_name, model_config, train_config, train_inputs, train_ratings,
                                            task, n_users, n_items, seed)
                checkpoints.append(checkpoint)
            result = fit(model_config, train_config, train_inputs, train_ratings, task, n_users, n_items, seed,
                         checkpoint=checkpoint, keep_checkpoint=True, live=live, prefix=f"seed{seed}/{task}/")
            y_hat, attention = predict(result.model, test_inputs)
            if runs is None:
                runs = SeedRuns(seeds=seeds, tokens=tuple(result.model.tokens),
                                parameter_count=parameter_count(result.model))
            runs.predictions[task].append(y_hat)
            runs.best_epochs[task].append(result.best_epoch)
            runs.epochs_run[task].append(result.epochs_run)
            runs.resumed_from[task].append(result.resumed_from)
            if task == "regression":
                metrics.update(regression_metrics(y_hat, test_ratings))
            else:
                metrics.update(classification_metrics(y_hat, test_ratings))
                runs.attention.append(attention)
            bar.update(1)
        runs.metrics.append(metrics)
    bar.close()
    for checkpoint in checkpoints:
        checkpoint.clear()
    return runs


def paired_seed_test(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """``a - b`` over the same seeds: mean and std (ddof=1; 0.0 for one seed) of the
    difference and the paired t-test (scipy ``ttest_rel``); ``t`` and ``p_value`` are None
    with fewer than 2 seeds or when every difference is the same (zero variance)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ParamError("b", f"as many values as a ({a.shape}), at least one", b.shape)
    diff = a - b
    out: dict[str, Any] = {"n": len(diff), "mean_diff": float(diff.mean()), "std_diff": _spread(diff),
                           "t": None, "p_value": None}
    if len(diff) >= 2:
        test = stats.ttest_rel(a, b)
        if np.isfinite(test.pvalue):
            out["t"], out["p_value"] = float(test.statistic), float(test.pvalue)
    return out
