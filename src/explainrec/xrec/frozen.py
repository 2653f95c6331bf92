"""The frozen LLM XRec explains with: the ``llm`` catalogue's local model, its special tokens added.

It is loaded by the project's transformers backend (the same folder, dtype choice,
threads, padding and chat template as every other LLM stage), then
:func:`~explainrec.xrec.inject.add_special_tokens` adds XRec's three tokens and every
parameter is frozen. An LLM served over HTTP has no layers to hook, so it is refused with
a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from explainrec.core.frozen import freeze
from explainrec.llm.factory import require_local
from explainrec.llm.spec import LLMSpec
from explainrec.llm.types import ChatRequest
from explainrec.xrec.inject import SPECIAL_TOKENS, add_special_tokens


#: why XRec needs the LLM's weights in this process (:func:`explainrec.llm.factory.require_local`)
WHY_LOCAL = "XRec injects embeddings into the model's input and attention layers"


@dataclass
class FrozenLM:
    """A causal LM with XRec's tokens, frozen, and what is needed to prompt it."""

    backend: Any  # explainrec.llm.local.TransformersBackend
    token_ids: dict[str, int]

    @property
    def model(self) -> Any:
        return self.backend.model

    @property
    def tokenizer(self) -> Any:
        return self.backend.tokenizer

    @property
    def device(self) -> torch.device:
        """Where the input ids go: the input embedding's device (the first one under a device map)."""
        return self.model.get_input_embeddings().weight.device

    @property
    def hidden(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[1])

    @property
    def identity(self) -> str:
        """The base model's cache identity (spec identity and dtype)."""
        return str(self.backend.identity)

    def prompt_ids(self, request: ChatRequest) -> list[int]:
        """The rendered prompt's token ids: ``<EXPLAIN_POS>`` closes the user turn, the chat template's
        assistant cue follows (the explanation is the assistant's answer)."""
        return self.backend.token_ids(request)

    def text_ids(self, text: str) -> list[int]:
        """``text`` tokenised without special tokens, then the end-of-turn token."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return list(ids) + [int(self.tokenizer.eos_token_id)]

    def suppressed(self) -> list[int]:
        """The token ids generation must never emit (XRec's reserved tokens)."""
        return [self.token_ids[t] for t in SPECIAL_TOKENS]


def load_frozen(spec: LLMSpec) -> FrozenLM:
    """Load ``spec`` (a transformers backend with a local folder or hub id), add the tokens, freeze it."""
    from explainrec.llm.local import TransformersBackend

    require_local(spec, WHY_LOCAL)
    backend = TransformersBackend(spec)
    ids = add_special_tokens(backend.tokenizer, backend.model)
    freeze(backend.model)
    backend.model.eval()
    return FrozenLM(backend, ids)


def input_dtype(lm: FrozenLM) -> torch.dtype:
    return lm.model.get_input_embeddings().weight.dtype
