"""Build a backend or a ready-to-use :class:`LLM` from a catalogue entry or an ``llm.json``."""

from __future__ import annotations

import json
from pathlib import Path

from explainrec.core.errors import ExplainrecError, InputError, ParamError
from explainrec.llm.cache import ResponseCache, default_cache_path
from explainrec.llm.client import LLM
from explainrec.llm.spec import BACKENDS, LLMSpec
from explainrec.llm.types import Backend


def open_backend(spec: LLMSpec) -> Backend:
    """The backend named by ``spec.backend`` (loads the model / creates the HTTP client)."""
    if spec.backend == "transformers":
        from explainrec.llm.local import TransformersBackend

        return TransformersBackend(spec)
    if spec.backend == "openai":
        from explainrec.llm.http import OpenAIBackend

        return OpenAIBackend(spec)
    raise ParamError(f"llms.{spec.name}.backend", f"one of {', '.join(BACKENDS)}", spec.backend)


def require_local(spec: LLMSpec, why: str) -> None:
    """One-line error unless ``spec`` runs in this process: ``why`` says what needs the weights here
    (an HTTP llm has no layers to hook and no weights to train)."""
    if spec.backend != "transformers":
        raise ExplainrecError(
            f"llm {spec.name!r} is served over HTTP (backend {spec.backend}): {why}, which needs the weights in "
            "this process; choose a llm with backend: transformers (the bundled smollm2-135m, or a hub id on a GPU "
            "machine)")


def load_spec(path: str | Path) -> LLMSpec:
    """Read an ``llm.json`` written by the assets stage (``LLMSpec.to_dict()`` as JSON)."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "(file)", "an llm.json written by the assets stage; run `dvc repro assets_llm`") \
            from None
    except json.JSONDecodeError as e:
        raise InputError(path, "(file)", f"valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(d, dict):
        raise InputError(path, "(top level)", "a JSON object of LLMSpec fields", type(d).__name__)
    for key in ("name", "backend", "model"):
        if key not in d:
            raise InputError(path, key, "present (an LLMSpec field)")
    try:
        return LLMSpec(**d)
    except TypeError as e:
        raise InputError(path, "(keys)", f"only LLMSpec fields ({e})") from None
    except ParamError as e:
        raise InputError(path, e.param, e.expected, e.got) from None


def open_llm(spec_or_path: LLMSpec | str | Path, cache_path: str | Path | None = None, desc: str = "llm",
             *, use_cache: bool = True, progress: bool = True) -> LLM:
    """An :class:`LLM` for a spec or an ``llm.json`` path, cached at ``cache_path``
    (default :func:`default_cache_path`) unless ``use_cache`` is false.

    A relative ``model`` folder in an ``llm.json`` is taken relative to the cwd.
    """
    spec = spec_or_path if isinstance(spec_or_path, LLMSpec) else load_spec(spec_or_path)
    backend = open_backend(spec)
    cache = ResponseCache(cache_path or default_cache_path()) if use_cache else None
    return LLM(backend, cache, desc=desc, progress=progress)
