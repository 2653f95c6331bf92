"""The front door every pipeline stage uses: cache, dedupe, batch, count.

``LLM.chat`` answers a list of :class:`ChatRequest` in input order. Identical
requests are generated once; answers already in the :class:`ResponseCache`
are not generated again; the rest are sorted by prompt length (so a batch
holds prompts of similar length and pads little), sent to the backend in
batches of ``backend.preferred_batch`` and written to the cache as each batch
finishes, so an interrupted job resumes where it stopped. ``LLM.score`` does
the same for :class:`ScoreRequest` (how likely each option is as the answer's
start), whose answers are cached as their options' log-probabilities.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from explainrec.core.errors import ExplainrecError
from explainrec.llm.cache import ResponseCache, cache_key
from explainrec.llm.types import Backend, ChatRequest, Completion, ScoreRequest, Scored


def scoring_unavailable(model: Any) -> str | None:
    """Why ``model`` (an :class:`LLM`, a backend, a test double) cannot score options, or None:
    its own ``scoring_unavailable()``, or, when it has none, that it gives no token log-probabilities."""
    check = getattr(model, "scoring_unavailable", None)
    return check() if check is not None else f"the {type(model).__name__} backend gives no token log-probabilities"

@dataclass
class LLMStats:
    """Running totals over every ``chat`` call of one :class:`LLM`.

    ``requests`` counts input requests, duplicates included; ``duplicates`` of
    them were identical to another request of the same call; ``cache_hits``
    distinct requests came from the cache and ``llm_calls`` were generated.
    Token counts and ``seconds`` cover the generated ones only.
    """

    requests: int = 0
    duplicates: int = 0
    cache_hits: int = 0
    llm_calls: int = 0
    #: of the ``llm_calls``, option scorings (:meth:`LLM.score`) rather than generations
    scored: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    #: what the figures were measured on (CPU model, AMX, threads, device, dtype), when the backend says
    machine: dict[str, Any] | None = None
    #: the local backend's decoding profile (prefill/decode seconds, reused and padding tokens, ...)
    decode: dict[str, Any] | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    def as_metrics(self) -> dict[str, Any]:
        """Flat, JSON-ready numbers for a stage's metrics file."""
        d = dataclasses.asdict(self)
        d["seconds"] = round(self.seconds, 3)
        d["tokens_per_s"] = round(self.tokens_per_s, 2)
        return d


class LLM:
    """A backend plus an optional response cache, with batching and statistics."""

    def __init__(self, backend: Backend, cache: ResponseCache | None = None, desc: str = "llm",
                 progress: bool = True):
        self.backend = backend
        self.cache = cache
        self.desc = desc
        self.progress = progress
        self.stats = LLMStats(machine=getattr(backend, "machine", None))

    @property
    def identity(self) -> str:
        return self.backend.identity

    def chat(self, requests: Sequence[ChatRequest], desc: str | None = None) -> list[Completion]:
        """Completions for ``requests``, in the same order (``cached=True`` for cache hits)."""
        return self._answer(requests, ChatRequest, self.backend.generate, desc)

    def scoring_unavailable(self) -> str | None:
        """Why :meth:`score` cannot work with this backend (no token log-probabilities), or None."""
        return scoring_unavailable(self.backend)

    @property
    def can_score(self) -> bool:
        return self.scoring_unavailable() is None

    def score(self, requests: Sequence[ScoreRequest], desc: str | None = None) -> list[Scored]:
        """The options' log-probabilities for ``requests`` (:mod:`explainrec.llm.options`), in the
        same order, through the same cache, deduplication and batching as :meth:`chat`."""
        reason = self.scoring_unavailable()
        if reason is not None:
            raise ExplainrecError(f"{self.identity}: cannot score options: {reason}")

        def run(batch: list[ScoreRequest]) -> list[Completion]:
            return [Completion(s.to_json(), s.prompt_tokens, 0) for s in self.backend.score(batch)]

        outs = self._answer(requests, ScoreRequest, run, desc)
        return [Scored.from_json(c.text, c.prompt_tokens, c.cached) for c in outs]

    def _answer(self, requests: Sequence[Any], kind: type, run: Any, desc: str | None) -> list[Completion]:
        requests = list(requests)
        for i, r in enumerate(requests):
            if not isinstance(r, kind):
                raise TypeError(f"requests[{i}] is a {type(r).__name__}, not a {kind.__name__}")
        keys = [cache_key(self.identity, r) for r in requests]
        unique: dict[str, Any] = dict(zip(keys, requests))
        self.stats.requests += len(requests)
        self.stats.duplicates += len(requests) - len(unique)

        done: dict[str, Completion] = self.cache.get_many(unique) if self.cache is not None else {}
        self.stats.cache_hits += len(done)
        misses = [k for k in unique if k not in done]
        misses.sort(key=lambda k: unique[k].n_chars, reverse=True)  # longest first: memory errors show early
        step = max(1, int(self.backend.preferred_batch))

        bar = tqdm(total=len(unique), initial=len(done), desc=desc or self.desc, unit="prompt",
                   disable=not self.progress or not misses, dynamic_ncols=True)
        gen_tokens, gen_seconds = 0, 0.0
        try:
            for s in range(0, len(misses), step):
                part = misses[s : s + step]
                batch = [unique[k] for k in part]
                t0 = time.perf_counter()
                outs = run(batch)
                dt = time.perf_counter() - t0
                if len(outs) != len(batch):
                    raise ExplainrecError(
                        f"backend {self.identity} returned {len(outs)} answers for {len(batch)} requests"
                    )
                outs = [dataclasses.replace(c, cached=False) for c in outs]
                if self.cache is not None:
                    self.cache.put_many(zip(part, outs), identity=self.identity, requests=batch)
                done.update(zip(part, outs))
                st = self.stats
                st.llm_calls += len(batch)
                if kind is ScoreRequest:
                    st.scored += len(batch)
                st.prompt_tokens += sum(c.prompt_tokens for c in outs)
                st.completion_tokens += sum(c.completion_tokens for c in outs)
                st.seconds += dt
                gen_tokens += sum(c.completion_tokens for c in outs)
                gen_seconds += dt
                profile = getattr(self.backend, "profile", None)
                if profile is not None:
                    st.decode = profile.as_metrics()
                bar.update(len(batch))
                if kind is ChatRequest:
                    bar.set_postfix_str(f"{gen_tokens / gen_seconds if gen_seconds else 0.0:.1f} tok/s")
        finally:
            bar.close()
        return [done[k] for k in keys]

    def complete(self, request: ChatRequest) -> Completion:
        """One request (through the cache like any other)."""
        return self.chat([request])[0]
