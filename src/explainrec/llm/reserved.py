"""Reserved tokens added to a local model's vocabulary (XRec's ``<USER_EMBED>``, RecPIE's user tokens)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def add_reserved_tokens(tokenizer: Any, model: Any, tokens: Sequence[str]) -> list[int]:
    """Add ``tokens`` to ``tokenizer`` as special tokens (those it lacks) and grow ``model``'s embedding
    table (and an untied output table) to match, the new rows set to the mean of the old ones, so the
    result is deterministic; returns the tokens' ids in order."""
    import torch

    missing = [t for t in tokens if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    old = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > old:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            weight = model.get_input_embeddings().weight
            weight[old:] = weight[:old].mean(dim=0, keepdim=True)
            out = model.get_output_embeddings()
            if out is not None and out.weight.data_ptr() != weight.data_ptr():
                out.weight[old:] = out.weight[:old].mean(dim=0, keepdim=True)
    return [int(tokenizer.convert_tokens_to_ids(t)) for t in tokens]
