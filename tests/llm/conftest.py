"""Fixtures for the LLM layer on the tiny random Llama of tests/conftest.py (nothing downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_spec(tiny_model_dir: Path):
    from explainrec.llm import LLMSpec

    return LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), batch_size=4, threads=1,
                   identity="test:tiny-llama")


@pytest.fixture(scope="session")
def tiny_backend(tiny_spec):
    from explainrec.llm.local import TransformersBackend

    return TransformersBackend(tiny_spec)
