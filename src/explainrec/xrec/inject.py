"""Put adapted graph embeddings into a frozen causal LM with forward hooks (paper 001 §3.2.2).

No modeling file is forked. :func:`add_special_tokens` adds ``<USER_EMBED>``,
``<ITEM_EMBED>`` and ``<EXPLAIN_POS>`` to the tokenizer and grows the embedding table (the
new rows, frozen like the rest, are the mean of the old ones). An :class:`Injector`
then hooks

* the input embedding module: at the positions whose token is ``<USER_EMBED>`` or
  ``<ITEM_EMBED>`` its output becomes the row's adapted user or item vector;
* with ``all_layers`` (``xrec.inject_all_layers``), every decoder layer's ``q_proj``,
  ``k_proj`` and ``v_proj``: at those positions ``W_{q,k,v} a`` is added to the
  projection's output, the paper's Eq. 12 with the layer's own weights (no bias, no
  new parameter). XRec's code adds the raw vector instead, which needs k and v as wide
  as the hidden state; grouped-query models (SmolLM2-135M: hidden 576, k/v 192) do not
  have that, so this is the form that works for every model.

The vectors are moved to the device and dtype of the tensor they enter (the adapters
train in float32; the LLM may be bfloat16 on a GPU, its layers spread over several
devices). The positions come from the input ids of the forward being run, so the hooks act at
the prefill of a generation (or a training forward) and add nothing at decoding steps,
whose single new token is never a reserved one (:data:`SPECIAL_TOKENS` are suppressed in
generation). ``<EXPLAIN_POS>`` only marks where the answer starts. The tests compare every
q, k and v output with a hand-computed reference (unchanged off the reserved positions,
``W x + W a`` on them, per row and per vector), one cached decoding step with the uncached
forward, and check the identity with the plain model when the slots get the tokens' own
embeddings and injection is off, and that the hooks leave nothing behind once removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.nn import functional as F

from explainrec.core.errors import ExplainrecError

USER_TOKEN = "<USER_EMBED>"
ITEM_TOKEN = "<ITEM_EMBED>"
EXPLAIN_TOKEN = "<EXPLAIN_POS>"
SPECIAL_TOKENS = (USER_TOKEN, ITEM_TOKEN, EXPLAIN_TOKEN)
PROJECTIONS = ("q_proj", "k_proj", "v_proj")


def add_special_tokens(tokenizer: Any, model: Any) -> dict[str, int]:
    """Add :data:`SPECIAL_TOKENS` to ``tokenizer`` (once) and grow ``model``'s embedding table to
    match, the new rows set to the mean of the old ones (deterministic); returns token -> id."""
    from explainrec.llm.reserved import add_reserved_tokens

    return dict(zip(SPECIAL_TOKENS, add_reserved_tokens(tokenizer, model, SPECIAL_TOKENS)))


def attention_projections(model: Any) -> list[tuple[str, torch.nn.Module]]:
    """``(name, module)`` of every decoder layer's q, k and v projection (Llama, Qwen, Mistral, ...)."""
    found = []
    for name, module in model.named_modules():
        if all(hasattr(module, p) for p in PROJECTIONS):
            found.extend((f"{name}.{p}", getattr(module, p)) for p in PROJECTIONS)
    return found


class Injector:
    """Forward hooks that inject per-row user and item vectors at the reserved tokens.

    Use :meth:`vectors` around each forward (or generate) call::

        with Injector(model, ids, all_layers=True) as inj, inj.vectors(user_vecs, item_vecs):
            logits = model(input_ids=..., attention_mask=...).logits
    """

    def __init__(self, model: Any, token_ids: dict[str, int], all_layers: bool = True):
        self.model = model
        self.user_id = token_ids[USER_TOKEN]
        self.item_id = token_ids[ITEM_TOKEN]
        self.all_layers = all_layers
        self.projections = attention_projections(model) if all_layers else []
        if all_layers and not self.projections:
            raise ExplainrecError(f"{type(model).__name__}: no attention module with q_proj, k_proj and v_proj, "
                                  "so xrec.inject_all_layers cannot hook it; set it false")
        self._handles: list[Any] = []
        self._user: torch.Tensor | None = None
        self._item: torch.Tensor | None = None
        self._masks: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- hooks ---------------------------------------------------------------
    def _embed_hook(self, module: Any, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        ids = args[0]
        user_mask, item_mask = ids == self.user_id, ids == self.item_id
        self._masks = (user_mask, item_mask)
        if self._user is None or not (user_mask.any() or item_mask.any()):
            return output
        # the adapters may sit on another device or dtype (float32 on the CPU, the LLM in bfloat16 on a GPU)
        user = self._user.to(device=output.device, dtype=output.dtype)[:, None, :]
        item = self._item.to(device=output.device, dtype=output.dtype)[:, None, :]
        output = torch.where(user_mask.to(output.device)[..., None], user, output)
        return torch.where(item_mask.to(output.device)[..., None], item, output)

    def _projection_hook(self, module: Any, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        if self._user is None or self._masks is None:
            return output
        user_mask, item_mask = self._masks
        if user_mask.shape != output.shape[:2] or not (user_mask.any() or item_mask.any()):
            return output
        weight = module.weight  # W a, without the projection's bias (Eq. 12)
        du = F.linear(self._user.to(device=weight.device, dtype=weight.dtype), weight)
        di = F.linear(self._item.to(device=weight.device, dtype=weight.dtype), weight)
        du = du.to(device=output.device, dtype=output.dtype)[:, None, :]
        di = di.to(device=output.device, dtype=output.dtype)[:, None, :]
        # a layer may sit on another device than the embedding (device_map="auto" over several GPUs)
        user_mask, item_mask = user_mask.to(output.device), item_mask.to(output.device)
        return output + user_mask[..., None].to(output.dtype) * du + item_mask[..., None].to(output.dtype) * di

    # -- life cycle ------------------------------------------------------------
    def attach(self) -> "Injector":
        if self._handles:
            return self
        self._handles.append(self.model.get_input_embeddings().register_forward_hook(self._embed_hook))
        for _, module in self.projections:
            self._handles.append(module.register_forward_hook(self._projection_hook))
        return self

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._user = self._item = self._masks = None

    def __enter__(self) -> "Injector":
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    @contextmanager
    def vectors(self, user: torch.Tensor, item: torch.Tensor) -> Iterator[None]:
        """Inject ``user`` and ``item`` ([B, hidden], one row per sequence) in the forwards run inside."""
        if user.shape != item.shape or user.dim() != 2:
            raise ValueError(f"user and item vectors must both be [batch, hidden], got {tuple(user.shape)} "
                             f"and {tuple(item.shape)}")
        self._user, self._item, self._masks = user, item, None
        try:
            yield
        finally:
            self._user = self._item = self._masks = None
