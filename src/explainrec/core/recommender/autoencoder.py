"""The text autoencoder that turns an explanation into its 8-dim embedding (LR-Recsys, paper 003).

§3.4.2, Appendix A.1 and Appendix C.1 ("Pre-Trained Autoencoder Model"): every
word of an explanation gets a word id, the ids are looked up in a randomly
initialised, trained 8-dim embedding table, and the sentence is the flattened
``maxlen * 8 = 400`` vector of its (padded) word embeddings. A bias-free MLP
maps it 400 -> 64 -> 8 -> 64 -> 400 (ReLU after both 64-wide layers; the
8-wide bottleneck is linear and *is* the embedding ``AE(.)``). The 400 output
is read as ``maxlen`` vectors of 8 whose logits over the vocabulary are their
dot products with the same embedding table (the output projection is tied to
the input table), and the loss is the cross-entropy of Eq. (25) over all
``maxlen`` positions, padding included. The tie is what makes the paper's
"52,224 trainable parameters" come out exactly: 400*64 + 64*8 + 8*64 + 64*400
= 52,224 MLP weights (:meth:`TextAutoencoder.mlp_parameter_count`), plus the
``V * 8`` table (:meth:`TextAutoencoder.parameter_count`), which the paper does
not count. The vocabulary comes from the training explanations only (App. C.1:
"only the training data is used for pre-training"); any other word maps to the
unknown id 1.

The paper gives learning rate 0.1, batch size 128 and 100 epochs but not the
optimiser. At exactly those settings we measured the non-pad token
reconstruction accuracy on the training texts after 100 epochs (mean over
seeds 0-4; 2-core AMD EPYC, no AMX, float32, torch 2.13 CPU) on three corpora:
300 distinct template explanations ("The consumer watched this movie because
the consumer enjoys classic comedies and ...", 16-39 words, vocabulary 145,
chance 0.093), the 200 item profiles of ``data/profiles/item_profiles.parquet``
(8-96 words, 95 cut at 50, vocabulary 663, chance 0.118) and the default run's
192 train explanations (``data/lrrecsys/explanations/main``, vocabulary 413,
chance 0.094). "Chance" always predicts the most frequent word; "clip" is the
total gradient norm each step is clipped to.

    ===============================  =========  ========  ============
    optimiser (lr 0.1)               templates  profiles  explanations
    ===============================  =========  ========  ============
    Adagrad                          0.410      0.308     0.496
    Adagrad, clip 1.0                0.515      0.445
    Adagrad, clip 0.1 (the default)  0.512      0.584     0.514
    Adagrad, clip 0.01               0.505      0.577
    SGD momentum 0.9                 0.428      0.349     0.551
    SGD momentum 0.9, clip 1.0       0.418      0.346
    SGD momentum 0.9, clip 0.1       0.227      0.200     0.358
    Adam                             0.032      0.015     0.102
    Adam, clip 1.0                   0.055      0.062
    Adam, clip 0.1                   0.000      0.000     0.000
    ===============================  =========  ========  ============

Adam at lr 0.1 kills the ReLUs: the logits become constant, the loss sits at
ln V and every position is predicted as padding. Adagrad's first steps at lr
0.1 blow the loss up too (first-epoch mean 42-73 against ln V = 5-6.5), but it
recovers; the large early gradients fill its accumulator, and clipping the
gradient norm to 0.1 keeps later steps larger. The default is Adagrad with
clipping at 0.1, the best of the three corpora together (unclipped SGD is
ahead on the run's explanations only: 0.551 against 0.514 on train, 0.488
against 0.444 on the test explanations). Clipping helped Adagrad alone, so
:data:`CLIP_NORM` clips Adagrad only: each ``optimizer`` choice is that
optimiser at its best measured setting. Small corpora give few steps (3 a
epoch for 300 texts), which is why the accuracies stay well below 1.

:func:`train_autoencoder` survives a kill: given a :class:`~explainrec.core.checkpoints.Checkpoint`
(:func:`autoencoder_checkpoint` keys it on the texts, the settings and the seed) it saves the
weights, the optimiser, the batch-order generator, torch's global generators and the losses
every ``save_every`` epochs (default: each), and a rerun continues from the last saved epoch to
the same weights and losses as an uninterrupted fit, bit for bit on one machine.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import CountVectorizer
from torch import nn
from tqdm.auto import tqdm

from explainrec.core.checkpoints import UNUSABLE, Checkpoint, fingerprint, restore_fit, rng_state
from explainrec.core.config import check_choice, check_int, check_number
from explainrec.core.curves import log_step
from explainrec.core.errors import ExplainrecError, ParamError
from explainrec.core.io import atomic_dir, write_json
from explainrec.core.seeding import deterministic_torch

PAD, UNK = 0, 1
OPTIMIZERS = ("adagrad", "sgd", "adam")
CLIP_NORM: dict[str, float] = {"adagrad": 0.1}  # optimiser -> total gradient norm each step is clipped to
#: the layout of :func:`train_autoencoder`'s checkpoints (part of their key)
CHECKPOINT_FORMAT = 1

_analyze = CountVectorizer(lowercase=True, token_pattern=r"(?u)\b\w+\b").build_analyzer()


def tokenize(text: str) -> list[str]:
    """The lower-cased words of ``text`` in order (scikit-learn's word analyser)."""
    return _analyze(text)


@dataclass(frozen=True)
class Vocabulary:
    """Word ids: 0 padding, 1 unknown, then ``words`` (by descending training count, ties alphabetical)."""

    words: tuple[str, ...]

    @classmethod
    def build(cls, texts: Sequence[str], min_count: int = 1) -> Vocabulary:
        check_int(min_count, "min_count")
        counts = Counter(word for text in texts for word in tokenize(text))
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(tuple(kept))

    @cached_property
    def _ids(self) -> dict[str, int]:
        return {word: i + 2 for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words) + 2

    def encode(self, texts: Sequence[str], max_len: int) -> np.ndarray:
        """``(len(texts), max_len)`` int64 ids: the first ``max_len`` words, right-padded with 0."""
        check_int(max_len, "max_len")
        out = np.full((len(texts), max_len), PAD, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self._ids.get(word, UNK) for word in tokenize(text)[:max_len]]
            out[row, : len(ids)] = ids
        return out

    def to_json(self) -> str:
        return json.dumps({"pad": PAD, "unk": UNK, "words": list(self.words)})

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        return cls(tuple(json.loads(text)["words"]))


@dataclass(frozen=True)
class AutoencoderConfig:
    """App. A.1 / C.1 settings; ``optimizer`` is ours (the paper names none; see the module docstring)."""

    max_len: int = 50
    word_dim: int = 8
    hidden: int = 64
    bottleneck: int = 8
    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 0.1
    optimizer: str = "adagrad"
    min_count: int = 1

    def __post_init__(self) -> None:
        for name in ("max_len", "word_dim", "hidden", "bottleneck", "epochs", "batch_size", "min_count"):
            check_int(getattr(self, name), name)
        check_number(self.learning_rate, "learning_rate", 0.0, float("inf"), low_open=True, high_open=True)
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)


class TextAutoencoder(nn.Module):
    """Flattened word embeddings -> bias-free MLP with an 8-dim bottleneck -> tied per-position logits."""

    def __init__(self, vocab_size: int, config: AutoencoderConfig = AutoencoderConfig()) -> None:
        super().__init__()
        self.max_len, self.word_dim = config.max_len, config.word_dim
        flat = config.max_len * config.word_dim
        self.embedding = nn.Embedding(vocab_size, config.word_dim)
        self.encoder = nn.Sequential(nn.Linear(flat, config.hidden, bias=False), nn.ReLU(),
                                     nn.Linear(config.hidden, config.bottleneck, bias=False))
        self.decoder = nn.Sequential(nn.Linear(config.bottleneck, config.hidden, bias=False), nn.ReLU(),
                                     nn.Linear(config.hidden, flat, bias=False))

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        """``(n, max_len)`` ids -> ``(n, bottleneck)`` explanation embeddings."""
        return self.encoder(self.embedding(ids).flatten(1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(n, max_len)`` ids -> ``(n, max_len, V)`` logits, through the transposed embedding table."""
        out = self.decoder(self.encode(ids)).view(-1, self.max_len, self.word_dim)
        return out @ self.embedding.weight.T

    def mlp_parameter_count(self) -> int:
        """The MLP weights (the paper's 52,224 at the defaults)."""
        return sum(p.numel() for p in [*self.encoder.parameters(), *self.decoder.parameters()])

    def parameter_count(self) -> int:
        """All trainable parameters: the MLP plus the ``V * word_dim`` embedding table."""
        return sum(p.numel() for p in self.parameters())


@dataclass
class AutoencoderFit:
    """A trained autoencoder with its vocabulary, settings and training record."""

    model: TextAutoencoder
    vocab: Vocabulary
    config: AutoencoderConfig
    losses: list[float]  # mean training loss per epoch
    token_accuracy: float  # non-pad reconstruction accuracy on the training texts
    chance_accuracy: float  # always predicting the most frequent non-pad training token
    resumed_from: int = 0  # the epoch a checkpoint gave (0: a fresh fit); not saved with the fit


def reconstruction_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Eq. (25) averaged over positions: padding is part of the target, as in the paper's sum over l = 1..maxlen."""
    return F.cross_entropy(logits.flatten(0, 1), ids.flatten())


@torch.no_grad()
def reconstruction_accuracy(model: TextAutoencoder, ids: np.ndarray | torch.Tensor, batch_size: int = 512) -> float:
    """Share of the non-padding positions of ``ids`` whose word the model reconstructs (argmax)."""
    ids = torch.as_tensor(ids)
    mask = ids != PAD
    if not mask.any():
        raise ExplainrecError("reconstruction accuracy: the texts have no word (every position is padding)")
    was_training = model.training
    model.eval()
    hits = sum(int(((model(chunk).argmax(-1) == chunk) & (chunk != PAD)).sum()) for chunk in ids.split(batch_size))
    model.train(was_training)
    return hits / int(mask.sum())


def chance_accuracy(ids: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent non-padding id of ``ids``."""
    tokens = ids[ids != PAD]
    return float(np.bincount(tokens).max() / tokens.size)


def _optimizer(config: AutoencoderConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=config.learning_rate)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.learning_rate, momentum=0.9)
    return torch.optim.Adam(params, lr=config.learning_rate)


def autoencoder_checkpoint(name: str, texts: Sequence[str], config: AutoencoderConfig, seed: int) -> Checkpoint:
    """The checkpoint of :func:`train_autoencoder` on ``texts``: ``<name>/<key>``, the key a fingerprint
    of the texts (in order), the settings and the seed."""
    import hashlib

    digest = hashlib.sha256()
    for text in texts:
        raw = str(text).encode("utf-8")
        digest.update(len(raw).to_bytes(8, "little") + raw)
    return Checkpoint(name, fingerprint("lrrecsys.autoencoder", CHECKPOINT_FORMAT, config, int(seed), len(texts),
                                        digest.hexdigest()))


def train_autoencoder(texts: Sequence[str], config: AutoencoderConfig, seed: int, progress: bool = True,
                      checkpoint: Checkpoint | None = None, save_every: int = 1,
                      keep_checkpoint: bool = False, live: Any = None, prefix: str = "") -> AutoencoderFit:
    """Build the vocabulary from ``texts`` (the training explanations) and fit the autoencoder on them.

    ``seed`` fixes the initial weights (``torch.manual_seed``) and the batch
    order (a seeded ``torch.Generator``): the same seed gives bit-identical
    weights on the same machine.

    ``checkpoint`` (see :func:`autoencoder_checkpoint`): the state is saved there every
    ``save_every`` epochs and after the last, a saved state is continued from (the fit's
    ``resumed_from`` says which epoch), and the checkpoint is removed when the fit returns,
    unless ``keep_checkpoint`` (the caller clears it once its outputs are written).

    ``live`` (a :class:`dvclive.Live`, :mod:`explainrec.core.curves`): each epoch's mean loss as
    ``<prefix>train/loss`` at step ``epoch`` (a resumed fit logs the saved epochs first).
    """
    if len(texts) == 0:
        raise ExplainrecError("autoencoder: the training corpus is empty (no explanation to train on)")
    check_int(save_every, "save_every")
    vocab = Vocabulary.build(texts, config.min_count)
    ids = vocab.encode(texts, config.max_len)
    if not (ids != PAD).any():
        raise ExplainrecError(f"autoencoder: the {len(texts)} training texts contain no word")
    deterministic_torch()
    torch.manual_seed(seed)
    model = TextAutoencoder(len(vocab), config)
    optimizer = _optimizer(config, list(model.parameters()))
    clip = CLIP_NORM.get(config.optimizer)
    shuffle = torch.Generator().manual_seed(seed)
    data = torch.from_numpy(ids)
    losses: list[float] = []
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:  # the state at the end of epoch saved["epoch"]
        try:
            restore_fit(saved, model, optimizer, shuffle)
            losses = list(saved["losses"])
        except UNUSABLE as exc:  # a state this code cannot use
            checkpoint.discard(exc)
            return train_autoencoder(texts, config, seed, progress, checkpoint, save_every, keep_checkpoint, live,
                                     prefix)
    resumed_from = len(losses)
    for epoch, value in enumerate(losses, 1):
        log_step(live, {f"{prefix}train/loss": value}, epoch)
    bar = tqdm(range(resumed_from + 1, config.epochs + 1), desc="autoencoder", unit="epoch", disable=not progress)
    for epoch in bar:
        total = 0.0
        for batch in data[torch.randperm(len(data), generator=shuffle)].split(config.batch_size):
            loss = reconstruction_loss(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(data))
        log_step(live, {f"{prefix}train/loss": losses[-1]}, epoch)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if checkpoint is not None and (epoch % save_every == 0 or epoch == config.epochs):
            checkpoint.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "shuffle": shuffle.get_state(), "rng": rng_state(), "losses": losses})
    model.eval()
    fit = AutoencoderFit(model, vocab, config, losses, reconstruction_accuracy(model, ids, config.batch_size),
                         chance_accuracy(ids), resumed_from)
    if checkpoint is not None and not keep_checkpoint:
        checkpoint.clear()
    return fit


@torch.no_grad()
def embed(fit_or_model: AutoencoderFit | TextAutoencoder, vocab: Vocabulary | None, texts: Sequence[str],
          config: AutoencoderConfig | None = None) -> np.ndarray:
    """``(len(texts), bottleneck)`` float32 embeddings; words outside the vocabulary map to the unknown id.

    With a fit, ``vocab`` and ``config`` may be None (the fit's own are used).
    """
    if isinstance(fit_or_model, AutoencoderFit):
        model = fit_or_model.model
        vocab = fit_or_model.vocab if vocab is None else vocab
        config = fit_or_model.config if config is None else config
    else:
        model = fit_or_model
        if vocab is None:
            raise ParamError("vocab", "the Vocabulary the model was trained with (required with a bare model)")
    max_len = model.max_len if config is None else config.max_len
    if max_len != model.max_len:
        raise ParamError("config.max_len", f"the model's max_len {model.max_len}", max_len)
    ids = torch.from_numpy(vocab.encode(texts, max_len))
    batch = 512 if config is None else config.batch_size
    was_training = model.training
    model.eval()
    parts = [model.encode(chunk) for chunk in ids.split(batch)]
    model.train(was_training)
    width = model.encoder[-1].out_features
    return (torch.cat(parts) if parts else torch.empty(0, width)).numpy().astype(np.float32)


def save_autoencoder(fit: AutoencoderFit, folder: str | Path) -> None:
    """Write ``model.pt`` (state dict), ``vocab.json``, ``config.json`` and ``fit.json`` to ``folder``, atomically."""
    with atomic_dir(folder) as tmp:
        torch.save(fit.model.state_dict(), tmp / "model.pt")
        (tmp / "vocab.json").write_text(fit.vocab.to_json() + "\n")
        write_json(tmp / "config.json", asdict(fit.config))
        write_json(tmp / "fit.json", {"losses": fit.losses, "token_accuracy": fit.token_accuracy,
                                      "chance_accuracy": fit.chance_accuracy})


def load_autoencoder(folder: str | Path) -> AutoencoderFit:
    """The fit :func:`save_autoencoder` wrote to ``folder``, ready to :func:`embed` new text."""
    folder = Path(folder)
    missing = [n for n in ("model.pt", "vocab.json", "config.json", "fit.json") if not (folder / n).is_file()]
    if missing:
        raise ExplainrecError(f"{folder}: not a saved autoencoder (missing {', '.join(missing)})")
    vocab = Vocabulary.from_json((folder / "vocab.json").read_text())
    config = AutoencoderConfig(**json.loads((folder / "config.json").read_text()))
    model = TextAutoencoder(len(vocab), config)
    model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    model.eval()
    record = json.loads((folder / "fit.json").read_text())
    return AutoencoderFit(model, vocab, config, record["losses"], record["token_accuracy"], record["chance_accuracy"])
