"""Generation through an OpenAI-compatible HTTP endpoint (vLLM, llama.cpp,
Ollama, ``transformers serve``, OpenAI itself).

A batch is sent as concurrent requests (``llms.<name>.concurrency`` threads);
the ``openai`` client retries connection errors, 429 and 5xx answers with
exponential backoff (``max_retries``). When the server cannot be reached at
all the error names the URL and says how to start it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from explainrec.errors import LLMUnavailable
from explainrec.llm.spec import LLMSpec
from explainrec.llm.types import ChatRequest, Completion, truncate_at_stop

#: requests per ``generate`` call, as a multiple of the concurrency: several
#: rounds per batch keep the threads busy while the slowest request finishes
BATCH_PER_WORKER = 4


class OpenAIBackend:
    """Chat completions from ``spec.base_url`` for model ``spec.model``."""

    def __init__(self, spec: LLMSpec):
        import openai

        self.spec = spec
        self.identity = spec.cache_identity()
        # the model runs on the server: its hardware is not visible from here
        self.machine = {"backend": "openai", "served_by": spec.base_url, "model": spec.model}
        self.concurrency = max(1, int(spec.concurrency))
        self.preferred_batch = self.concurrency * BATCH_PER_WORKER
        self.url = spec.base_url
        self._openai = openai
        self.client = openai.OpenAI(
            base_url=spec.base_url,
            api_key=os.environ.get(spec.api_key_env) or "not-needed",
            timeout=spec.timeout_s,
            max_retries=spec.max_retries,
        )

    def unreachable(self, reason: str) -> LLMUnavailable:
        hint = self.spec.start_hint or f"start the server or fix llms.{self.spec.name}.base_url"
        return LLMUnavailable(f"cannot reach the OpenAI-compatible endpoint at {self.url} ({reason}); {hint}")

    def _translate(self, e: Exception) -> Exception:
        oa = self._openai
        if isinstance(e, oa.APITimeoutError):
            return self.unreachable(f"timed out after {self.spec.timeout_s:g} s")
        if isinstance(e, oa.APIConnectionError):
            cause = e.__cause__ or e
            first = str(cause).strip().splitlines()[0] if str(cause).strip() else "connection failed"
            return self.unreachable(f"{type(cause).__name__}: {first}")
        if isinstance(e, oa.AuthenticationError | oa.PermissionDeniedError):
            return LLMUnavailable(
                f"the endpoint at {self.url} refused the API key (HTTP {e.status_code}); "
                f"set ${self.spec.api_key_env}"
            )
        if isinstance(e, oa.APIStatusError):
            msg = str(e.message).splitlines()[0][:200] if e.message else ""
            return LLMUnavailable(
                f"the endpoint at {self.url} answered HTTP {e.status_code} for model {self.spec.model!r}: {msg}"
            )
        return e

    def check(self) -> list[str]:
        """Probe the endpoint (GET /models); return the model ids it lists.

        Raises :class:`LLMUnavailable` when nothing answers or the key is
        refused. A server that answers with another error still counts as
        reachable (some do not implement the listing) and gives ``[]``.
        """
        oa = self._openai
        probe = self.client.with_options(max_retries=min(1, self.spec.max_retries),
                                         timeout=min(self.spec.timeout_s, 10.0))
        try:
            return [m.id for m in probe.models.list()]
        except (oa.APIConnectionError, oa.AuthenticationError, oa.PermissionDeniedError) as e:
            raise self._translate(e) from e
        except oa.APIStatusError:
            return []

    def _params(self, req: ChatRequest) -> dict[str, Any]:
        p = req.params
        kw: dict[str, Any] = {
            "model": self.spec.model,
            "messages": req.openai_messages(),
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_tokens": p.max_new_tokens,
            "seed": p.seed,
        }
        if p.stop:
            kw["stop"] = list(p.stop)[:4]  # the OpenAI API takes at most 4; the rest are applied below
        return kw

    def _one(self, req: ChatRequest) -> Completion:
        try:
            resp = self.client.chat.completions.create(**self._params(req))
        except self._openai.OpenAIError as e:
            raise self._translate(e) from e
        text = (resp.choices[0].message.content or "") if resp.choices else ""
        text, _ = truncate_at_stop(text, req.params.stop)  # servers that ignore `stop`
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0) if usage else 0
        ct = int(getattr(usage, "completion_tokens", 0) or 0) if usage else 0
        return Completion(text.strip(), pt, ct)

    def generate(self, batch: list[ChatRequest]) -> list[Completion]:
        """Send the batch concurrently; results come back in input order."""
        if not batch:
            return []
        if len(batch) == 1 or self.concurrency == 1:
            return [self._one(r) for r in batch]
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch)), thread_name_prefix="llm-http")
        try:
            futures = [pool.submit(self._one, r) for r in batch]
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
