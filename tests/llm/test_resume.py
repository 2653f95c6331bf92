"""Kill a generation job half-way, then resume: only the missing prompts are generated."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from explainrec.llm import cache_key
from explainrec.llm.local import TransformersBackend
from tests.killing import REPO, run_and_kill

from .resume_job import N_PROMPTS, job_requests, job_spec, run_job

HERE = Path(__file__).parent


def cached_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    db = sqlite3.connect(path, timeout=30)
    try:
        return {k for (k,) in db.execute("SELECT key FROM responses")}
    except sqlite3.OperationalError:  # table not created yet
        return set()
    finally:
        db.close()


class CountingBackend:
    def __init__(self, inner):
        self.inner = inner
        self.identity, self.preferred_batch = inner.identity, inner.preferred_batch
        self.asked = []

    def generate(self, batch):
        self.asked.extend(batch)
        return self.inner.generate(batch)


@pytest.mark.slow
def test_kill_then_resume(tiny_model_dir, tmp_path):
    cache = tmp_path / "responses.sqlite"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}  # the job imports tests.killing
    run_and_kill([sys.executable, str(HERE / "resume_job.py"), str(tiny_model_dir), str(cache), "--sleep", "0.3"],
                 lambda: len(cached_keys(cache)) >= 4, tmp_path / "job.log", env=env, poll=0.02,
                 what="4 cached answers")

    before = cached_keys(cache)
    assert 0 < len(before) < N_PROMPTS

    backend = CountingBackend(TransformersBackend(job_spec(tiny_model_dir)))
    resumed = run_job(backend, cache)
    all_keys = [cache_key(backend.identity, r) for r in job_requests()]
    asked = [cache_key(backend.identity, r) for r in backend.asked]
    assert len(asked) == len(set(asked))
    assert set(asked) == set(all_keys) - before
    assert len(cached_keys(cache)) == N_PROMPTS

    clean = run_job(backend.inner, tmp_path / "fresh.sqlite")
    strip = [(c.text, c.prompt_tokens, c.completion_tokens) for c in resumed]
    assert strip == [(c.text, c.prompt_tokens, c.completion_tokens) for c in clean]
    assert [c.cached for c in resumed] == [k in before for k in all_keys]
