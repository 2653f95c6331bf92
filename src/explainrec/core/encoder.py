"""The sentence encoder: a sentence-transformers folder (the assets_encoder stage's), loaded on CPU
at first use, and texts encoded in batches to L2-normalised rows, so cosine is a dot product.

CPEG mines hard negatives with it, LR-Recsys and RecPIE embed explanations with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from explainrec.core.errors import InputError


class TextEncoder(Protocol):
    """What :func:`encode_texts` needs: ``SentenceTransformer.encode``'s signature."""

    def encode(self, sentences: list[str], **kwargs: Any) -> Any: ...


def encode_texts(encoder: TextEncoder, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """One L2-normalised float32 row per text, encoded in batches."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    emb = np.asarray(encoder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms > 0, norms, 1.0)


class LazyEncoder:
    """A sentence-transformers folder, loaded (on CPU) at the first ``encode``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not (self.folder / "modules.json").exists():
            raise InputError(self.folder, "modules.json",
                             "a sentence-transformers folder (written by the assets_encoder stage)")
        self._model: Any = None

    def encode(self, sentences: list[str], **kwargs: Any) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.folder), device="cpu")
        return self._model.encode(sentences, **kwargs)


def load_encoder(folder: str | Path) -> LazyEncoder:
    """The sentence encoder in ``folder`` (checked now, loaded when first used)."""
    return LazyEncoder(folder)
