"""RecPIE's alternation (paper 002 §2, Fig. 1), resumable round by round.

Round r:

(a) the explainer (round 0: the base LLM, LoRA update and soft prompt zero) writes a positive
    and a negative explanation for every train and test pair, cached by content and the
    explainer's state hash; the KL of the round's explainer to the initial one is measured on
    ``kl_pairs`` of them;
(b) the recommender f(x, e) trains on the train pairs' embedded explanations (warm start from
    round r-1's weights with ``warm_start``; the run's seed in every round, so its validation
    slice is the same train pairs each round, never trained on) and is tested: RMSE / MAE on both
    rating scales, the mean reward of the train explanations under it, Coverage of the test
    explanations; the round records the fit's best epoch (0: the warm start's weights were kept)
    and the L2 norm of the weights' change from round r-1's;
(c) unless it is the last round (``rl_on_last_round``), the explainer is updated by GRPO with the
    reward r(e) = 1 / (1 + |y - f(x, e)|), e the new explanation in place of the round's one of its
    kind (:mod:`explainrec.recpie.rl` says why GRPO stands in for the paper's PPO). The reward is
    computed on train pairs, which f was just fitted on: the paper's loop has no other labelled
    pairs (its only split is 80:20 train/test; the test pairs never enter the RL data or f's fit);
(d) E_c, the user table learned in (b), is the soft prompt of round r+1 (it is set before (c),
    so the RL step trains the projection on it).

Each round's state (explainer LoRA + projection + E_c, recommender weights, the autoencoder for
that encoder, explanations, metrics) is written atomically to ``<state>/<fingerprint>/round_<r>``
once the round is complete. A rerun skips every complete round and continues from the last one's
state; the fingerprint covers the inputs and every setting except ``rounds``, so raising
``rounds`` continues a finished run and any other change starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from explainrec.core.errors import ExplainrecError, InputError
from explainrec.core.io import atomic_dir, write_json, write_parquet
from explainrec.core.recommender.encoded import encode_pairs
from explainrec.core.recommender.model import Inputs, ModelConfig
from explainrec.core.domain_prompts import Domain
from explainrec.core.recommender.train import TrainConfig, predict, regression_metrics, targets
from explainrec.recpie import explainer as ex
from explainrec.recpie.aspects import aspect_texts, coverage, derive_aspects
from explainrec.recpie.config import RecPIEConfig
from explainrec.recpie.recommender import (TextEmbedder, fit_recommender, load_state, save_recommender, user_table,
                                           validation_rows, weight_change, with_explanations)
from explainrec.core.seeding import stable_rng
from explainrec.recpie.rl import grpo_update, reward

ROUND_METRICS, EXPLANATIONS_FILE, AUTOENCODER_DIR = "metrics.json", "explanations.parquet", "autoencoder"
#: a round's test predictions (pair_id, rating, prediction), kept in its state folder for the result's table
PREDICTIONS_FILE = "predictions.parquet"
#: the columns of :attr:`RecPIEResult.predictions`
PREDICTION_COLUMNS = ("pair_id", "rating", "prediction_round_0", "prediction_last")
#: the name of the RL step's checkpoints (explainrec.core.checkpoints; see explainrec.recpie.rl)
GRPO_CHECKPOINT = "recpie_grpo"


@dataclass
class RecPIEData:
    """What the alternation reads: the LR-Recsys pairs (capped here), each item's prompt text
    (title and profile, :func:`explainrec.lrrecsys.explain.item_texts`), the domain words, the
    LR-Recsys prompt style and wording (for ``explainer.template: lrrecsys``) and the pairs'
    reviews (``{pair_id: review}``, :func:`explainrec.recpie.aspects.pair_reviews`; only for the
    aspect terms of Coverage)."""

    pairs: pd.DataFrame
    texts: Mapping[str, str]
    domain: Domain
    style: str = "zero_shot"
    prompt: str = "contrastive"
    reviews: Mapping[str, str] | None = None


@dataclass
class RecPIEResult:
    rounds: list[dict[str, Any]]
    explanations: pd.DataFrame  # the last round's (pair_id, split, positive, negative)
    aspects: dict[str, list[str]]  # {test pair_id: aspect terms}
    state: Path
    aspect_sources: dict[str, int] | None = None  # how many test pairs' aspects came from a review / the item text
    # the test pairs' ratings (1..5) and the recommender's predictions of round 0 and of the last round, on the
    # rating scale (1 + 4 y_hat): :data:`PREDICTION_COLUMNS`, one row per test pair, in table order
    predictions: pd.DataFrame | None = None


def cap(pairs: pd.DataFrame, config: RecPIEConfig, seed: int) -> pd.DataFrame:
    """The seeded ``max_train_pairs`` / ``max_test_pairs`` subsets, in table order."""
    from explainrec.core.sampling import cap_pairs

    parts = [cap_pairs(pairs[pairs["split"] == s], n, seed, f"recpie-{s}")
             for s, n in (("train", config.max_train_pairs), ("test", config.max_test_pairs))]
    out = pd.concat(parts, ignore_index=True)
    for s in ("train", "test"):
        if not (out["split"] == s).any():
            raise InputError("pairs", "split", f"at least one {s} pair for RecPIE", "none")
    if (out["split"] == "train").sum() < 2:
        raise InputError("pairs", "split", "at least 2 train pairs for RecPIE", int((out["split"] == "train").sum()))
    return out


def run_fingerprint(data: RecPIEData, pairs: pd.DataFrame, config: RecPIEConfig, model: ModelConfig,
                train: TrainConfig, seed: int, base_identity: str, encoder_identity: str) -> str:
    """sha256 of everything a round's state depends on (not ``rounds``)."""
    items = sorted({i for h in pairs["history"] for i in h} | set(pairs["item_id"]))
    payload = {
        "config": config.fingerprint(), "model": asdict(model), "train": asdict(train), "seed": seed,
        "base": base_identity, "encoder": encoder_identity, "domain": asdict(data.domain),
        "style": data.style, "prompt": data.prompt,
        "pairs": [[str(p), float(r), list(map(str, h))] for p, r, h in zip(pairs["pair_id"], pairs["rating"],
                                                                         pairs["history"])],
        "texts": {i: data.texts.get(i) for i in items},
        "reviews": {p: (data.reviews or {}).get(p) for p in map(str, pairs["pair_id"]) if (data.reviews or {}).get(p)},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _requests(data: RecPIEData, pairs: pd.DataFrame, users: np.ndarray, config: RecPIEConfig,
              positive: bool) -> list[Any]:
    return [ex.explanation_request([data.texts[h] for h in hist], data.texts[item], int(u), positive, data.domain,
                                   data.style, data.prompt, config.explainer)
            for item, hist, u in zip(pairs["item_id"], pairs["history"], users)]


def _complete(folder: Path, needs_rl: bool) -> dict[str, Any] | None:
    """The round's metrics when its folder is complete (and holds the RL step it needs now); a folder
    of an older run without the round's test predictions is not complete."""
    path = folder / ROUND_METRICS
    if not path.exists() or not (folder / PREDICTIONS_FILE).exists():
        return None
    m = json.loads(path.read_text())
    return m if (m.get("rl_steps", 0) > 0 or not needs_rl) else None


def run_recpie(data: RecPIEData, backend: Any, embedder: TextEmbedder,
               config: RecPIEConfig, model_config: ModelConfig, train_config: TrainConfig, seed: int,
               state_dir: str | Path, llm: Any = None, cache_path: str | Path | None = None,
               encoder_identity: str = "", progress: bool = True,
               on_round: Callable[[int, str], None] | None = None) -> RecPIEResult:
    """Run (or continue) ``config.rounds`` rounds; ``backend`` is the base LLM's
    :class:`~explainrec.llm.local.TransformersBackend` (its model changed in place: user tokens, LoRA),
    ``llm`` an :class:`~explainrec.llm.client.LLM` of the same, unchanged base model for the aspect
    terms (None, or ``config.aspects == 0``: no Coverage). ``on_round(r, phase)`` is called
    as each round's phases start ("explain", "recommend", "rl", "save")."""
    if model_config.explanations != "given" or model_config.n_explanations != 2:
        raise ExplainrecError("recpie: the recommender reads the positive and the negative explanation "
                              "(lrrecsys.model with explanations: given, n_explanations: 2)")
    pairs = cap(data.pairs, config, seed)
    missing = sorted(({i for h in pairs["history"] for i in h} | set(pairs["item_id"])) - set(data.texts))
    if missing:
        raise InputError("items", "item_id", "a text for every candidate and history item",
                         got=f"{len(missing)} missing, e.g. {missing[:3]}")
    enc = encode_pairs(pairs, np.zeros((len(pairs), 2, 1), np.float32), model_config.history)
    train_rows = np.flatnonzero((pairs["split"] == "train").to_numpy())
    test_rows = np.flatnonzero((pairs["split"] == "test").to_numpy())
    users = np.zeros(len(pairs), np.int64)
    users[train_rows], users[test_rows] = enc.train.user.numpy(), enc.test.user.numpy()
    root = Path(state_dir) / run_fingerprint(data, pairs, config, model_config, train_config, seed,
                                         str(backend.identity), encoder_identity)[:16]
    aspects: dict[str, list[str]] = {}
    sources = aspect_texts(pairs.iloc[test_rows], data.texts, data.reviews)  # Coverage is on the test pairs
    if config.aspects and llm is not None:  # before the explainer changes the base model
        aspects = derive_aspects(llm, sources, config.aspects, config.aspect_max_new_tokens)
    explainer = ex.build_explainer(backend, enc.n_users, model_config.dim, config.explainer, seed)
    requests = {True: _requests(data, pairs, users, config, True), False: _requests(data, pairs, users, config, False)}
    heads = {k: ex.explanation_head(data.domain, k, config.explainer.person) for k in (True, False)}
    y01_train = targets(enc.train_ratings, "regression")
    phase = on_round or (lambda r, p: None)

    rounds: list[dict[str, Any]] = []
    previous: Path | None = None
    bar = tqdm(range(config.rounds), desc="recpie rounds", unit="round", disable=not progress)
    for r in bar:
        folder = root / f"round_{r}"
        needs_rl = r < config.rounds - 1 or config.rl_on_last_round
        done = _complete(folder, needs_rl)
        if done is not None:
            rounds.append(done)
            previous = folder
            continue
        if previous is not None:
            explainer.load(previous)
        if config.encoder == "autoencoder" and r > 0:
            from explainrec.core.recommender.autoencoder import load_autoencoder

            embedder.autoencoder = load_autoencoder(root / "round_0" / AUTOENCODER_DIR)
        before = load_state(previous) if previous is not None else None
        m = _run_round(r, explainer, embedder, requests, heads, pairs, enc, train_rows, test_rows, y01_train,
                       aspects, config, model_config, train_config, seed, needs_rl,
                       before if config.warm_start else None, cache_path, progress, phase, run_key=root.name,
                       previous_weights=before)
        phase(r, "save")
        with atomic_dir(folder) as tmp:
            explainer.save(tmp)
            save_recommender(m.pop("_model"), tmp)
            if config.encoder == "autoencoder" and r == 0:
                from explainrec.core.recommender.autoencoder import save_autoencoder

                save_autoencoder(embedder.autoencoder, tmp / AUTOENCODER_DIR)
            write_parquet(m.pop("_explanations"), tmp / EXPLANATIONS_FILE)
            write_parquet(m.pop("_predictions"), tmp / PREDICTIONS_FILE)
            write_json(tmp / ROUND_METRICS, m)
        rounds.append(m)
        previous = folder
        bar.set_postfix(rmse=f"{m['rmse']:.4f}", reward=f"{m['reward']:.4f}")
    bar.close()
    last = pd.read_parquet(previous / EXPLANATIONS_FILE) if previous is not None else pd.DataFrame()
    counts = {s: sum(v[0] == s for v in sources.values()) for s in ("review", "item")} if aspects else None
    return RecPIEResult(rounds, last[["pair_id", "split", "positive", "negative"]], aspects, root, counts,
                        round_predictions(root / "round_0", previous) if previous is not None else None)


def round_predictions(first: Path, last: Path) -> pd.DataFrame:
    """The test pairs' table of :data:`PREDICTION_COLUMNS` from two round folders (round 0's and the last)."""
    a, b = (pd.read_parquet(f / PREDICTIONS_FILE) for f in (first, last))
    if list(a["pair_id"]) != list(b["pair_id"]):
        raise ExplainrecError(f"recpie: {first.name} and {last.name} of {first.parent} predict different test pairs")
    return pd.DataFrame({"pair_id": a["pair_id"].astype(str), "rating": a["rating"].astype(float),
                         "prediction_round_0": a["prediction"].astype(float),
                         "prediction_last": b["prediction"].astype(float)})


def _run_round(r: int, explainer: ex.Explainer, embedder: TextEmbedder, requests: dict[bool, list[Any]],
               heads: dict[bool, str], pairs: pd.DataFrame, enc: Any, train_rows: np.ndarray, test_rows: np.ndarray,
               y01_train: np.ndarray, aspects: dict[str, list[str]], config: RecPIEConfig, model_config: ModelConfig,
               train_config: TrainConfig, seed: int, needs_rl: bool, initial: dict[str, torch.Tensor] | None,
               cache_path: str | Path | None, progress: bool, phase: Callable[[int, str], None],
               run_key: str = "", previous_weights: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    # (a) explanations
    phase(r, "explain")
    raw, stats = ex.explain(explainer, requests, cache_path, progress, f"recpie round {r}")
    texts = {k: [ex.sentence(heads[k], c) for c in raw[k]] for k in (True, False)}
    k = min(config.kl_pairs, len(train_rows))
    kl_idx = train_rows[:k]
    kl = ex.kl_to_reference(explainer, [ex.render(explainer, requests[True][i]) for i in kl_idx],
                            [raw[True][i] for i in kl_idx]) if k else None
    t_explain = time.perf_counter() - t0

    # (b) the recommender
    phase(r, "recommend")
    if config.encoder == "autoencoder" and r == 0:
        embedder.fit_autoencoder([texts[True][i] for i in train_rows] + [texts[False][i] for i in train_rows])
    vectors = np.stack([embedder(texts[True]), embedder(texts[False])], axis=1)
    train_in = with_explanations(enc.train, vectors[train_rows])
    test_in = with_explanations(enc.test, vectors[test_rows])
    # one seed for every round: the same validation slice (and, without a warm start, the same initialisation)
    fitted = fit_recommender(model_config, train_config, train_in, enc.train_ratings, enc.n_users, enc.n_items,
                             seed, initial)
    rec = fitted.model
    y_test, _ = predict(rec, test_in)
    y_train, _ = predict(rec, train_in)
    change = weight_change(previous_weights, rec)
    metrics: dict[str, Any] = {"round": r, **regression_metrics(y_test, enc.test_ratings),
                               "reward": round(float(reward(y01_train, y_train).mean()), 6),
                               "kl": None if kl is None else round(kl, 6),
                               "best_epoch": int(fitted.best_epoch), "epochs_run": int(fitted.epochs_run),
                               "recommender_change": None if change is None else round(change, 6),
                               "validation_pairs": [str(pairs["pair_id"].iloc[train_rows[i]])
                                                    for i in validation_rows(len(train_rows), train_config, seed)]}
    asp = [aspects.get(str(p), []) for p in pairs["pair_id"].iloc[test_rows]]
    cov = {kind: coverage([texts[k][i] for i in test_rows], asp) for k, kind in ((True, "positive"),
                                                                                (False, "negative"))}
    both = [c for c in cov.values() if c is not None]
    metrics.update({"coverage": round(float(np.mean(both)), 6) if both else None,
                    "coverage_positive": cov["positive"], "coverage_negative": cov["negative"]})
    explainer.soft_prompt.set_users(user_table(rec))  # (d): E_c feeds the RL step and round r+1's prompts
    t_rec = time.perf_counter() - t0 - t_explain

    # (c) the RL step
    rl: dict[str, Any] = {"rl_steps": 0, "rl_reward": None, "rl_reward_std": None, "rl_kl": None,
                          "rl_clip_ratio": None, "rl_clip_ratio_low": None, "rl_clip_ratio_high": None, "rl_log": []}
    if needs_rl:
        phase(r, "rl")
        # resumable inside the step: checkpoints keyed on the run's fingerprint and the round (the reward
        # function's inputs), removed when the step ends
        rl = grpo_update(explainer, _rl_dataset(explainer, requests, train_rows, config, seed + r),
                         _reward_fn(rec, embedder, heads, train_in, vectors[train_rows], y01_train), config.rl,
                         seed + r, progress, checkpoint=GRPO_CHECKPOINT, checkpoint_key=[run_key, r])
    metrics.update({k: v for k, v in rl.items()})
    words = {kind: round(float(np.mean([len(texts[k][i].split()) for i in range(len(pairs))])), 2)
             for k, kind in ((True, "positive"), (False, "negative"))}
    metrics.update({
        "train_pairs": int(len(train_rows)), "test_pairs": int(len(test_rows)), "mean_words": words,
        "generated": stats["llm_calls"], "cached": stats["cache_hits"],
        "llm": {k: stats[k] for k in ("prompt_tokens", "completion_tokens", "seconds", "tokens_per_s")},
        "warm_start": initial is not None,
        "seconds": {"explain": round(t_explain, 2), "recommend": round(t_rec, 2),
                    "rl": round(time.perf_counter() - t0 - t_explain - t_rec, 2),
                    "total": round(time.perf_counter() - t0, 2)},
        "_model": rec,
        "_predictions": pd.DataFrame({"pair_id": list(enc.test_ids),
                                      "rating": np.asarray(enc.test_ratings, dtype=np.float64),
                                      "prediction": 1 + 4 * np.asarray(y_test, dtype=np.float64)}),
        "_explanations": pd.DataFrame({"pair_id": pairs["pair_id"].astype(str), "split": pairs["split"],
                                       "positive": texts[True], "negative": texts[False],
                                       "positive_raw": raw[True], "negative_raw": raw[False]}),
    })
    return metrics


def _rl_dataset(explainer: ex.Explainer, requests: dict[bool, list[Any]], train_rows: np.ndarray,
                config: RecPIEConfig, seed: int) -> dict[str, list[Any]]:
    """``prompts_per_step`` prompts per generation batch (``steps / num_iterations`` batches) drawn
    (seeded, without repeats while they last) from the train pairs' positive and negative prompts
    (never a test pair's); columns ``row`` (index into the train rows) and ``positive``."""
    n = config.rl.generation_batches * config.rl.prompts_per_step
    options = [(j, pos) for j in range(len(train_rows)) for pos in (True, False)]
    rng = stable_rng(seed, "recpie", "rl-prompts")
    picks = np.concatenate([rng.permutation(len(options)) for _ in range(-(-n // len(options)))])[:n]
    chosen = [options[i] for i in picks]
    return {"prompt": [ex.render(explainer, requests[pos][int(train_rows[j])]) for j, pos in chosen],
            "row": [int(j) for j, _ in chosen], "positive": [bool(pos) for _, pos in chosen]}


def _reward_fn(rec: Any, embedder: TextEmbedder, heads: dict[bool, str], train_in: Inputs, vectors: np.ndarray,
               y01: np.ndarray) -> Callable[..., list[float]]:
    """trl's reward function: the completion, made the explanation of its kind, replaces the round's
    one in f's input; the other kind's stays; r(e) = 1 / (1 + |y - f(x, e)|)."""

    def recpie_reward(prompts: list[Any], completions: list[Any], row: list[int], positive: list[bool],
                      **_: Any) -> list[float]:
        texts = [ex.sentence(heads[bool(p)], c if isinstance(c, str) else c[-1]["content"])
                 for c, p in zip(completions, positive)]
        new = embedder(texts)
        rows = np.asarray(row, np.int64)
        v = vectors[rows].copy()
        for j, p in enumerate(positive):
            v[j, 0 if p else 1] = new[j]
        x = with_explanations(train_in.subset(torch.from_numpy(rows)), v)
        y_hat, _ = predict(rec, x)
        return reward(y01[rows], y_hat).tolist()

    return recpie_reward


def rounds_metrics(result: RecPIEResult, config: RecPIEConfig) -> dict[str, Any]:
    """The metrics file: per-round rows (RMSE, MAE, reward, KL, coverage, ...), round 0 and the last round."""
    keep = ("round", "rmse", "mae", "rmse_5", "mae_5", "reward", "kl", "coverage", "coverage_positive",
            "coverage_negative", "best_epoch", "epochs_run", "recommender_change", "rl_steps", "rl_reward", "rl_kl",
            "rl_clip_ratio", "rl_clip_ratio_low", "rl_clip_ratio_high", "train_pairs", "test_pairs",
            "validation_pairs", "mean_words", "generated", "cached", "llm", "warm_start", "seconds")
    rows = [{k: (len(m[k]) if k == "validation_pairs" and m.get(k) is not None else m.get(k)) for k in keep}
            for m in result.rounds]
    return {"rounds": rows, "round_0": rows[0] if rows else None, "last": rows[-1] if rows else None,
            "config": asdict(config), "aspects_pairs": len(result.aspects), "aspect_sources": result.aspect_sources,
            "rl_algorithm": (f"trl GRPOTrainer, PPO-style clipped objective ({config.rl.num_iterations} optimiser "
                             "steps per generation batch; see explainrec.recpie.rl)"
                             if config.rl.num_iterations > 1 else
                             "trl GRPOTrainer with one optimiser step per generation batch: a plain policy "
                             "gradient, the clip never acts (see explainrec.recpie.rl)")}


#: the per-round columns of ``rounds.csv`` (the report's and ``dvc plots``' recpie_rounds table)
ROUND_COLUMNS = ("round", "rmse", "mae", "rmse_5", "mae_5", "reward", "kl", "coverage", "rl_reward", "best_epoch",
                 "recommender_change", "rl_clip_ratio")


def write_outputs(result: RecPIEResult, metrics: dict[str, Any], folder: str | Path, live: Any = None) -> None:
    """The recpie stage's output folder: the explanations, the per-pair predictions of round 0 and
    the last round (the report's paired bootstrap of RMSE), the aspect terms, and ``rounds.csv``
    (``metrics``' rounds). ``live`` gets every round's GRPO log as curves (rounds a rerun found
    done included), steps numbered on across rounds."""
    import csv

    from explainrec.core.io import write_parquet
    from explainrec.recpie.rl import log_rl_steps

    folder = Path(folder)
    step = 1
    for r in result.rounds:
        step = log_rl_steps(live, r.get("rl_log") or [], step, {"rl/round": r["round"]})
    write_parquet(result.explanations, folder / "explanations.parquet")
    write_parquet(result.predictions, folder / "predictions.parquet")
    (folder / "aspects.json").write_text(json.dumps(result.aspects, indent=1, sort_keys=True) + "\n")
    with open(folder / "rounds.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ROUND_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows({k: ("" if r.get(k) is None else r[k]) for k in ROUND_COLUMNS} for r in metrics["rounds"])
