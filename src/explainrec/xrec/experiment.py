"""The XRec adapter and generation stages' work (the graph's is :mod:`explainrec.xrec.gnn_tables`).

``load_pairs`` gives both stages the SFT data's pairs with XRec's targets. ``run_moe`` builds the Fig. 2 prompts and targets, loads the frozen
LLM and trains the adapters. ``run_adapter_generation`` writes the test pairs' explanations and
their sparsity bucket.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainrec.core.errors import InputError
from explainrec.core.explanation_pairs import PairSource
from explainrec.xrec.data import ExplainerConfig, assign_buckets, resolve_targets, review_table, xrec_request
from explainrec.xrec.gnn_tables import Graph
from explainrec.xrec.moe import Adapters, MoEConfig

ADAPTERS_FILE, SETTINGS_FILE = "adapters.pt", "settings.json"
EXPLANATIONS_FILE, BUCKETS_FILE = "explanations.parquet", "buckets.parquet"


# --- pairs -------------------------------------------------------------------------
@dataclass
class XRecPairs:
    """Train pairs (with ``target``) and test pairs (with ``reference``) of the SFT data, and counts."""

    train: pd.DataFrame
    test: pd.DataFrame
    stats: dict[str, Any]


def load_pairs(profiles: str | Path, targets_dir: str | Path, splits: str | Path, filtered: str | Path, graph: Graph,
               explainer: ExplainerConfig, source: PairSource, llm_json: str | Path | None,
               rewrite_max_new_tokens: int = 80, train_targets: bool = True) -> XRecPairs:
    """The SFT explainer's pairs for XRec (``source``: the targets, profile layers and target form
    it shares with SFT): zero-shot users' train pairs dropped, pairs whose user or item has no
    graph row dropped, and the train targets as ``explainer.targets`` says (rewritten reviews only
    with ``train_targets``)."""
    from explainrec.core.explanation_pairs import load_sft_data, read_item_names

    sft_targets = source.targets
    data = load_sft_data(profiles, targets_dir, sft_targets, source.include_unverified, source.user_layer,
                         source.item_layer, target_form=source.target_form)
    data.require("test")
    train, test = data.train.copy(), data.test.copy()
    stats: dict[str, Any] = {"sft_train_pairs": len(train), "sft_test_pairs": len(test)}
    train = train[~train["user_id"].isin(graph.zero_shot)]
    stats["train_left_out_zero_shot"] = stats["sft_train_pairs"] - len(train)
    reviews = review_table(splits)
    targets = resolve_targets(explainer.targets, sft_targets, any(k in reviews for k in
                                                                    zip(train["user_id"], train["item_id"])))
    if targets in ("cpeg", "reference") and targets != sft_targets:
        raise InputError(targets_dir, "targets", f"the {targets} targets, but sft.targets is {sft_targets} and XRec "
                         f"learns the SFT explainer's targets; set sft.targets: {targets} or xrec.explainer.targets: auto")
    if targets == "rewrite" and train_targets:
        train = _rewritten(train, reviews, llm_json, rewrite_max_new_tokens)
    stats["targets"] = targets
    for name, df in (("train", train), ("test", test)):
        ok = df["user_id"].isin(graph.users.keys()) & df["item_id"].isin(graph.items.keys())
        stats[f"{name}_left_out_no_embedding"] = int((~ok).sum())
        df.drop(index=df.index[~ok], inplace=True)
    if train.empty:
        raise InputError(targets_dir, "explanation", "at least one train pair of a seen user with a target", "none")
    names = read_item_names(Path(filtered) / "items.parquet")
    for df in (train, test):
        df["title"] = df["item_id"].map(lambda i: names.get(i, (None, None))[0])
    stats.update({"train_pairs": len(train), "test_pairs": len(test),
                  "zero_shot_test_pairs": int(test["user_id"].isin(graph.zero_shot).sum())})
    return XRecPairs(train.reset_index(drop=True), test.reset_index(drop=True), stats)


def _rewritten(train: pd.DataFrame, reviews: dict[tuple[str, str], str], llm_json: str | Path | None,
               max_new_tokens: int) -> pd.DataFrame:
    """Eq. 14: the train pairs' reviews rewritten by the llm (through the cached LLM layer)."""
    from explainrec.core.rewrite import rewrite_reviews
    from explainrec.llm import open_llm

    if llm_json is None:
        raise InputError("xrec.explainer.targets", "targets", "an llm to rewrite the reviews", "none")
    llm = open_llm(llm_json, desc="xrec rewrite")
    table = rewrite_reviews(llm, train, reviews, max_new_tokens)
    got = {(u, i): e for u, i, e in zip(table["user_id"], table["item_id"], table["explanation"]) if str(e).strip()}
    keep = train[[k in got for k in zip(train["user_id"], train["item_id"])]].copy()
    keep["target"] = [got[k] for k in zip(keep["user_id"], keep["item_id"])]
    return keep


def requests_for(table: pd.DataFrame, explainer: ExplainerConfig, dataset_format: str | None,
                 max_new_tokens: int) -> list[Any]:
    return [xrec_request(explainer, dataset_format, t, up, ip, max_new_tokens)
            for t, up, ip in zip(table["title"], table["user_profile"], table["item_profile"])]


def vectors(graph: Graph, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return (np.stack([graph.users[u] for u in table["user_id"]]).astype(np.float32),
            np.stack([graph.items[i] for i in table["item_id"]]).astype(np.float32))


# --- moe -------------------------------------------------------------------------------
def moe_checkpoint(name: str, lm: Any, adapters: Adapters, data: dict[str, list[Any]], explainer: ExplainerConfig,
                   moe: MoEConfig, train_cfg: Any, seed: int) -> Any:
    """The adapters' training checkpoint, ``<name>/<key>``: the key is a fingerprint of the settings,
    the seed, the frozen LLM's identity, the adapters' initial weights, the train and test
    examples (token ids and graph vectors) and the number of processes."""
    from explainrec.core import launch
    from explainrec.core.checkpoints import Checkpoint, fingerprint, state_digest
    from explainrec.xrec.train import CHECKPOINT_FORMAT, examples_digest

    key = fingerprint("xrec.moe", CHECKPOINT_FORMAT, asdict(explainer), asdict(moe), asdict(train_cfg), int(seed),
                      lm.identity, lm.hidden, state_digest(adapters.state_dict()), examples_digest(data["train"]),
                      examples_digest(data["test"]), launch.world_size())
    return Checkpoint(name, key)


def run_moe(pairs: XRecPairs, graph: Graph, spec: Any, explainer: ExplainerConfig, moe: MoEConfig, train_cfg: Any,
            dataset_format: str | None, seed: int, out: str | Path, progress: bool = True,
            variant: str | None = None, live: Any = None) -> dict[str, Any]:
    """Train the user and item adapters on ``pairs.train``; writes ``adapters.pt`` and ``settings.json``;
    the per-step curves go to ``live`` (a :class:`dvclive.Live` on process 0, see
    :func:`~explainrec.xrec.train.train_adapters`); returns the metrics (``resumed_from``: the step a
    checkpoint gave).

    Training checkpoints after every step under ``$EXPLAINREC_CACHE/checkpoints/xrec_moe[/<variant>]``
    (:func:`moe_checkpoint`), so a killed run resumes there; the checkpoint is removed once the
    outputs are written to ``out`` (the stage's temporary folder, renamed into place afterwards: a
    kill between the two costs a retraining, never a wrong output)."""
    import torch

    from explainrec.core import launch
    from explainrec.xrec.frozen import load_frozen
    from explainrec.xrec.train import examples, train_adapters

    t0 = time.perf_counter()
    lm = load_frozen(spec)
    torch.manual_seed(seed)
    adapters = Adapters(graph.dim, lm.hidden, moe)
    reqs = {s: requests_for(getattr(pairs, s), explainer, dataset_format, 128) for s in ("train", "test")}
    texts = {"train": pairs.train["target"].tolist(), "test": pairs.test["reference"].tolist()}
    data = {s: examples(lm, reqs[s], texts[s], *vectors(graph, getattr(pairs, s)), train_cfg.max_length)
            for s in ("train", "test")}
    checkpoint = moe_checkpoint(f"xrec_moe/{variant}" if variant else "xrec_moe", lm, adapters, data, explainer, moe,
                                train_cfg, seed)
    result = train_adapters(lm, adapters, data["train"], data["test"], train_cfg, explainer.inject_all_layers,
                            seed, progress, checkpoint=checkpoint, keep_checkpoint=True, live=live)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(adapters.state_dict(), out / ADAPTERS_FILE)
    settings = {"d_graph": graph.dim, "hidden": lm.hidden, "moe": asdict(moe), "explainer": asdict(explainer),
                "base_identity": lm.identity}
    (out / SETTINGS_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    if launch.is_main():
        checkpoint.clear()
    losses = [s["train_loss"] for s in result["steps"]]
    n_train = sum(p.numel() for p in adapters.parameters())
    return {"pairs": pairs.stats, "adapter_parameters": int(n_train), "hidden": lm.hidden, "steps": len(losses),
            "train_loss_first": losses[0] if losses else None, "train_loss_last": losses[-1] if losses else None,
            "test_nll_before": _round(result["test_nll_before"]), "test_nll_after": _round(result["test_nll_after"]),
            "base_parameters_with_grad": result["base_parameters_with_grad"],
            "prompt_tokens_mean": round(float(np.mean([len(e.ids) for e in data["train"]])), 1),
            "inject_all_layers": explainer.inject_all_layers, "profiles": explainer.profiles,
            "machine": lm.backend.machine, "resumed_from": result["resumed_from"],
            "seconds": round(time.perf_counter() - t0, 2)}


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 5)


def load_adapters(folder: str | Path) -> tuple[Adapters, dict[str, Any]]:
    """The moe stage's adapters and settings."""
    import torch

    folder = Path(folder)
    for name in (ADAPTERS_FILE, SETTINGS_FILE):
        if not (folder / name).exists():
            raise InputError(folder / name, "(file)", "the adapters the xrec_moe stage writes; run `dvc repro xrec_moe`")
    settings = json.loads((folder / SETTINGS_FILE).read_text())
    adapters = Adapters(settings["d_graph"], settings["hidden"], MoEConfig(**settings["moe"]))
    adapters.load_state_dict(torch.load(folder / ADAPTERS_FILE, weights_only=True))
    return adapters.eval(), settings


# --- generate ------------------------------------------------------------------------
def run_adapter_generation(pairs: XRecPairs, graph: Graph, spec: Any, adapters_dir: str | Path, explainer: ExplainerConfig,
                 gen: Any, buckets: int, dataset_format: str | None, out: str | Path,
                 cache_path: str | Path | None = None, progress: bool = True,
                 buckets_by: str = "users") -> dict[str, Any]:
    """Explanations for ``pairs.test``; writes ``explanations.parquet`` (user_id, item_id, explanation,
    reference) and ``buckets.parquet`` (user_id, item_id, bucket, train_interactions; ``buckets``
    groups by ``buckets_by``, :func:`explainrec.xrec.data.assign_buckets`)."""
    from explainrec.xrec.frozen import load_frozen
    from explainrec.xrec.generate import generate_explanations

    t0 = time.perf_counter()
    adapters, settings = load_adapters(adapters_dir)
    lm = load_frozen(spec)
    if settings["hidden"] != lm.hidden:
        raise InputError(Path(adapters_dir) / SETTINGS_FILE, "hidden", f"{lm.hidden} (the llm's hidden size)",
                         settings["hidden"])
    test = pairs.test
    reqs = requests_for(test, explainer, dataset_format, gen.max_new_tokens)
    users, items = vectors(graph, test)
    keys = [f"{u}|{i}" for u, i in zip(test["user_id"], test["item_id"])]
    texts, stats = generate_explanations(lm, adapters, users, items, reqs, keys, explainer.inject_all_layers, gen,
                                         graph.content_hash, cache_path, progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame({"user_id": test["user_id"].to_numpy(), "item_id": test["item_id"].to_numpy(),
                          "explanation": texts, "reference": test["reference"].astype(str).to_numpy()})
    table.to_parquet(out / EXPLANATIONS_FILE, index=False)
    b = pd.DataFrame({"user_id": test["user_id"], "item_id": test["item_id"],
                      "bucket": assign_buckets(test, graph.train_counts, graph.zero_shot, buckets, buckets_by),
                      "train_interactions": test["user_id"].map(lambda u: graph.train_counts.get(u, 0))})
    b.to_parquet(out / BUCKETS_FILE, index=False)
    words = table["explanation"].str.split().str.len()
    return {"pairs": len(table), "empty_explanations": int((table["explanation"].str.strip() == "").sum()),
            "mean_words": round(float(words.mean()), 2) if len(table) else None,
            "unique_sentence_ratio": round(table["explanation"].nunique() / max(len(table), 1), 4),
            "buckets": {str(k): int(v) for k, v in b["bucket"].value_counts().sort_index().items()},
            "bucket_users": {str(k): int(v) for k, v in b.groupby("bucket")["user_id"].nunique().sort_index().items()},
            "buckets_by": buckets_by,
            "llm": stats, "inject_all_layers": explainer.inject_all_layers, "profiles": explainer.profiles,
            "max_new_tokens": gen.max_new_tokens, "machine": lm.backend.machine,
            "seconds": round(time.perf_counter() - t0, 2)}
