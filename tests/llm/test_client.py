"""LLM.chat: dedupe, cache, batching by length, order, statistics (with a fake backend)."""

from __future__ import annotations

import json

import pytest

from explainrec.core.errors import ExplainrecError, InputError
from explainrec.llm import LLM, ChatRequest, Completion, LLMSpec, ResponseCache, load_spec, open_llm


class EchoBackend:
    """Answers with the upper-cased user message; records every batch it is sent."""

    identity = "fake:echo"

    def __init__(self, preferred_batch: int = 3):
        self.preferred_batch = preferred_batch
        self.batches: list[list[ChatRequest]] = []

    def generate(self, batch):
        self.batches.append(list(batch))
        return [Completion(r.messages[-1][1].upper(), len(r.messages[-1][1]), 2) for r in batch]

    @property
    def asked(self):
        return [r for b in self.batches for r in b]


def reqs(*texts):
    return [ChatRequest.of("sys", t, max_new_tokens=8) for t in texts]


def test_order_dedupe_and_stats():
    be = EchoBackend(preferred_batch=2)
    llm = LLM(be, None, progress=False)
    texts = ["bb", "a", "dddd", "a", "ccc", "bb", "eeeee"]
    out = llm.chat(reqs(*texts))
    assert [c.text for c in out] == [t.upper() for t in texts]
    assert len(be.asked) == 5  # each distinct request once
    assert all(len(b) <= 2 for b in be.batches)
    # length-aware batching: requests sorted by prompt length, longest first
    lens = [len(r.messages[-1][1]) for r in be.asked]
    assert lens == sorted(lens, reverse=True)
    s = llm.stats
    assert (s.requests, s.duplicates, s.llm_calls, s.cache_hits) == (7, 2, 5, 0)
    assert s.completion_tokens == 10 and s.prompt_tokens == 2 + 1 + 4 + 3 + 5
    m = s.as_metrics()
    assert set(m) >= {"requests", "llm_calls", "cache_hits", "prompt_tokens", "completion_tokens", "seconds",
                      "tokens_per_s"}
    json.dumps(m)


def test_cache_hits_are_not_regenerated(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    be = EchoBackend()
    llm = LLM(be, cache, progress=False)
    first = llm.chat(reqs("x", "y"))
    assert not any(c.cached for c in first)
    out = llm.chat(reqs("y", "z", "x"))
    assert [c.text for c in out] == ["Y", "Z", "X"]
    assert [c.cached for c in out] == [True, False, True]
    assert sorted(r.messages[-1][1] for r in be.asked) == ["x", "y", "z"]
    assert (llm.stats.requests, llm.stats.cache_hits, llm.stats.llm_calls) == (5, 2, 3)
    # a different backend identity does not see these answers
    other = EchoBackend()
    other.identity = "fake:other"
    LLM(other, cache, progress=False).chat(reqs("x"))
    assert len(other.asked) == 1


def test_batches_are_cached_as_they_finish(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")

    class Failing(EchoBackend):
        def generate(self, batch):
            if len(self.batches) == 2:
                raise RuntimeError("boom")
            return super().generate(batch)

    with pytest.raises(RuntimeError):
        LLM(Failing(preferred_batch=2), cache, progress=False).chat(reqs(*"abcdefg"))
    assert len(cache) == 4  # the two finished batches survived
    be = EchoBackend(preferred_batch=2)
    out = LLM(be, cache, progress=False).chat(reqs(*"abcdefg"))
    assert [c.text for c in out] == list("ABCDEFG") and len(be.asked) == 3


def test_wrong_number_of_completions():
    class Short(EchoBackend):
        def generate(self, batch):
            return super().generate(batch)[:-1]

    with pytest.raises(ExplainrecError, match="returned 1 answers for 2"):
        LLM(Short(), None, progress=False).chat(reqs("a", "b"))


def test_non_request_rejected():
    with pytest.raises(TypeError, match="requests\\[0\\]"):
        LLM(EchoBackend(), None, progress=False).chat(["hello"])


def test_empty_and_progress_bar(capsys):
    llm = LLM(EchoBackend(), None, desc="unit")
    assert llm.chat([]) == []
    llm.chat(reqs("a", "b"))
    assert "unit" in capsys.readouterr().err


def test_open_llm_from_llm_json(tmp_path, tiny_model_dir, monkeypatch):
    # the assets stage writes a spec whose model is a folder relative to the cwd
    monkeypatch.chdir(tiny_model_dir.parent)
    spec = LLMSpec(name="tiny", backend="transformers", model=tiny_model_dir.name, threads=1, identity="t:1")
    path = tmp_path / "llm.json"
    path.write_text(json.dumps(spec.to_dict()))
    assert load_spec(path) == spec
    llm = open_llm(path, cache_path=tmp_path / "c.sqlite", progress=False)
    out = llm.chat([ChatRequest.of(None, "hello", max_new_tokens=3)])
    assert out[0].completion_tokens == 3 and llm.cache is not None and len(llm.cache) == 1
    assert open_llm(spec, use_cache=False).cache is None


def test_load_spec_errors(tmp_path):
    with pytest.raises(InputError, match="assets_llm"):
        load_spec(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "backend": "transformers", "model": "m", "colour": 1}))
    with pytest.raises(InputError, match="LLMSpec"):
        load_spec(bad)
