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

from explainrec.core.errors import LLMUnavailable
from explainrec.llm.options import Query, score_with
from explainrec.llm.spec import LLMSpec
from explainrec.llm.types import ChatRequest, Completion, ScoreRequest, Scored, ScoringUnsupported, truncate_at_stop

#: requests per ``generate`` call, as a multiple of the concurrency: several
#: rounds per batch keep the threads busy while the slowest request finishes
BATCH_PER_WORKER = 4
#: the most next-token alternatives the OpenAI API returns per position
TOP_LOGPROBS = 20
#: vLLM's (and SGLang's) fields for continuing a last assistant turn instead of starting a new one
CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}


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
        if req.continues:
            kw["extra_body"] = CONTINUE
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

    def _map(self, fn: Any, items: list[Any]) -> list[Any]:
        """``fn`` over ``items`` on up to ``concurrency`` threads; results in input order."""
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)), thread_name_prefix="llm-http")
        try:
            futures = [pool.submit(fn, x) for x in items]
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def generate(self, batch: list[ChatRequest]) -> list[Completion]:
        """Send the batch concurrently; results come back in input order."""
        return self._map(self._one, batch)

    # -- option scoring ----------------------------------------------------
    def scoring_unavailable(self) -> str | None:
        """Why the endpoint cannot score options, or None; asked once, with a one-token request.

        Scoring needs ``logprobs``/``top_logprobs`` in chat completions and, to continue an
        answer's opening, vLLM's ``continue_final_message`` (vLLM and SGLang have both;
        ``transformers serve`` ignores the first and rejects the second; OpenAI has no
        continuation). The reason is kept, so the caller can name it in its notice.
        """
        if not hasattr(self, "_scoring_reason"):
            probe = ScoreRequest.of(None, "Answer with one number.", ("1", "2"), opening="Answer: ")
            try:
                self._next_tokens((probe, (), frozenset()))
                self._scoring_reason: str | None = None
            except (ScoringUnsupported, LLMUnavailable) as e:
                self._scoring_reason = str(e)
        return self._scoring_reason

    def score(self, batch: list[ScoreRequest]) -> list[Scored]:
        """The options' log-probabilities from the server's ``top_logprobs`` (:mod:`explainrec.llm.options`);
        prompt tokens are not counted (0)."""
        return score_with(batch, lambda queries: self._map(self._next_tokens, queries), lambda r: 0)

    def _next_tokens(self, query: Query) -> list[tuple[str, str, float]]:
        request, path, _ = query
        messages = request.openai_messages()
        if path:
            if request.continues:
                messages[-1] = {"role": "assistant", "content": messages[-1]["content"] + "".join(path)}
            else:
                messages.append({"role": "assistant", "content": "".join(path)})
        kw: dict[str, Any] = {"model": self.spec.model, "messages": messages, "max_tokens": 1, "temperature": 0.0,
                              "logprobs": True, "top_logprobs": TOP_LOGPROBS}
        if messages[-1]["role"] == "assistant":
            kw["extra_body"] = CONTINUE
        try:
            resp = self.client.chat.completions.create(**kw)
        except self._openai.OpenAIError as e:
            raise self._translate(e) from e
        lp = resp.choices[0].logprobs if resp.choices else None
        content = getattr(lp, "content", None) if lp is not None else None
        if not content or not getattr(content[0], "top_logprobs", None):
            raise ScoringUnsupported(f"the endpoint at {self.url} returned no token log-probabilities "
                                     "(logprobs/top_logprobs)")
        return [(t.token, t.token, float(t.logprob)) for t in content[0].top_logprobs]
