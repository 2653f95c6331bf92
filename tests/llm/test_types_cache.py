"""Request types and the sqlite response cache."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from explainrec.core.errors import ParamError
from explainrec.llm import ChatRequest, Completion, GenerationConfig, ResponseCache, cache_key, default_cache_path


def test_request_normalises_fields():
    a = ChatRequest.of("sys", "hi", temperature=0, stop=["x"])
    b = ChatRequest((("system", "sys"), ("user", "hi")), GenerationConfig(temperature=0.0, stop=("x",)))
    assert a == b and hash(a) == hash(b)
    assert cache_key("m", a) == cache_key("m", b)
    assert ChatRequest.of(None, "hi").messages == (("user", "hi"),)


@pytest.mark.parametrize("bad", [{"max_new_tokens": 0}, {"temperature": 3}, {"top_p": 1.5}, {"stop": [""]}])
def test_bad_gen_params(bad):
    with pytest.raises(ParamError):
        GenerationConfig(**bad)


def test_bad_role():
    with pytest.raises(ParamError, match="role"):
        ChatRequest((("robot", "x"),))


def test_key_changes_with_identity_messages_params():
    r = ChatRequest.of("s", "u", max_new_tokens=16)
    base = cache_key("model-a", r)
    assert cache_key("model-b", r) != base
    assert cache_key("model-a", ChatRequest.of("s", "u2", max_new_tokens=16)) != base
    assert cache_key("model-a", ChatRequest.of(None, "u", max_new_tokens=16)) != base
    for change in ({"max_new_tokens": 17}, {"temperature": 0.5}, {"top_p": 0.9}, {"stop": ("\n",)}, {"seed": 1}):
        assert cache_key("model-a", ChatRequest.of("s", "u", **{"max_new_tokens": 16, **change})) != base, change
    assert len(base) == 64


def test_hit_miss_and_persistence(tmp_path):
    path = tmp_path / "sub" / "c.sqlite"
    c = ResponseCache(path)
    assert c.get_many(["a", "b"]) == {}
    c.put_many([("a", Completion("alpha", 3, 2)), ("b", Completion("beta", 4, 1))])
    got = c.get_many(["a", "zz", "b"])
    assert set(got) == {"a", "b"}
    assert got["a"] == Completion("alpha", 3, 2, cached=True)
    assert "a" in c and "zz" not in c and len(c) == 2
    c.close()
    with ResponseCache(path) as again:  # reopen: still there
        assert again.get("b") == Completion("beta", 4, 1, cached=True)
        again.put_many([("a", Completion("alpha2", 3, 2))])  # replace
        assert again.get("a").text == "alpha2"


def test_many_keys_in_one_lookup(tmp_path):
    c = ResponseCache(tmp_path / "c.sqlite")
    c.put_many((f"k{i}", Completion(str(i), 1, 1)) for i in range(1200))
    got = c.get_many(f"k{i}" for i in range(0, 1300))
    assert len(got) == 1200 and got["k1199"].text == "1199"


def _writer(path: str, start: int) -> None:
    c = ResponseCache(path)
    for i in range(start, start + 50):
        c.put_many([(f"k{i}", Completion(str(i), 1, 1))])
    c.close()


def test_several_processes_write_at_once(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, s)) for s in (0, 50, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(ResponseCache(path)) == 150


def test_default_cache_path(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLAINREC_CACHE", str(tmp_path / "x"))
    assert default_cache_path() == tmp_path / "x" / "llm" / "responses.sqlite"
    monkeypatch.delenv("EXPLAINREC_CACHE")
    monkeypatch.chdir(tmp_path)
    assert default_cache_path() == tmp_path / ".cache" / "explainrec" / "llm" / "responses.sqlite"
