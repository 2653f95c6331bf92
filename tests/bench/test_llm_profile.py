"""bench/llm_profile.py on the tiny model: the pipeline's prompt kinds read from a response cache,
three modes with identical outputs, the shares printed, and clear messages when something is missing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from explainrec.cpeg.prompts import SYSTEM_PROMPT, Candidate, ErrorExample, discrimination_message
from explainrec.llm import ChatRequest, Completion, LLMSpec, ResponseCache, cache_key
from explainrec.profiles.prompts import P_AGG_ITEM, P_INIT_USER
from tests.bench import load_script

IDENTITY = "test:tiny-llama|float32"


def fill_cache(path, n_pairs: int = 3) -> None:
    """What a pipeline run leaves in the cache: PGHIS prompts and CPEG pairs with one and two retries."""
    reqs = [ChatRequest.of(P_INIT_USER, f"The user rated film {i} 4/5 and film {i + 1} 2/5.", max_new_tokens=6)
            for i in range(4)]
    reqs += [ChatRequest.of(P_AGG_ITEM, f"Current profile: a film for fans of genre {i}.", max_new_tokens=6)
             for i in range(3)]
    for p in range(n_pairs):
        cands = [Candidate(f"i{p}{c}", f"Film {p}{c}", f"a drama about place {c}") for c in range(4)]
        errors = [ErrorExample(1, f"wrong pick {p}"), ErrorExample(None, "unreadable")]
        for k in range(3):
            reqs.append(ChatRequest.of(SYSTEM_PROMPT, discrimination_message(f"likes dramas {p}", "good", cands, errors[:k]),
                                       max_new_tokens=6))
    with ResponseCache(path) as cache:
        for r in reqs:
            cache.put_many([(cache_key(IDENTITY, r), Completion("x", 1, 1))], identity=IDENTITY, requests=[r])


def test_three_modes_on_tiny_model(tiny_model_dir, tmp_path):
    bench = load_script("llm_profile")
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), dtype="float32",
                   identity="test:tiny-llama")
    llm_json = tmp_path / "llm.json"
    llm_json.write_text(json.dumps(spec.to_dict()))
    cache = tmp_path / "responses.sqlite"
    fill_cache(cache)
    out = tmp_path / "profile.json"
    res = CliRunner().invoke(bench.main, ["--llm", str(llm_json), "--cache", str(cache), "--pghis", "3",
                                          "--cpeg-pairs", "3", "--batch-size", "2", "--threads", "1",
                                          "--dtype", "float32", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("machine: ") and "float32" in res.stdout.splitlines()[0]
    r = json.loads(out.read_text())
    assert set(r["workloads"]) == {"pghis L0 users", "pghis L1 items", "cpeg"}
    assert r["workloads"]["pghis L0 users"]["requests"] == 3
    cpeg = r["workloads"]["cpeg"]
    assert cpeg["rounds"] == 3 and cpeg["requests"] == 9  # each pair's P, then P_retry with 1 and 2 errors
    for w in r["workloads"].values():
        assert set(w["modes"]) == {"base", "reuse", "full"}
        for m in w["modes"].values():
            assert m["identical_to_base"] == w["requests"]
        assert w["modes"]["base"]["profile"]["reused_tokens"] == 0
        assert 0.0 < w["base_shares"]["prefill"] < 1.0
    # a retry reuses its first prompt: most of CPEG's prompt tokens come from the store
    assert cpeg["modes"]["reuse"]["profile"]["reused_share"] > 0.5
    assert "base time: prefill" in res.stdout and "identical to base: 9/9" in res.stdout


def test_missing_inputs_say_what_to_run(tiny_model_dir, tmp_path):
    bench = load_script("llm_profile")
    res = CliRunner().invoke(bench.main, ["--llm", str(tmp_path / "none.json")])
    assert res.exit_code != 0 and "dvc repro assets_llm" in res.output
    spec = LLMSpec(name="tiny", backend="transformers", model=str(tiny_model_dir), identity="t")
    (tmp_path / "llm.json").write_text(json.dumps(spec.to_dict()))
    res = CliRunner().invoke(bench.main, ["--llm", str(tmp_path / "llm.json"), "--cache", str(tmp_path / "no.sqlite")])
    assert res.exit_code != 0 and "dvc repro cpeg" in res.output
