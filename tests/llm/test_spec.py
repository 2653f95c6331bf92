"""resolve_llm: the llms catalogue is validated with messages that name the key."""

from __future__ import annotations

import pytest

from explainrec.core.errors import ParamError
from explainrec.llm import LLMSpec, resolve_llm

CATALOGUE = {
    "smollm2-135m": {"backend": "transformers", "model": "bundled:smollm2-135m", "batch_size": 16},
    "llama3.1": {"backend": "openai", "model": "llama3.1:8b", "base_url": "http://localhost:11434/v1",
                 "start_hint": "run `ollama serve`"},
}


def test_resolves():
    spec = resolve_llm("llama3.1", CATALOGUE)
    assert isinstance(spec, LLMSpec) and spec.backend == "openai" and spec.name == "llama3.1"
    assert spec.cache_identity() == "openai:llama3.1:8b"
    assert LLMSpec(**spec.to_dict()) == spec


def test_unknown_name_lists_choices():
    with pytest.raises(ParamError) as e:
        resolve_llm("gpt-5", CATALOGUE)
    assert "llama3.1" in str(e.value) and "smollm2-135m" in str(e.value) and "'llm'" in str(e.value)


@pytest.mark.parametrize(
    "key,value",
    [
        ("batch_size", 0),
        ("batch_size", "8"),
        ("threads", -1),
        ("temperature", 5),
        ("top_p", 2.0),
        ("dtype", "int3"),
        ("backend", "vllm"),
        ("model", ""),
        ("colour", "red"),
    ],
)
def test_bad_field_names_the_key(key, value):
    cat = {"m": {**CATALOGUE["smollm2-135m"], key: value}}
    with pytest.raises(ParamError) as e:
        resolve_llm("m", cat)
    assert f"llms.m.{key}" in str(e.value)


def test_openai_needs_url():
    with pytest.raises(ParamError, match="llms.x.base_url"):
        resolve_llm("x", {"x": {"backend": "openai", "model": "m", "base_url": "localhost:8000"}})


def test_empty_catalogue():
    with pytest.raises(ParamError, match="llms"):
        resolve_llm("x", {})
