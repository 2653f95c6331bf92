"""The OpenAI-compatible backend against a real ``transformers serve`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from explainrec.core.errors import LLMUnavailable
from explainrec.llm import LLM, ChatRequest, LLMSpec, ResponseCache
from explainrec.llm.http import OpenAIBackend

from tests.servers import free_port

from .test_local import varied_requests


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """``transformers serve`` on 127.0.0.1 serving the tiny model; yields its base URL."""
    pytest.importorskip("fastapi", reason="needs transformers[serving]")
    pytest.importorskip("uvicorn", reason="needs transformers[serving]")
    tmp = tmp_path_factory.mktemp("serve")
    (tmp / "hub").mkdir()
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp / "hub")}  # /v1/models scans this cache
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "transformers.cli.transformers", "serve", str(tiny_model_dir),
         "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                tail = (tmp / "serve.log").read_text()[-2000:]
                pytest.fail(f"transformers serve exited with {proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not up after 90 s: {(tmp / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
        log.close()


def http_spec(base_url: str, model: str, **kw) -> LLMSpec:
    return LLMSpec(name="served", backend="openai", model=model, base_url=base_url, **kw)


@pytest.mark.slow
def test_real_server(server, tiny_model_dir, tiny_backend, tmp_path):
    be = OpenAIBackend(http_spec(server, str(tiny_model_dir), concurrency=3, max_retries=1, timeout_s=60))
    assert isinstance(be.check(), list)

    # count requests in flight to see that a batch really is sent concurrently
    create = be.client.chat.completions.create
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def counting_create(**kw):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            return create(**kw)
        finally:
            with lock:
                state["now"] -= 1

    be.client.chat.completions.create = counting_create
    reqs = varied_requests(6, max_new_tokens=8)
    out = be.generate(reqs)
    assert len(out) == 6 and state["max"] >= 2
    for c in out:
        assert c.prompt_tokens > 0 and 0 < c.completion_tokens <= 8 and c.text
    # in input order, and the same greedy text as the in-process backend (same weights, same template)
    assert [(c.text, c.prompt_tokens) for c in out] == [(c.text, c.prompt_tokens) for c in tiny_backend.generate(reqs)]

    # through LLM with a cache: the second pass is all hits
    llm = LLM(be, ResponseCache(tmp_path / "c.sqlite"), progress=False)
    llm.chat(reqs)
    again = llm.chat(reqs)
    assert all(c.cached for c in again) and llm.stats.llm_calls == 6 and llm.stats.cache_hits == 6


@pytest.mark.slow
def test_transformers_serve_gives_no_logprobs(server, tiny_model_dir):
    """transformers serve ignores logprobs/top_logprobs and rejects continue_final_message, so scoring
    is unavailable and CPEG's likelihood choice falls back to generate, with its notice."""
    from explainrec.cpeg.loop import choice_mode

    llm = LLM(OpenAIBackend(http_spec(server, str(tiny_model_dir), max_retries=0, timeout_s=60)), None,
              progress=False)
    reason = llm.scoring_unavailable()
    assert reason and server.removesuffix("/v1") in reason and not llm.can_score
    mode, notice = choice_mode("likelihood", llm)
    assert mode == "generate" and reason in notice


@pytest.mark.slow
def test_stop_and_sampling_params_are_accepted(server, tiny_model_dir):
    be = OpenAIBackend(http_spec(server, str(tiny_model_dir), concurrency=2, max_retries=1))
    (full,) = be.generate([ChatRequest.of(None, "tell me about jazz", max_new_tokens=12)])
    stop = full.text.split()[2]
    (cut,) = be.generate([ChatRequest.of(None, "tell me about jazz", max_new_tokens=12, stop=(stop,))])
    assert cut.text == full.text[: full.text.find(stop)].strip()
    (s,) = be.generate([ChatRequest.of(None, "sample", max_new_tokens=5, temperature=0.8, top_p=0.9, seed=3)])
    assert s.completion_tokens <= 5


def test_unreachable_endpoint_names_url_and_hint():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    be = OpenAIBackend(http_spec(url, "llama3.1:8b", max_retries=0, timeout_s=5, start_hint="run `ollama serve`"))
    with pytest.raises(LLMUnavailable) as e:
        be.check()
    msg = str(e.value)
    assert msg.startswith(f"cannot reach the OpenAI-compatible endpoint at {url} (")
    assert msg.endswith("; run `ollama serve`")
    with pytest.raises(LLMUnavailable) as e2:
        be.generate([ChatRequest.of(None, "hi"), ChatRequest.of(None, "there")])
    assert url in str(e2.value) and "ollama serve" in str(e2.value)
    plain = OpenAIBackend(http_spec(url, "m", max_retries=0))
    with pytest.raises(LLMUnavailable, match="start the server or fix llms.served.base_url"):
        plain.check()


class _ErrorHandler(BaseHTTPRequestHandler):
    """Answers every request with the status in ``server.status`` and an OpenAI-style error body."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"error": {"message": "model 'nope' not found", "type": "invalid_request_error"}}).encode()
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("status,expected", [(404, "HTTP 404 for model 'nope'"), (401, "refused the API key")])
def test_error_answers_are_reported(status, expected):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _ErrorHandler)
    srv.status = status
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        be = OpenAIBackend(http_spec(f"http://127.0.0.1:{srv.server_port}/v1", "nope", max_retries=0))
        with pytest.raises(LLMUnavailable, match=expected) as e:
            be.generate([ChatRequest.of(None, "hi")])
        assert f"127.0.0.1:{srv.server_port}" in str(e.value)
        if status == 404:
            assert be.check() == []  # answering, just without a model list: still reachable
        else:
            with pytest.raises(LLMUnavailable, match="OPENAI_API_KEY"):
                be.check()
    finally:
        srv.shutdown()
        srv.server_close()
