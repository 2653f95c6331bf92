"""The consumer embedding E_c as a soft prompt (paper 002 §2.1: "prepended to the LLM input").

Each consumer k of the recommender's user table gets a reserved token ``<recpie_user_k>``
(:func:`add_user_tokens`), placed first in the user turn. A forward hook on the LLM's input
embedding layer replaces the embedding at every such position by ``proj(E_c[k])``, where
``proj`` is a learned ``nn.Linear(dim, hidden)`` (ours; the paper leaves the map from the
recommender's width to the LLM's unstated) and E_c a buffer refreshed each round from the
recommender's user table. The soft prompt is thus a function of the input ids alone, which
is what trl's GRPOTrainer needs: it generates from ids and recomputes log-probabilities
itself, and the hook acts in both, as in any ``generate`` call (a decoding step's single
new token is never a reserved one: generation suppresses them).

``proj`` starts at zero, so before any RL update two consumers get the same logits; the
tests check that and that a non-zero projection tells them apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from explainrec.errors import ParamError

TOKEN = "<recpie_user_{}>"


def user_token(k: int) -> str:
    """The reserved token of consumer ``k`` (the recommender's user index)."""
    return TOKEN.format(k)


def add_user_tokens(tokenizer: Any, model: Any, n_users: int) -> list[int]:
    """Add ``<recpie_user_0..n-1>`` to ``tokenizer`` (once) and grow ``model``'s embedding table,
    the new rows set to the mean of the old ones (deterministic; the hook replaces them anyway);
    returns the ids in user order. They must be consecutive, which :class:`SoftPrompt` relies on."""
    from explainrec.config import check_int

    check_int(n_users, "n_users")
    tokens = [user_token(k) for k in range(n_users)]
    missing = [t for t in tokens if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    emb = model.get_input_embeddings()
    old = emb.weight.shape[0]
    if len(tokenizer) > old:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            weight = model.get_input_embeddings().weight
            weight[old:] = weight[:old].mean(dim=0, keepdim=True)
            out = model.get_output_embeddings()
            if out is not None and out.weight.data_ptr() != weight.data_ptr():
                out.weight[old:] = out.weight[:old].mean(dim=0, keepdim=True)
    ids = [int(tokenizer.convert_tokens_to_ids(t)) for t in tokens]
    if ids != list(range(ids[0], ids[0] + n_users)):
        raise ParamError("tokenizer", "consecutive ids for the reserved user tokens", ids[:3])
    return ids


class SoftPrompt(nn.Module):
    """``proj(E_c[k])`` at the positions of ``<recpie_user_k>``, through a forward hook.

    ``users`` is the E_c buffer [n_users, dim] (zeros until :meth:`set_users`); ``proj`` is
    zero-initialised. :meth:`attach` hooks ``model``'s input embeddings; :meth:`zeroed` switches
    the soft prompt off (every reserved position gets the zero vector, as at initialisation).
    """

    def __init__(self, first_id: int, n_users: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.first_id, self.n_users, self.dim, self.hidden = int(first_id), int(n_users), int(dim), int(hidden)
        self.proj = nn.Linear(dim, hidden)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.register_buffer("users", torch.zeros(n_users, dim))
        self._handle: Any = None
        self._off = False

    def set_users(self, table: torch.Tensor) -> None:
        """Refresh E_c from the recommender's user table [n_users, dim]."""
        if tuple(table.shape) != (self.n_users, self.dim):
            raise ParamError("users", f"a table of shape [{self.n_users}, {self.dim}]", tuple(table.shape))
        with torch.no_grad():
            self.users.copy_(table.detach().float())

    def mask(self, ids: torch.Tensor) -> torch.Tensor:
        """True where ``ids`` holds a reserved user token."""
        return (ids >= self.first_id) & (ids < self.first_id + self.n_users)

    def hook(self, module: Any, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        ids = args[0]
        where = self.mask(ids)
        if not bool(where.any()):
            return output
        rows = (ids - self.first_id).clamp(0, self.n_users - 1)
        vectors = torch.zeros_like(output) if self._off else self.proj(self.users[rows]).to(output.dtype)
        return torch.where(where[..., None], vectors, output)

    def attach(self, model: Any) -> SoftPrompt:
        """Hook ``model``'s input embedding layer (once)."""
        if self._handle is None:
            self._handle = model.get_input_embeddings().register_forward_hook(self.hook)
        return self

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    @contextmanager
    def zeroed(self) -> Iterator[None]:
        """The reference policy's soft prompt: zero vectors at the reserved positions."""
        was, self._off = self._off, True
        try:
            yield
        finally:
            self._off = was
