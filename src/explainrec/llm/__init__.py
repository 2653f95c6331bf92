"""The LLM layer: one interface over local ``transformers`` models and
OpenAI-compatible servers, with a persistent response cache.

Typical use in a stage::

    llm = open_llm("data/assets/llm/llm.json", desc="cpeg")
    outs = llm.chat([ChatRequest.of(system, prompt, max_new_tokens=64) for prompt in prompts])
    metrics.update(llm.stats.as_metrics())
"""

from explainrec.llm.cache import ResponseCache, cache_key, default_cache_path
from explainrec.llm.client import LLM, LLMStats
from explainrec.llm.factory import load_spec, open_backend, open_llm
from explainrec.llm.spec import BACKENDS, BUNDLED, LLMSpec, resolve_llm
from explainrec.llm.types import Backend, ChatRequest, Completion, GenerationConfig

__all__ = [
    "BACKENDS",
    "BUNDLED",
    "LLM",
    "Backend",
    "ChatRequest",
    "Completion",
    "GenerationConfig",
    "LLMSpec",
    "LLMStats",
    "ResponseCache",
    "cache_key",
    "default_cache_path",
    "load_spec",
    "open_backend",
    "open_llm",
    "resolve_llm",
]
