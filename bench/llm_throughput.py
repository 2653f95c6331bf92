"""Generation throughput of the local backend: one prompt at a time vs batched.

    python bench/llm_throughput.py                      # the default LLM from `dvc repro assets_llm`
    python bench/llm_throughput.py --model PATH --n 32 --max-new-tokens 64 --batch-size 32

Both runs use the same loaded model, greedy decoding and the same prompts;
(b) goes through :class:`explainrec.llm.LLM` without a cache, i.e. dedupe,
length-sorted batches of ``--batch-size`` and left padding. Only really
generated tokens count (no padding, no end-of-sequence token).
"""

from __future__ import annotations

import random
import resource
import sys
import time
from pathlib import Path

import click

DEFAULT_MODEL = "data/assets/llm/model"
TITLES = ["Toy Story", "Heat", "Fargo", "Casablanca", "Alien", "Babe", "Clueless", "Braveheart", "Se7en",
          "Apollo 13", "The Usual Suspects", "Jumanji", "Twelve Monkeys", "Sense and Sensibility", "Vertigo",
          "Star Wars", "Contact", "Scream", "Titanic", "L.A. Confidential", "Good Will Hunting", "Men in Black"]
GENRES = ["Animation", "Crime", "Drama", "Romance", "Sci-Fi", "Comedy", "Thriller", "War", "Documentary"]
SYSTEM = "You are a recommender system that explains its suggestions in plain language."


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


def run_bench(model: str, n: int, max_new_tokens: int, batch_size: int, threads: int) -> dict:
    """Time (a) one prompt per ``generate`` call and (b) batched ``LLM.chat``; return the numbers."""
    import torch
    import transformers  # noqa: F401  (import time is not load time)

    from explainrec.llm import LLM, ChatRequest, LLMSpec
    from explainrec.llm.local import TransformersBackend

    spec = LLMSpec(name="bench", backend="transformers", model=model, batch_size=batch_size, threads=threads)
    t0 = time.perf_counter()
    backend = TransformersBackend(spec)
    load_s = time.perf_counter() - t0
    reqs = [ChatRequest.of(s, u, max_new_tokens=max_new_tokens) for s, u in bench_prompts(n)]
    backend.generate([ChatRequest.of(None, "warm up", max_new_tokens=4)])

    t0 = time.perf_counter()
    single = [backend.generate([r])[0] for r in reqs]
    a_s = time.perf_counter() - t0

    llm = LLM(backend, None, desc="batched", progress=False)
    t0 = time.perf_counter()
    batched = llm.chat(reqs)
    b_s = time.perf_counter() - t0

    a_tok = sum(c.completion_tokens for c in single)
    b_tok = sum(c.completion_tokens for c in batched)
    return {
        "model": model, "device": backend.device, "dtype": str(backend.dtype).replace("torch.", ""),
        "threads": torch.get_num_threads(), "prompts": n, "max_new_tokens": max_new_tokens,
        "batch_size": batch_size, "load_s": load_s,
        "prompt_tokens_mean": sum(c.prompt_tokens for c in single) / n,
        "a_tokens": a_tok, "a_s": a_s, "a_tok_s": a_tok / a_s,
        "b_tokens": b_tok, "b_s": b_s, "b_tok_s": b_tok / b_s,
        "identical": sum(x.text == y.text for x, y in zip(single, batched)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


@click.command()
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="local model folder")
@click.option("--n", "n", default=32, show_default=True, help="number of distinct prompts")
@click.option("--max-new-tokens", default=64, show_default=True)
@click.option("--batch-size", default=32, show_default=True, help="prompts per generate call in (b)")
@click.option("--threads", default=0, show_default=True, help="torch CPU threads (0 = all cores)")
def main(model: str, n: int, max_new_tokens: int, batch_size: int, threads: int) -> None:
    if not Path(model).is_dir():
        if model == DEFAULT_MODEL:
            sys.exit(f"no model folder at {DEFAULT_MODEL}: run `dvc repro assets_llm` first (or pass --model)")
        sys.exit(f"no model folder at {model}")
    r = run_bench(model, n, max_new_tokens, batch_size, threads)
    print(f"model {r['model']} on {r['device']} ({r['dtype']}, {r['threads']} threads), loaded in {r['load_s']:.1f} s")
    print(f"{r['prompts']} prompts (mean {r['prompt_tokens_mean']:.0f} prompt tokens), "
          f"max_new_tokens {r['max_new_tokens']}, greedy")
    print(f"(a) one at a time      : {r['a_tokens']:6d} tokens in {r['a_s']:7.2f} s = {r['a_tok_s']:8.1f} tok/s")
    print(f"(b) batched, batch {r['batch_size']:<3d}: {r['b_tokens']:6d} tokens in {r['b_s']:7.2f} s "
          f"= {r['b_tok_s']:8.1f} tok/s")
    print(f"ratio b/a: {r['b_tok_s'] / r['a_tok_s']:.2f}x; identical outputs: {r['identical']}/{r['prompts']}")
    print(f"peak RSS: {r['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
