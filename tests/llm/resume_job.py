"""A small generation job for the kill-then-resume test.

Run as a script it generates answers for :func:`job_requests` with the tiny
model into a cache file, sleeping after every batch so the test can kill it
half-way::

    python tests/llm/resume_job.py MODEL_DIR CACHE.sqlite --sleep 0.25
"""

from __future__ import annotations

import time
from pathlib import Path

from explainrec.llm import LLM, ChatRequest, Completion, LLMSpec, ResponseCache
from explainrec.llm.local import TransformersBackend
from tests.killing import job_args

N_PROMPTS = 24
BATCH = 2
GENRES = ["sci-fi", "drama", "comedy", "horror", "jazz documentaries", "westerns"]


def job_requests() -> list[ChatRequest]:
    """24 distinct prompts of different lengths."""
    return [
        ChatRequest.of(
            "You write one-sentence explanations.",
            f"User {i} liked " + ", ".join(GENRES[: 1 + i % len(GENRES)]) + f". Explain item {i}.",
            max_new_tokens=10,
        )
        for i in range(N_PROMPTS)
    ]


def job_spec(model_dir: str | Path) -> LLMSpec:
    return LLMSpec(name="tiny", backend="transformers", model=str(model_dir), batch_size=BATCH, threads=1,
                   identity="test:tiny-llama")


class SlowBackend:
    """Wraps a backend and sleeps after each batch (a stand-in for a slow model)."""

    def __init__(self, inner, sleep_s: float):
        self.inner, self.sleep_s = inner, sleep_s
        self.identity, self.preferred_batch = inner.identity, inner.preferred_batch

    def generate(self, batch):
        out = self.inner.generate(batch)
        time.sleep(self.sleep_s)
        return out


def run_job(backend, cache_path: str | Path | None) -> list[Completion]:
    cache = ResponseCache(cache_path) if cache_path else None
    return LLM(backend, cache, desc="resume-job", progress=False).chat(job_requests())


def main() -> None:
    a = job_args("model_dir", "cache")
    run_job(SlowBackend(TransformersBackend(job_spec(a.model_dir)), a.sleep), a.cache)


if __name__ == "__main__":
    main()
