"""Generation throughput: the papers' one-prompt loop vs the project's backends, same prompts, one run.

    python bench/llm_throughput.py                      # the default LLM from `dvc repro assets_llm`
    python bench/llm_throughput.py --model PATH --n 32 --max-new-tokens 64 --batch-size 32 --json out.json
    python bench/llm_throughput.py --no-server          # only the in-process modes

Modes (greedy decoding, the same ``--n`` prompts, ``--max-new-tokens`` each):

(a)   plain transformers written out here, as the papers' reference loops do it:
      ``AutoTokenizer`` + ``AutoModelForCausalLM`` in float32, ``apply_chat_template``,
      one ``model.generate`` per prompt. It does not touch the project's code.
(b)   the project's default local backend: ``TransformersBackend`` with ``dtype="auto"``
      (bfloat16 on CPUs with AMX, else float32) through ``explainrec.llm.LLM`` without a
      cache: dedupe, length-sorted batches of ``--batch-size``, left padding.
(b32) the same backend forced to float32: (b32)/(a) is what batching gives, (b)/(b32)
      what bfloat16 gives. Greedy float32 batched decoding should reproduce (a) exactly;
      the identical-output counts say whether it does.
(b0)  (b32) without prefix reuse and with finished rows decoding padding to the end, as
      ``model.generate`` does: (b32)/(b0) is what those two give, and (b0)'s outputs
      must equal (b32)'s (counted).
(c)   the project's OpenAI-compatible backend (``OpenAIBackend``, ``--concurrency``
      threads) against ``transformers serve <model> --continuous-batching`` on
      127.0.0.1, started here and always stopped again (skipped with a reason when
      ``transformers serve`` is unavailable, or with ``--no-server``).
(d)   the same backend against llama.cpp's server (``llama_cpp.server``), when the
      ``llama_cpp`` package is importable and a GGUF file is at hand (``--gguf``, or a
      ``*.gguf`` in the model folder); skipped with a reason otherwise.

Every mode is warmed up once (a short prompt) before it is timed; load time is not
counted. Only really generated tokens count (no padding, no end-of-sequence token;
for (c)/(d) the server's ``usage.completion_tokens``). Each mode's model is freed
before the next one loads, so the bench's peak RSS is that of its largest mode.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

DEFAULT_MODEL = "data/assets/llm/model"
TITLES = ["Toy Story", "Heat", "Fargo", "Casablanca", "Alien", "Babe", "Clueless", "Braveheart", "Se7en",
          "Apollo 13", "The Usual Suspects", "Jumanji", "Twelve Monkeys", "Sense and Sensibility", "Vertigo",
          "Star Wars", "Contact", "Scream", "Titanic", "L.A. Confidential", "Good Will Hunting", "Men in Black"]
GENRES = ["Animation", "Crime", "Drama", "Romance", "Sci-Fi", "Comedy", "Thriller", "War", "Documentary"]
SYSTEM = "You are a recommender system that explains its suggestions in plain language."
WARM_UP = (SYSTEM, "Say hello.")

MODES = ("a", "b", "b32", "b0", "c", "d")
LABELS = {
    "a": "plain transformers, one at a time",
    "b": "explainrec local, batched",
    "b32": "explainrec local, batched",
    "b0": "explainrec local, batched, no prefix reuse, no row dropping",
    "c": "explainrec openai -> transformers serve",
    "d": "explainrec openai -> llama.cpp server",
}


def bench_prompts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct (system, user) prompts: summarise a short synthetic rating history."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.randint(3, 8)
        history = "; ".join(
            f"{t} ({rng.choice(GENRES)}) rated {rng.randint(1, 5)}/5" for t in rng.sample(TITLES, k)
        )
        age = rng.randint(18, 65)
        out.append((SYSTEM, f"User {i}, aged {age}, watched: {history}. "
                            "Summarise this user's taste in two sentences."))
    return out


@dataclass
class ModeResult:
    """One mode's outputs and timing (``skipped`` holds the reason when it did not run)."""

    mode: str
    label: str
    texts: list[str] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    seconds: float = 0.0
    load_s: float = 0.0
    dtype: str = ""
    detail: str = ""
    skipped: str | None = None
    server_peak_rss_mib: float | None = None
    server_rss_source: str = ""

    @property
    def tokens(self) -> int:
        return sum(self.completion_tokens)

    @property
    def tok_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def _threads(threads: int) -> int:
    return threads or os.cpu_count() or 1


# -- (a): the papers' loop, plain transformers ---------------------------------------------------
def run_plain(model: str, prompts: Sequence[tuple[str, str]], max_new_tokens: int, threads: int) -> ModeResult:
    """One ``model.generate`` per prompt, float32, greedy; written against transformers only."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(_threads(threads))
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model)
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
    load_s = time.perf_counter() - t0
    gen_eos = lm.generation_config.eos_token_id
    eos = set(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
    if tok.eos_token_id is not None:
        eos.add(tok.eos_token_id)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def one(system: str, user: str, n_new: int) -> tuple[str, int]:
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        enc = tok(text, return_tensors="pt", add_special_tokens=False)  # the template has its special tokens
        with torch.no_grad():
            out = lm.generate(**enc, max_new_tokens=n_new, do_sample=False, pad_token_id=pad,
                              temperature=None, top_p=None, top_k=None)
        new = out[0, enc["input_ids"].shape[1]:].tolist()
        n = next((i for i, t in enumerate(new) if t in eos), len(new))
        return tok.decode(new[:n], skip_special_tokens=True).strip(), n

    one(*WARM_UP, 4)
    texts, counts = [], []
    t0 = time.perf_counter()
    for system, user in prompts:
        text, n = one(system, user, max_new_tokens)
        texts.append(text)
        counts.append(n)
    seconds = time.perf_counter() - t0
    del lm, tok
    gc.collect()
    return ModeResult("a", LABELS["a"], texts, counts, seconds, load_s, "float32", "")


# -- (b) / (b32): the project's local backend -----------------------------------------------------
def _requests(prompts: Sequence[tuple[str, str]], max_new_tokens: int) -> list[Any]:
    from explainrec.llm import ChatRequest

    return [ChatRequest.of(s, u, max_new_tokens=max_new_tokens) for s, u in prompts]


def run_backend(model: str, prompts: Sequence[tuple[str, str]], max_new_tokens: int, batch_size: int,
                threads: int, dtype: str, mode: str, **spec_extra: Any) -> ModeResult:
    """The project's ``TransformersBackend`` through ``LLM.chat`` (no cache), on the CPU."""
    from explainrec.llm import LLM, ChatRequest, LLMSpec
    from explainrec.llm.local import TransformersBackend

    spec = LLMSpec(name="bench", backend="transformers", model=model, dtype=dtype, device="cpu",
                   batch_size=batch_size, threads=threads, **spec_extra)
    t0 = time.perf_counter()
    backend = TransformersBackend(spec)
    load_s = time.perf_counter() - t0
    LLM(backend, None, progress=False).chat([ChatRequest.of(*WARM_UP, max_new_tokens=4)])
    llm = LLM(backend, None, desc=mode, progress=False)
    t0 = time.perf_counter()
    outs = llm.chat(_requests(prompts, max_new_tokens))
    seconds = time.perf_counter() - t0
    resolved = str(backend.dtype).replace("torch.", "")
    res = ModeResult(mode, LABELS[mode], [c.text for c in outs], [c.completion_tokens for c in outs], seconds,
                     load_s, resolved, f"batch {batch_size}, identity ...|{backend.identity.rsplit('|', 1)[-1]}")
    del backend, llm
    gc.collect()
    return res


# -- (c) / (d): an OpenAI-compatible server in a subprocess ----------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def transformers_serve_unavailable() -> str | None:
    """Why ``transformers serve`` cannot run here, or None when it can."""
    for mod in ("fastapi", "uvicorn"):
        if importlib.util.find_spec(mod) is None:
            return f"`transformers serve` needs {mod} (pip install 'transformers[serving]')"
    try:
        if importlib.util.find_spec("transformers.cli.transformers") is None:
            return "this transformers version has no `transformers serve` CLI"
    except ModuleNotFoundError:
        return "transformers is not installed"
    return None


def llama_cpp_unavailable(gguf: str | None) -> str | None:
    """Why llama.cpp's server cannot run here, or None when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "the llama_cpp package is not installed (pip install 'llama-cpp-python[server]'); not installed by this bench"
    if not gguf or not Path(gguf).is_file():
        return "llama_cpp is installed but there is no GGUF file: pass --gguf PATH"
    return None


def _peak_rss_of(pid: int) -> float | None:
    """VmHWM (the kernel's peak resident set) of a live process, in MiB; None where /proc has none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Server:
    """An OpenAI-compatible server in a subprocess bound to 127.0.0.1; a context manager that
    waits until ``health_url`` answers (bounded) and always stops the process again."""

    def __init__(self, argv: list[str], health_path: str, port: int, timeout_s: float, env: dict[str, str],
                 log_dir: Path):
        self.argv, self.port, self.timeout_s, self.env = argv, port, timeout_s, env
        self.base = f"http://127.0.0.1:{port}"
        self.health_url = self.base + health_path
        self.log_path = log_dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.peak_rss_mib: float | None = None
        self.rss_source = ""

    def log_tail(self, n: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> "Server":
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
                try:
                    with urllib.request.urlopen(self.health_url, timeout=2) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not answering {self.health_url} after {self.timeout_s:g} s: "
                                       f"{self.log_tail()}")
                time.sleep(0.3)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            self.peak_rss_mib = _peak_rss_of(proc.pid)
            self.rss_source = "VmHWM" if self.peak_rss_mib is not None else ""
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
        if self.peak_rss_mib is None:
            # the largest waited-for child of this process: the server, when it is the only one
            self.peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            self.rss_source = "RUSAGE_CHILDREN"
        self.proc = None
        self._log.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_served(mode: str, argv_for: Callable[[int], list[str]], health_path: str, served_model: str,
               prompts: Sequence[tuple[str, str]], max_new_tokens: int, concurrency: int, threads: int,
               timeout_s: float) -> ModeResult:
    """Start the server, warm it up, time ``LLM.chat`` through the project's ``OpenAIBackend``, stop it."""
    from explainrec.llm import LLM, ChatRequest, LLMSpec
    from explainrec.llm.http import OpenAIBackend

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        (Path(tmp) / "hub").mkdir()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(Path(tmp) / "hub"),
               "OMP_NUM_THREADS": str(_threads(threads))}
        port = free_port()
        server = Server(argv_for(port), health_path, port, timeout_s, env, Path(tmp))
        t0 = time.perf_counter()
        with server:
            spec = LLMSpec(name="bench-served", backend="openai", model=served_model, base_url=f"{server.base}/v1",
                           concurrency=concurrency, max_retries=1, timeout_s=600.0)
            backend = OpenAIBackend(spec)
            LLM(backend, None, progress=False).chat([ChatRequest.of(*WARM_UP, max_new_tokens=4)])
            load_s = time.perf_counter() - t0
            llm = LLM(backend, None, desc=mode, progress=False)
            t0 = time.perf_counter()
            outs = llm.chat(_requests(prompts, max_new_tokens))
            seconds = time.perf_counter() - t0
        return ModeResult(mode, LABELS[mode], [c.text for c in outs], [c.completion_tokens for c in outs], seconds,
                          load_s, "", f"concurrency {concurrency}", None, server.peak_rss_mib, server.rss_source)


def run_transformers_serve(model: str, prompts: Sequence[tuple[str, str]], max_new_tokens: int, concurrency: int,
                           threads: int, timeout_s: float) -> ModeResult:
    folder = str(Path(model).resolve())

    def argv(port: int) -> list[str]:
        return [sys.executable, "-m", "transformers.cli.transformers", "serve", folder, "--host", "127.0.0.1",
                "--port", str(port), "--device", "cpu", "--continuous-batching"]

    res = run_served("c", argv, "/health", folder, prompts, max_new_tokens, concurrency, threads, timeout_s)
    res.dtype = "auto (weights)"
    return res


def run_llama_cpp(gguf: str, prompts: Sequence[tuple[str, str]], max_new_tokens: int, concurrency: int,
                  threads: int, timeout_s: float) -> ModeResult:
    path = str(Path(gguf).resolve())

    def argv(port: int) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", path, "--host", "127.0.0.1",
                "--port", str(port), "--n_threads", str(_threads(threads)), "--n_ctx", "4096"]

    res = run_served("d", argv, "/v1/models", path, prompts, max_new_tokens, concurrency, threads, timeout_s)
    res.dtype = "gguf"
    return res


# -- the whole bench -------------------------------------------------------------------------------
def find_gguf(model: str, gguf: str | None) -> str | None:
    if gguf:
        return gguf
    found = sorted(Path(model).glob("*.gguf"))
    return str(found[0]) if found else None


def run_bench(model: str, n: int = 32, max_new_tokens: int = 64, batch_size: int = 32, threads: int = 0,
              server: bool = True, concurrency: int = 16, gguf: str | None = None, server_timeout_s: float = 180.0,
              log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run every mode on the same prompts; return the report (see :func:`report_lines`)."""
    prompts = bench_prompts(n)
    results: dict[str, ModeResult] = {}
    log("(a) ...")
    results["a"] = run_plain(model, prompts, max_new_tokens, threads)
    log("(b32) ...")
    results["b32"] = run_backend(model, prompts, max_new_tokens, batch_size, threads, "float32", "b32")
    log("(b) ...")
    results["b"] = run_backend(model, prompts, max_new_tokens, batch_size, threads, "auto", "b")
    log("(b0) ...")
    results["b0"] = run_backend(model, prompts, max_new_tokens, batch_size, threads, "float32", "b0",
                                prefix_cache_mb=0, drop_finished=False)
    bench_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    why = "--no-server was given" if not server else transformers_serve_unavailable()
    if why is None:
        log("(c) ...")
        try:
            results["c"] = run_transformers_serve(model, prompts, max_new_tokens, concurrency, threads,
                                                  server_timeout_s)
        except Exception as e:  # noqa: BLE001 - a server that fails is reported, the rest still counts
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            results["c"] = ModeResult("c", LABELS["c"], skipped=f"failed: {type(e).__name__}: {first}")
    else:
        results["c"] = ModeResult("c", LABELS["c"], skipped=why)

    gguf = find_gguf(model, gguf)
    why = "--no-server was given" if not server else llama_cpp_unavailable(gguf)
    if why is None:
        log("(d) ...")
        try:
            results["d"] = run_llama_cpp(gguf, prompts, max_new_tokens, concurrency, threads, server_timeout_s)
        except Exception as e:  # noqa: BLE001
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            results["d"] = ModeResult("d", LABELS["d"], skipped=f"failed: {type(e).__name__}: {first}")
    else:
        results["d"] = ModeResult("d", LABELS["d"], skipped=why)

    a = results["a"]
    modes: dict[str, Any] = {}
    for m in MODES:
        r = results[m]
        d = {k: v for k, v in asdict(r).items() if k not in ("texts", "completion_tokens")}
        if r.skipped is None:
            d.update(tokens=r.tokens, tok_s=r.tok_s, ratio_to_a=r.tok_s / a.tok_s if a.tok_s else None,
                     identical_to_a=sum(x == y for x, y in zip(a.texts, r.texts)))
        modes[m] = d
    server_rss = [results[m].server_peak_rss_mib for m in ("c", "d") if results[m].server_peak_rss_mib is not None]
    from explainrec.llm.machine import machine_facts

    return {
        "machine": machine_facts("cpu", "float32"),
        "model": model, "prompts": n, "max_new_tokens": max_new_tokens, "batch_size": batch_size,
        "threads": _threads(threads), "concurrency": concurrency,
        "prompt_chars_mean": sum(len(s) + len(u) for s, u in prompts) / max(1, n),
        "modes": modes,
        "bench_peak_rss_mib": bench_rss,
        "server_peak_rss_mib": max(server_rss) if server_rss else None,
        "texts": {m: results[m].texts for m in MODES if results[m].skipped is None},
    }


def report_lines(r: dict[str, Any]) -> list[str]:
    """The printed report: a header, one line per mode, the ratios, the memory."""
    mach = r["machine"]
    lines = [f"machine: {mach['cpu']}, AMX {'yes' if mach['amx'] else 'no'}, {mach['cores']} cores",
             f"model {r['model']} on cpu, {r['threads']} threads; {r['prompts']} prompts "
             f"(mean {r['prompt_chars_mean']:.0f} chars), max_new_tokens {r['max_new_tokens']}, greedy"]
    n = r["prompts"]
    for m in MODES:
        d = r["modes"][m]
        head = f"({m})".ljust(6) + f"{d['label']}"
        if d.get("dtype"):
            head += f", {d['dtype']}"
        if d.get("detail"):
            head += f" ({d['detail']})"
        head = head.ljust(78)
        if d["skipped"] is not None:
            lines.append(f"{head}: skipped: {d['skipped']}")
            continue
        ratio = f"{d['ratio_to_a']:5.2f}x (a)" if d["ratio_to_a"] is not None else "   n/a"
        lines.append(f"{head}: {d['tokens']:6d} tokens in {d['seconds']:7.2f} s = {d['tok_s']:7.1f} tok/s "
                     f"= {ratio}; identical to (a): {d['identical_to_a']}/{n}")
    mo = r["modes"]
    if mo["b32"]["skipped"] is None and mo["b"]["skipped"] is None and mo["b32"]["tok_s"]:
        lines.append(f"(b)/(a) {mo['b']['ratio_to_a']:.2f}x = batching (b32)/(a) {mo['b32']['ratio_to_a']:.2f}x "
                     f"* dtype (b)/(b32) {mo['b']['tok_s'] / mo['b32']['tok_s']:.2f}x ({mo['b']['dtype']})")
    if mo["b0"]["skipped"] is None and mo["b32"]["skipped"] is None and mo["b0"]["tok_s"]:
        same = sum(x == y for x, y in zip(r["texts"]["b0"], r["texts"]["b32"]))
        lines.append(f"(b32)/(b0) {mo['b32']['tok_s'] / mo['b0']['tok_s']:.2f}x = prefix reuse + finished rows "
                     f"leaving the batch, float32; identical outputs (b32) vs (b0): {same}/{n}")
    servers = ", ".join(f"({m}) {mo[m]['server_peak_rss_mib']:.0f} MiB" for m in ("c", "d")
                        if mo[m].get("server_peak_rss_mib") is not None)
    lines.append(f"peak RSS: bench process {r['bench_peak_rss_mib']:.0f} MiB (largest in-process mode); "
                 f"server process {servers or 'n/a (no server ran)'}")
    return lines


@click.command()
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="local model folder")
@click.option("--n", "n", default=32, show_default=True, help="number of distinct prompts")
@click.option("--max-new-tokens", default=64, show_default=True)
@click.option("--batch-size", default=32, show_default=True, help="prompts per generate call in (b), (b32)")
@click.option("--threads", default=0, show_default=True, help="CPU threads, for torch and the server (0 = all cores)")
@click.option("--concurrency", default=16, show_default=True, help="concurrent HTTP requests in (c), (d)")
@click.option("--no-server", is_flag=True, help="skip (c) and (d)")
@click.option("--gguf", default=None, help="GGUF file for (d) (default: a *.gguf in the model folder)")
@click.option("--server-timeout", default=180.0, show_default=True, help="seconds to wait for a server to answer")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the numbers (and every mode's outputs) as JSON here")
def main(model: str, n: int, max_new_tokens: int, batch_size: int, threads: int, concurrency: int, no_server: bool,
         gguf: str | None, server_timeout: float, json_path: Path | None) -> None:
    if not Path(model).is_dir():
        if model == DEFAULT_MODEL:
            sys.exit(f"no model folder at {DEFAULT_MODEL}: run `dvc repro assets_llm` first (or pass --model)")
        sys.exit(f"no model folder at {model}")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars; the report goes to stdout anyway
    r = run_bench(model, n, max_new_tokens, batch_size, threads, server=not no_server, concurrency=concurrency,
                  gguf=gguf, server_timeout_s=server_timeout, log=lambda s: click.echo(s, err=True))
    for line in report_lines(r):
        click.echo(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(r, indent=2) + "\n")


if __name__ == "__main__":
    main()
