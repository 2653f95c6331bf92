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

Device and dtype: :meth:`SoftPrompt.attach` moves ``proj`` and E_c to the device of the model's
input embeddings and to their dtype, except that a 16-bit model keeps them in float32 (as peft
keeps LoRA weights of a bfloat16/float16 model in float32: Adam's small updates would round
away); the hook casts its output to the embeddings' dtype. :meth:`SoftPrompt.set_users` copies
a table from any device and dtype into that buffer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from explainrec.core.errors import ParamError

TOKEN = "<recpie_user_{}>"


def user_token(k: int) -> str:
    """The reserved token of consumer ``k`` (the recommender's user index)."""
    return TOKEN.format(k)


def add_user_tokens(tokenizer: Any, model: Any, n_users: int) -> list[int]:
    """Add ``<recpie_user_0..n-1>`` to ``tokenizer`` (once) and grow ``model``'s embedding table,
    the new rows set to the mean of the old ones (deterministic; the hook replaces them anyway);
    returns the ids in user order. They must be consecutive, which :class:`SoftPrompt` relies on."""
    from explainrec.core.config import check_int

    check_int(n_users, "n_users")
    tokens = [user_token(k) for k in range(n_users)]
    from explainrec.llm.reserved import add_reserved_tokens

    ids = add_reserved_tokens(tokenizer, model, tokens)
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
        """Refresh E_c from the recommender's user table [n_users, dim] (any device and dtype; it is
        copied into the buffer's)."""
        if tuple(table.shape) != (self.n_users, self.dim):
            raise ParamError("users", f"a table of shape [{self.n_users}, {self.dim}]", tuple(table.shape))
        with torch.no_grad():
            self.users.copy_(table.detach().to(device=self.users.device, dtype=self.users.dtype))

    def place(self, like: torch.Tensor) -> SoftPrompt:
        """Move ``proj`` and E_c to ``like``'s device and dtype (float32 for a 16-bit ``like``)."""
        dtype = torch.float32 if like.dtype in (torch.float16, torch.bfloat16) else like.dtype
        return self.to(device=like.device, dtype=dtype)

    def mask(self, ids: torch.Tensor) -> torch.Tensor:
        """True where ``ids`` holds a reserved user token."""
        return (ids >= self.first_id) & (ids < self.first_id + self.n_users)

    def hook(self, module: Any, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        ids = args[0]
        where = self.mask(ids)
        if not bool(where.any()):
            return output
        rows = (ids - self.first_id).clamp(0, self.n_users - 1).to(self.users.device)
        vectors = (torch.zeros_like(output) if self._off
                   else self.proj(self.users[rows]).to(device=output.device, dtype=output.dtype))
        return torch.where(where[..., None], vectors, output)

    def attach(self, model: Any) -> SoftPrompt:
        """Hook ``model``'s input embedding layer (once), moving ``proj`` and E_c to its device and
        dtype (:meth:`place`)."""
        emb = model.get_input_embeddings()
        self.place(emb.weight)
        if self._handle is None:
            self._handle = emb.register_forward_hook(self.hook)
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
