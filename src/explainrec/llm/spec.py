"""The ``llms:`` catalogue: which language model a run uses, and how to reach it.

``params.yaml`` holds ``llm: <name>`` (a selector) and ``llms: {name: entry}``
(the catalogue). A selector, not a mapping, because ``dvc exp run -S llm=x``
replaces a mapping by a string. :func:`resolve_llm` validates the name and the
entry and returns an :class:`LLMSpec`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from explainrec.core.errors import ParamError

BACKENDS = ("transformers", "openai")
#: the one model materialised from a registry package by the assets stage
BUNDLED = "bundled:smollm2-135m"


@dataclass(frozen=True)
class LLMSpec:
    """One resolved catalogue entry.

    ``model`` is a local folder, a hub id, :data:`BUNDLED` (before the assets
    stage materialises it) or, for ``openai``, the served model's name.
    ``identity`` is what the response cache keys on: it changes whenever the
    weights could differ (set by the assets stage; defaults to backend:model).
    """

    name: str
    backend: str
    model: str
    # transformers backend
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    threads: int = 0  # torch CPU threads; 0 = all cores
    batch_size: int = 16
    # KV caches of earlier prompts kept for prefix reuse, in MiB (0: none); finished rows leave the batch
    prefix_cache_mb: int = 2048
    drop_finished: bool = True
    # openai-compatible backend
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 4
    start_hint: str = ""
    # generation defaults (a stage may lower max_new_tokens for its task)
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    identity: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from explainrec.core.config import DTYPES, check_bool, check_choice, check_int, check_number

        check_choice(self.backend, "backend", BACKENDS)
        if not self.model or not isinstance(self.model, str):
            raise ParamError("model", "a model folder, hub id, served model name or " + BUNDLED, self.model)
        if self.backend == "openai" and not str(self.base_url).startswith(("http://", "https://")):
            raise ParamError("base_url", "an http(s) URL of an OpenAI-compatible server, e.g. http://localhost:11434/v1",
                             self.base_url)
        for key in ("batch_size", "concurrency", "max_new_tokens"):
            check_int(getattr(self, key), key)
        check_bool(self.drop_finished, "drop_finished")
        for key in ("threads", "max_retries", "prefix_cache_mb"):
            check_int(getattr(self, key), key, 0)
        for key, lo, hi in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0), ("timeout_s", 0.0, 86400.0)):
            check_number(getattr(self, key), key, lo, hi)
        check_choice(self.dtype, "dtype", DTYPES)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cache_identity(self) -> str:
        return self.identity or f"{self.backend}:{self.model}"


def resolve_llm(name: str, catalogue: dict[str, Any], param: str = "llm") -> LLMSpec:
    """Validate ``name`` (the value of the params key ``param``) against ``catalogue``
    and return its :class:`LLMSpec` (every key of the entry checked, named ``llms.<name>.<key>``)."""
    from explainrec.core.config import from_section

    if not isinstance(catalogue, dict) or not catalogue:
        raise ParamError("llms", "a non-empty mapping of model names to entries", catalogue)
    if not isinstance(name, str) or name not in catalogue:
        raise ParamError(param, f"one of {', '.join(sorted(catalogue))}", name)
    return from_section(LLMSpec, catalogue[name], f"llms.{name}", name=name, identity="", extra={})
