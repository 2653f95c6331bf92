"""Option scoring: the walk over answer openings, the local backend on a tiny model made to prefer
one number, the cache, and the HTTP backend against an OpenAI-format server with log-probabilities."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from explainrec.cpeg.loop import choice_mode
from explainrec.llm import LLM, LLMSpec, ResponseCache
from explainrec.llm.decode import next_token_logprobs
from explainrec.llm.options import walk_options
from explainrec.llm.types import ScoreRequest, Scored


def table_step(tables: dict[str, dict[str, float]]):
    """A step whose next-token distributions are ``tables[text so far]`` (token text -> probability)."""
    seen = []

    def step(queries):
        out = []
        for _, path, _ in queries:
            seen.append("".join(path))
            out.append([(t, t, math.log(p)) for t, p in tables.get("".join(path), {}).items()])
        return out

    return step, seen


def test_the_walk_follows_options_that_open_others():
    req = ScoreRequest((("user", "pick"),), ("1", "10", "2", "25"))
    tables = {"": {"1": 0.5, " 2": 0.3, "The": 0.2},          # " 2": leading whitespace does not count
              "1": {"0": 0.6, "]": 0.3, "5": 0.1},             # "]" ends option 1, "0" makes 10, "15" is none
              " 2": {"5": 0.5, "]": 0.5}}
    step, seen = table_step(tables)
    (lp,) = walk_options([req], step)
    p = [math.exp(x) for x in lp]
    assert p == pytest.approx([0.5 * 0.3, 0.5 * 0.6, 0.3 * 0.5, 0.3 * 0.5])
    assert seen == ["", "1", " 2"]  # node "1" and node "2" were expanded, nothing else
    # a token that ends an option's word ("3]") counts for it, one that goes on ("35") does not;
    # an unseen option gets -inf
    (lp,) = walk_options([ScoreRequest((("user", "x"),), ("3", "4"))], table_step({"": {"3]": 0.7, "35": 0.2}})[0])
    assert math.exp(lp[0]) == pytest.approx(0.7) and lp[1] == -math.inf
    s = Scored(tuple(lp))
    assert s.best == 0 and s.probs == (1.0, 0.0) and s.covered == pytest.approx(0.7)


def test_unlikely_nodes_are_not_expanded():
    req = ScoreRequest((("user", "pick"),), ("1", "12"))
    step, seen = table_step({"": {"1": 1e-5, "x": 0.99}, "1": {"2": 1.0}})
    (lp,) = walk_options([req], step)
    assert seen == [""] and lp == [-math.inf, -math.inf]


def boosted_backend(tiny_spec, word: str, by: float = 40.0):
    """A local backend on the tiny model whose next-token logit of ``word`` is raised by ``by``."""
    from explainrec.llm.local import TransformersBackend

    be = TransformersBackend(tiny_spec)
    (token,) = be.tokenizer.convert_tokens_to_ids([word])
    forward = be.model.forward

    def preferring(*args, **kw):
        out = forward(*args, **kw)
        out.logits[..., token] += by
        return out

    be.model.forward = preferring
    return be


def cpeg_like(n: int, opening: str = "Answer: [") -> list[ScoreRequest]:
    return [ScoreRequest.of("Pick the item the user liked.", f"User {u} likes jazz. Items: "
                            + " ".join(f"[{k}] album {k}" for k in range(1, 6)), [str(k) for k in range(1, 6)],
                            opening=opening) for u in range(n)]


def test_the_local_backend_picks_what_the_model_prefers(tiny_spec):
    be = boosted_backend(tiny_spec, "3")
    reqs = cpeg_like(3)
    out = be.score(reqs)
    assert [r.options[s.best] for r, s in zip(reqs, out)] == ["3", "3", "3"]
    assert all(s.probs[2] > 0.99 for s in out)
    # single-token options: the walk's log-probabilities are the model's next-token log-softmax
    ids = [be.tokenizer.convert_tokens_to_ids([o])[0] for o in reqs[0].options]
    direct = next_token_logprobs(be.model, [be.token_ids(reqs[0])], pad_id=be.pad_id, store=None)[0]
    assert list(out[0].logprobs) == pytest.approx([float(direct[i]) for i in ids], abs=1e-4)
    assert out[0].prompt_tokens == len(be.token_ids(reqs[0]))


def test_scores_are_cached_and_counted(tiny_spec, tmp_path):
    be = boosted_backend(tiny_spec, "2")
    llm = LLM(be, ResponseCache(tmp_path / "c.sqlite"), progress=False)
    reqs = cpeg_like(4)
    first = llm.score(reqs + reqs[:1])
    again = LLM(be, ResponseCache(tmp_path / "c.sqlite"), progress=False).score(reqs)
    assert [s.logprobs for s in again] == [s.logprobs for s in first[:4]] and all(s.cached for s in again)
    assert llm.stats.llm_calls == llm.stats.scored == 4 and llm.stats.duplicates == 1
    assert llm.can_score and choice_mode("likelihood", llm) == ("likelihood", None)


class _LogprobServer(BaseHTTPRequestHandler):
    """An OpenAI-format chat completions endpoint that answers one token and its ``top_logprobs``
    from a local backend (``server.backend``), continuing a last assistant turn as vLLM does with
    ``continue_final_message``; ``server.logprobs = False`` leaves the log-probabilities out."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        be = self.server.backend
        messages = tuple((m["role"], m["content"]) for m in body["messages"])
        continues = body.get("continue_final_message", False)
        assert continues == (messages[-1][0] == "assistant")
        ids = be.token_ids(ScoreRequest(messages, ("x",)))
        lp = next_token_logprobs(be.model, [ids], pad_id=be.pad_id, store=None)[0]
        texts = be._vocab()[0]
        top = lp.topk(body["top_logprobs"])
        alts = [{"token": texts[i], "logprob": float(v), "bytes": None} for v, i in zip(top.values, top.indices)]
        logprobs = {"content": [{**alts[0], "top_logprobs": alts}]} if self.server.logprobs else None
        answer = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                  "choices": [{"index": 0, "finish_reason": "length", "logprobs": logprobs,
                               "message": {"role": "assistant", "content": alts[0]["token"]}}],
                  "usage": {"prompt_tokens": len(ids), "completion_tokens": 1, "total_tokens": len(ids) + 1}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def logprob_server(tiny_spec):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _LogprobServer)
    srv.backend, srv.logprobs = boosted_backend(tiny_spec, "4"), True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def test_the_http_backend_makes_the_local_choice(logprob_server):
    from explainrec.llm.http import OpenAIBackend

    url = f"http://127.0.0.1:{logprob_server.server_address[1]}/v1"
    be = OpenAIBackend(LLMSpec(name="served", backend="openai", model="tiny", base_url=url, max_retries=0,
                               concurrency=2))
    assert be.scoring_unavailable() is None
    reqs = cpeg_like(3) + [ScoreRequest.of(None, "Score it from 1 to 5.", [str(k) for k in range(1, 6)])]
    remote, local = be.score(reqs), logprob_server.backend.score(reqs)
    assert [r.options[s.best] for r, s in zip(reqs, remote)] == [r.options[s.best] for r, s in zip(reqs, local)] \
        == ["4"] * 4
    # what the server listed has the local backend's log-probability
    for a, b in zip(remote, local):
        assert [x for x in a.logprobs if x > -math.inf] == pytest.approx(
            [y for x, y in zip(a.logprobs, b.logprobs) if x > -math.inf], abs=1e-4)


def test_a_server_without_logprobs_gets_the_generate_path(logprob_server):
    from explainrec.llm.http import OpenAIBackend

    logprob_server.logprobs = False
    url = f"http://127.0.0.1:{logprob_server.server_address[1]}/v1"
    llm = LLM(OpenAIBackend(LLMSpec(name="served", backend="openai", model="tiny", base_url=url, max_retries=0)),
              None, progress=False)
    reason = llm.scoring_unavailable()
    assert reason and "returned no token log-probabilities" in reason and url in reason and not llm.can_score
    mode, notice = choice_mode("likelihood", llm)
    assert mode == "generate" and notice.startswith("cpeg.choice is likelihood, but the endpoint at")
    assert choice_mode("generate", llm) == ("generate", None)
