"""A KV cache that grows in place: decoding appends a token without copying the whole cache.

``transformers``' :class:`DynamicLayer` concatenates every new token onto its keys
and values, which copies the batch's whole cache at each step: for 32 CPEG prompts
of about 1,000 tokens that is some 1.5 GB per decoding step with SmolLM2-135M in float32.
:class:`GrowingLayer` keeps them in a buffer with spare room and writes into it, so a
step only reads the cache (about 1.4x faster decoding at that size on 2 AVX2 cores).
"""

from __future__ import annotations

from typing import Any

from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

#: spare room, in tokens, added whenever a buffer has to grow
GROW_STEP = 128


class GrowingLayer(DynamicLayer):
    """A :class:`DynamicLayer` whose keys and values are views into a buffer with spare room."""

    def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
        super().lazy_initialization(key_states, value_states)
        self._k: Any = None
        self._v: Any = None
        self._len = 0

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = self._len + key_states.shape[-2]
        if self._k is None or n > self._k.shape[-2]:
            self._k = self._grow(self._k, key_states, n + GROW_STEP)
            self._v = self._grow(self._v, value_states, n + GROW_STEP)
        self._k[..., self._len : n, :] = key_states
        self._v[..., self._len : n, :] = value_states
        self._len = n
        self.keys, self.values = self._k[..., :n, :], self._v[..., :n, :]
        return self.keys, self.values

    def _grow(self, buf: Any, new: Any, capacity: int) -> Any:
        out = new.new_empty((*new.shape[:2], capacity, new.shape[3]))
        if buf is not None and self._len:
            out[..., : self._len, :] = buf[..., : self._len, :]
        return out

    def get_seq_length(self) -> int:
        return self._len if self.is_initialized else 0

    def batch_select_indices(self, indices: Any) -> None:
        if self.get_seq_length() > 0:
            self._k, self._v = self._k[indices], self._v[indices]
            self.keys, self.values = self._k[..., : self._len, :], self._v[..., : self._len, :]

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.get_seq_length() > 0:
            self._k = self._k.repeat_interleave(repeats, dim=0)
            self._v = self._v.repeat_interleave(repeats, dim=0)
            self.keys, self.values = self._k[..., : self._len, :], self._v[..., : self._len, :]

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("GrowingLayer is only appended to")


def has_sliding_layers(config: Any) -> bool:
    """Whether any attention layer of the model keeps only a window of the past."""
    return any(DynamicCache(config=config).is_sliding)


def new_cache(config: Any, prefill: list[tuple[Any, Any]] | None = None) -> Cache:
    """An empty cache for a model (growing layers, unless it has sliding-window layers), optionally
    holding ``prefill`` (per layer ``(keys, values)``, ``[batch, heads, tokens, head_dim]``)."""
    if has_sliding_layers(config):
        return DynamicCache(ddp_cache_data=prefill, config=config)
    cache = Cache(layers=[GrowingLayer() for _ in range(config.num_hidden_layers)])
    for layer, (k, v) in zip(cache.layers, prefill or []):
        layer.update(k, v)
    return cache
