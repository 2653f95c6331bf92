"""Explanations for the test pairs from a (fine-tuned) model.

Every test pair gets its prompt from the pair table (built by
:func:`explainrec.core.explanation_prompt.build_prompt`, the same user turn the model was trained on) and is generated greedily through
the project's LLM layer, so prompts are batched and the answers cached by the
model folder's content hash: a rerun with the same weights generates nothing.
The table keeps the pair's reference explanation beside the generated one, and
the metrics count the explanations that came out with two openings;
scoring is the evaluate stage's work (:mod:`explainrec.evaluation.report`), so
every explainer is scored by the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.errors import InputError
from explainrec.core.explanation_prompt import chat_request, has_two_openings
from explainrec.sft.params import SFTGenerateConfig


def open_model_llm(model: str | Path, params: SFTGenerateConfig, cache_path: str | Path | None = None,
                   name: str = "sft", progress: bool = True, use_cache: bool = True) -> Any:
    """An :class:`~explainrec.llm.LLM` on a local model folder, cached under the folder's content hash
    (no cache with ``use_cache`` false, for timing)."""
    from explainrec.assets.models import folder_identity
    from explainrec.llm import LLMSpec, open_llm

    folder = Path(model)
    if not (folder / "config.json").exists():
        raise InputError(folder, "(folder)", "a transformers model folder with config.json (the sft stage's data/sft/model)")
    spec = LLMSpec(name=name, backend="transformers", model=str(folder), device=params.device, dtype=params.dtype,
                   batch_size=params.batch_size, threads=params.threads, max_new_tokens=params.max_new_tokens,
                   identity=folder_identity(folder))
    return open_llm(spec, cache_path, desc=f"generate ({name})", use_cache=use_cache, progress=progress)


def explain_with_model(llm: Any, pairs: pd.DataFrame, max_new_tokens: int = 96) -> pd.DataFrame:
    """``user_id, item_id, explanation, reference`` for each row of a pair table (its ``prompt``;
    greedy decoding)."""
    requests = [chat_request(p, max_new_tokens=max_new_tokens) for p in pairs["prompt"]]
    outs = llm.chat(requests)
    return pd.DataFrame({
        "user_id": pairs["user_id"].astype(str).to_numpy(),
        "item_id": pairs["item_id"].astype(str).to_numpy(),
        "explanation": [c.text for c in outs],
        "reference": pairs["reference"].astype(str).to_numpy(),
    })


def run_generate(model: str | Path, profiles: str | Path, targets_dir: str | Path,
                 out: str | Path, params: SFTGenerateConfig, targets: str = "cpeg",
                 include_unverified: bool = False, cache_path: str | Path | None = None,
                 progress: bool = True, items: str | Path | None = None,
                 target_form: str = "as_written") -> dict[str, Any]:
    """Generate an explanation for every test pair with a reference, write
    ``out/explanations.parquet`` (user_id, item_id, explanation, reference) and return
    the generation statistics (pairs, empty answers, LLM calls, tokens, seconds).

    ``targets`` and ``include_unverified`` (the ``sft`` section's) decide which
    references there are, exactly as for training, ``items`` (the sft section's
    ``item_names``) whose titles the prompts carry and ``target_form`` how the targets
    were put in shape (for the statistics; the references stay as written); ``out``
    should be a temporary folder.
    """
    import time

    from explainrec.core.explanation_pairs import load_sft_data

    t0 = time.perf_counter()
    data = load_sft_data(profiles, targets_dir, targets, include_unverified, params.user_layer, params.item_layer,
                         items, target_form)
    data.require("test")
    llm = open_model_llm(model, params, cache_path, progress=progress)
    table = explain_with_model(llm, data.test, params.max_new_tokens)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out / "explanations.parquet", index=False)
    metrics: dict[str, Any] = {"pairs": len(table), "targets": targets,
                               "empty_explanations": int((table["explanation"].str.strip() == "").sum()),
                               "two_openings": int(table["explanation"].map(has_two_openings).sum()),
                               "max_new_tokens": params.max_new_tokens}
    metrics["llm"] = llm.stats.as_metrics()
    metrics["data"] = data.stats
    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    return metrics
