"""The DNN recommendation component of LR-Recsys (paper 003, §3.5, App. A.2/A.3) and the NCF of Robustness Check 1.

:class:`LRRecsysDNN` follows the paper's Fig. 3:

* consumer and product embeddings by table lookup, ``e_i^(c) = Lookup(E_c, i)``,
  ``e_j^(p) = Lookup(E_p, j)`` (Eq. 4), learned by back-propagation (Eq. 5);
* the sequence embedding ``E_seq = h_n`` of the consumer's last n products (§3.5.2):
  the products are looked up in the same table E_p, go through a self-attention layer
  (Eqs. 6-9, :class:`SelfAttention`) and then a GRU with ``h_1 = z_1`` (Eqs. 10-13,
  :class:`SequenceEncoder`);
* the input layer ``X_input = [E_pos, E_neg, E_c, E_p, E_seq]`` (§3.5.3; the paper's
  optional E_context is absent from our data) goes through a second self-attention layer
  (App. A.2, Eqs. 26-28, d_k = 8), is flattened and passes an MLP of sizes [64, 8, 1] with
  ReLU and a sigmoid output (App. A.3, C.1). The loss (BCE, Eq. 14, or MSE for the rating
  regression of C.1) lives in :mod:`explainrec.core.recommender.train`.

Variants (App. C.5), chosen by :class:`ModelConfig`:

* ``explanations="given"``: E_pos / E_neg are the explanation vectors in :class:`Inputs`,
  the 8-dim autoencoder embeddings; for wider vectors (Ablation 2: the raw LLM or
  sentence-encoder embeddings) a learned ``nn.Linear(d_in, dim)`` brings them to ``dim``;
* ``explanations="free"`` (Ablation 1): as many free learnable ``dim``-vectors as there
  are explanation tokens, the same for every sample; the Inputs' explanations are never read;
* ``explanations="none"``: the black-box model, no explanation tokens;
* ``n_explanations=1``: the positive explanation only (E_neg is dropped);
* ``arch="ncf"`` (Robustness Check 1): :class:`NCF` (He et al. 2017), user and item
  embeddings and the explanation vectors concatenated into an MLP [32, 16, 8, 1], no
  attention, with the embedding size chosen by :func:`ncf_embedding_dim` so that its
  trainable parameter count is as close as possible to the DNN's.

:func:`mean_attention` is the attention value of Eq. 24 (§5.5.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from explainrec.core.config import check_choice, check_int
from explainrec.core.errors import ParamError

ARCHS = ("dnn", "ncf")
#: where the explanation tokens come from: the Inputs, free learnable vectors (Ablation 1), none (black box)
EXPLANATIONS = ("given", "free", "none")
#: the names of the explanation tokens, in the order of X_input
EXPLANATION_TOKENS = ("pos", "neg")


@dataclass
class Inputs:
    """One batch (or data set) of (user, candidate, history, explanations) samples.

    ``item`` and ``history`` hold item ids 1..n_items; 0 is the padding item. ``history``
    is the user's last n items before the candidate, oldest first, left-padded with 0.
    ``explanations`` is [B, k, d_in] with k = 2 (positive, negative), 1 (positive) or 0.
    """

    user: torch.Tensor
    item: torch.Tensor
    history: torch.Tensor
    explanations: torch.Tensor

    def __post_init__(self) -> None:
        b = self.user.shape[0] if self.user.dim() == 1 else None
        if b is None or self.item.shape != (b,):
            raise ParamError("inputs.item", "user and item of shape [B]", (tuple(self.user.shape), tuple(self.item.shape)))
        if self.history.dim() != 2 or self.history.shape[0] != b:
            raise ParamError("inputs.history", f"a tensor of shape [{b}, n]", tuple(self.history.shape))
        if self.explanations.dim() != 3 or self.explanations.shape[0] != b:
            raise ParamError("inputs.explanations", f"a tensor of shape [{b}, k, d_in]", tuple(self.explanations.shape))

    def __len__(self) -> int:
        return int(self.user.shape[0])

    @property
    def d_in(self) -> int:
        """The width of the explanation vectors."""
        return int(self.explanations.shape[2])

    def subset(self, index: Any) -> Inputs:
        """The rows at ``index`` (integer or boolean indices: a tensor, an array, a list, or a slice)."""
        if not isinstance(index, (slice, torch.Tensor)):
            index = torch.as_tensor(np.asarray(index))
        return Inputs(self.user[index], self.item[index], self.history[index], self.explanations[index])

    def to(self, device: Any) -> Inputs:
        """The same samples on ``device``."""
        return Inputs(self.user.to(device), self.item.to(device), self.history.to(device), self.explanations.to(device))


def _check_sizes(value: Any, name: str, allow_empty: bool) -> tuple[int, ...]:
    sizes = tuple(value) if isinstance(value, (list, tuple)) else None
    if sizes is None or (not sizes and not allow_empty) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
        raise ParamError(name, "a list of positive layer sizes, e.g. [64, 8]", value)
    return sizes


@dataclass(frozen=True)
class ModelConfig:
    """The recommendation model (App. A.3, C.1; variants of C.5).

    ``history`` is the n of the history window: the DNN checks that ``Inputs.history``
    has n columns. ``mlp`` and ``ncf_mlp`` are the hidden sizes before the 1-unit output.
    ``n_explanations`` (1: positive only, 2: positive and negative) is ignored with
    ``explanations="none"``.
    """

    arch: str = "dnn"
    dim: int = 8
    history: int = 5
    mlp: tuple[int, ...] = (64, 8)
    ncf_mlp: tuple[int, ...] = (32, 16, 8)
    explanations: str = "given"
    n_explanations: int = 2

    def __post_init__(self) -> None:
        check_choice(self.arch, "arch", ARCHS)
        check_int(self.dim, "dim")
        check_int(self.history, "history")
        object.__setattr__(self, "mlp", _check_sizes(self.mlp, "mlp", allow_empty=True))
        object.__setattr__(self, "ncf_mlp", _check_sizes(self.ncf_mlp, "ncf_mlp", allow_empty=True))
        check_choice(self.explanations, "explanations", EXPLANATIONS)
        check_int(self.n_explanations, "n_explanations")
        if self.n_explanations > len(EXPLANATION_TOKENS):
            raise ParamError("n_explanations", "1 (positive only) or 2 (positive and negative)", self.n_explanations)

    @property
    def explanation_tokens(self) -> tuple[str, ...]:
        """The explanation tokens of this variant: ("pos", "neg"), ("pos",) or ()."""
        return () if self.explanations == "none" else EXPLANATION_TOKENS[: self.n_explanations]


class SelfAttention(nn.Module):
    """Single-head self-attention without biases (Eqs. 6-9; App. A.2, Eqs. 26-28).

    ``Q = X W^Q, K = X W^K, V = X W^V``; ``score_lj = q_l . k_j / sqrt(d_k)`` with d_k = dim;
    ``alpha = softmax_j(score)``; ``z_l = sum_j alpha_lj v_j``. With ``mask`` (bool [B, T],
    True = a real element) the masked keys get weight 0; a row whose keys are all masked
    falls back to attending to every key, so it is defined (no NaN).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` [B, T, dim] -> (outputs Z [B, T, dim], attention alpha [B, T, T], rows summing to 1)."""
        q, k, v = self.query(x), self.key(x), self.value(x)
        scores = q @ k.transpose(1, 2) / math.sqrt(self.dim)
        if mask is not None:
            keep = mask | ~mask.any(dim=1, keepdim=True)  # all-masked rows: no mask
            scores = scores.masked_fill(~keep[:, None, :], float("-inf"))
        attention = torch.softmax(scores, dim=-1)
        return attention @ v, attention


class SequenceEncoder(nn.Module):
    """The sequence embedding E_seq = h_n of §3.5.2: self-attention over the history, then a GRU.

    The history items are looked up in the shared item table E_p (padding id 0 has the
    zero vector), pass :class:`SelfAttention` with the padding keys masked (Eqs. 6-9), and
    the outputs Z of each row's *real* items go through ``nn.GRU`` (hidden size dim): the
    real items are moved to the front in their order, ``h_1 = z_1`` is the GRU's initial
    hidden state and the GRU reads z_2..z_L (L = the row's number of real items, packed per
    row), so padding never enters the recurrence and h_n is the state after the row's last
    item. torch's GRU computes ``h_t = (1 - u_t) * n_t + u_t * h_{t-1}`` with update gate
    u_t, which is Eq. 13 (the candidate n_t is Eq. 12's h~_t; torch applies the reset gate
    after U_h, ``r_t * (U_h h_{t-1} + b)``, the cuDNN form of Eq. 12). A row with one real
    item gives z_1; a row with none gives the zero vector.
    """

    def __init__(self, items: nn.Embedding, dim: int) -> None:
        super().__init__()
        self.items = items
        self.attention = SelfAttention(dim)
        self.gru = nn.GRU(dim, dim, batch_first=True)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """``history`` long [B, n] (0 = padding) -> h_n [B, dim]."""
        real = history != 0
        z, _ = self.attention(self.items(history), mask=real)
        lengths = real.sum(dim=1)
        # the real positions first, in their order (stable), whatever the padding side
        order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)
        z = torch.gather(z, 1, order[:, :, None].expand_as(z))
        h = z[:, 0]
        if z.shape[1] > 1:
            steps = (lengths - 1).clamp(min=1).cpu()
            packed = pack_padded_sequence(z[:, 1:], steps, batch_first=True, enforce_sorted=False)
            _, h_gru = self.gru(packed, h[None].contiguous())
            h = torch.where((lengths > 1)[:, None], h_gru[0], h)
        return torch.where((lengths > 0)[:, None], h, torch.zeros_like(h))


def _mlp(width: int, hidden: Sequence[int]) -> nn.Sequential:
    """Linear + ReLU for each hidden size, then one output unit (a logit)."""
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class _Explanations(nn.Module):
    """The explanation tokens [B, k, dim] of a variant: given (projected when d_in != dim), free, or none."""

    def __init__(self, config: ModelConfig, d_in: int) -> None:
        super().__init__()
        self.mode, self.k, self.dim, self.d_in = config.explanations, len(config.explanation_tokens), config.dim, d_in
        self.project: nn.Module | None = None
        self.free: nn.Parameter | None = None
        if self.mode == "given":
            check_int(d_in, "d_in", expected="the width of the explanation vectors (>= 1)")
            self.project = nn.Linear(d_in, config.dim) if d_in != config.dim else nn.Identity()
        elif self.mode == "free":
            self.free = nn.Parameter(torch.randn(self.k, config.dim))  # N(0, 1), as nn.Embedding

    def forward(self, inputs: Inputs) -> torch.Tensor:
        b = len(inputs)
        if self.mode == "none":
            return inputs.user.new_zeros((b, 0, self.dim), dtype=torch.float32)
        if self.mode == "free":
            return self.free[None].expand(b, -1, -1)
        e = inputs.explanations
        if e.shape[1] < self.k or e.shape[2] != self.d_in:
            raise ParamError("inputs.explanations", f"a tensor of shape [B, >= {self.k}, {self.d_in}]", tuple(e.shape))
        return self.project(e[:, : self.k].float())


class LRRecsysDNN(nn.Module):
    """The DNN recommendation component (§3.5.3, App. A.2, A.3): X_input -> self-attention -> MLP -> sigmoid.

    With "given" explanations the first ``n_explanations`` vectors of ``Inputs.explanations``
    are used (positive first), so pos-only models can read the same inputs as pos+neg ones.
    """

    def __init__(self, config: ModelConfig, n_users: int, n_items: int, d_in: int = 8) -> None:
        super().__init__()
        self.config = config
        self.users = nn.Embedding(n_users, config.dim)
        self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)  # E_p, shared with the history
        self.explanations = _Explanations(config, d_in)
        self.sequence = SequenceEncoder(self.items, config.dim)
        self.attention = SelfAttention(config.dim)
        self.mlp = _mlp(len(self.tokens) * config.dim, config.mlp)

    @property
    def tokens(self) -> tuple[str, ...]:
        """The names of the X_input tokens, in order, e.g. ("pos", "neg", "user", "item", "seq")."""
        return (*self.config.explanation_tokens, "user", "item", "seq")

    def logits(self, inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(logit [B], input attention [B, T, T]); the sigmoid of the logit is y_hat."""
        if inputs.history.shape[1] != self.config.history:
            raise ParamError("inputs.history", f"{self.config.history} columns (config.history)",
                             inputs.history.shape[1])
        x = torch.cat([self.explanations(inputs), self.users(inputs.user)[:, None], self.items(inputs.item)[:, None],
                       self.sequence(inputs.history)[:, None]], dim=1)
        z, attention = self.attention(x)
        return self.mlp(z.flatten(1)).squeeze(1), attention

    def forward(self, inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(y_hat [B] in (0, 1), attention [B, T, T])."""
        logit, attention = self.logits(inputs)
        return torch.sigmoid(logit), attention


class NCF(nn.Module):
    """Robustness Check 1: NCF's MLP tower (He et al. 2017) with the explanation vectors, no attention.

    ``[E_pos, E_neg, e_user, e_item]`` (explanations of size dim, as in the DNN; the user and
    item embeddings of size ``embedding_dim``) are concatenated and pass the MLP
    ``ncf_mlp`` = [32, 16, 8] with ReLU and one sigmoid output unit.
    """

    def __init__(self, config: ModelConfig, n_users: int, n_items: int, d_in: int = 8,
                 embedding_dim: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.embedding_dim = embedding_dim if embedding_dim is not None else config.dim
        self.users = nn.Embedding(n_users, self.embedding_dim)
        self.items = nn.Embedding(n_items + 1, self.embedding_dim, padding_idx=0)
        self.explanations = _Explanations(config, d_in)
        width = len(config.explanation_tokens) * config.dim + 2 * self.embedding_dim
        self.mlp = _mlp(width, config.ncf_mlp)

    @property
    def tokens(self) -> tuple[str, ...]:
        return (*self.config.explanation_tokens, "user", "item")

    def logits(self, inputs: Inputs) -> tuple[torch.Tensor, None]:
        x = torch.cat([self.explanations(inputs).flatten(1), self.users(inputs.user), self.items(inputs.item)], dim=1)
        return self.mlp(x).squeeze(1), None

    def forward(self, inputs: Inputs) -> tuple[torch.Tensor, None]:
        """(y_hat [B] in (0, 1), None: the NCF has no attention)."""
        logit, _ = self.logits(inputs)
        return torch.sigmoid(logit), None


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters (shared tables counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _explanation_parameters(config: ModelConfig, d_in: int) -> int:
    if config.explanations == "given":
        return 0 if d_in == config.dim else d_in * config.dim + config.dim
    return len(config.explanation_tokens) * config.dim if config.explanations == "free" else 0


def _mlp_parameters(width: int, hidden: Sequence[int]) -> int:
    total = 0
    for size in (*hidden, 1):
        total += width * size + size
        width = size
    return total


def _dnn_parameters(config: ModelConfig, n_users: int, n_items: int, d_in: int) -> int:
    d = config.dim
    attention = 3 * d * d
    gru = 3 * (2 * d * d + 2 * d)
    n_tokens = len(config.explanation_tokens) + 3
    return ((n_users + n_items + 1) * d + _explanation_parameters(config, d_in) + 2 * attention + gru
            + _mlp_parameters(n_tokens * d, config.mlp))


def _ncf_parameters(config: ModelConfig, n_users: int, n_items: int, d_in: int, e: int) -> int:
    width = len(config.explanation_tokens) * config.dim + 2 * e
    return (n_users + n_items + 1) * e + _explanation_parameters(config, d_in) + _mlp_parameters(width, config.ncf_mlp)


def ncf_embedding_dim(n_users: int, n_items: int, config: ModelConfig, d_in: int = 8) -> int:
    """The NCF embedding size e whose trainable parameter count is closest to the DNN's for the same data.

    The paper "made our best efforts to control the same number of trainable parameters"
    (App. C.5); the counts are computed in closed form (the tests check them against the
    built models) and e >= 1 is scanned up to the first count above the DNN's.
    """
    target = _dnn_parameters(config, n_users, n_items, d_in)
    best, e = 1, 1
    while True:
        count = _ncf_parameters(config, n_users, n_items, d_in, e)
        if abs(count - target) < abs(_ncf_parameters(config, n_users, n_items, d_in, best) - target):
            best = e
        if count >= target:
            return best
        e += 1


def build_model(config: ModelConfig, n_users: int, n_items: int, d_in: int = 8) -> nn.Module:
    """The model of ``config.arch`` ("dnn": :class:`LRRecsysDNN`; "ncf": :class:`NCF` sized by
    :func:`ncf_embedding_dim`), initialised from torch's global generator."""
    check_int(n_users, "n_users")
    check_int(n_items, "n_items")
    if config.arch == "ncf":
        return NCF(config, n_users, n_items, d_in, ncf_embedding_dim(n_users, n_items, config, d_in))
    return LRRecsysDNN(config, n_users, n_items, d_in)


def mean_attention(attention: np.ndarray | torch.Tensor, tokens: Sequence[str]) -> dict[str, np.ndarray]:
    """Eq. 24: the attention value of each token, ``alpha_bar_j = (1/|I|) sum_i alpha_ij`` per sample.

    ``attention`` is [B, T, T] with rows (queries i) summing to 1, so alpha_bar_j is the
    mean of column j and the T values of a sample sum to 1. Returns {token: [B]}.
    """
    if isinstance(attention, torch.Tensor):
        attention = attention.detach().cpu().numpy()
    attention = np.asarray(attention, dtype=np.float64)
    t = len(tokens)
    if attention.ndim != 3 or attention.shape[1:] != (t, t):
        raise ParamError("attention", f"an array of shape [B, {t}, {t}] for the tokens {', '.join(tokens)}",
                         attention.shape)
    columns = attention.mean(axis=1)
    return {name: columns[:, j] for j, name in enumerate(tokens)}
