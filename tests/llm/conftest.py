"""Fixtures for the LLM layer: a tiny random Llama saved in a folder (nothing downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llm") / "model")


@pytest.fixture(scope="session")
def tiny_spec(tiny_model_dir: Path):
    from explainrec.llm import LLMSpec

    return LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), batch_size=4, threads=1,
                   identity="test:tiny-llama")


@pytest.fixture(scope="session")
def tiny_backend(tiny_spec):
    from explainrec.llm.local import TransformersBackend

    return TransformersBackend(tiny_spec)
