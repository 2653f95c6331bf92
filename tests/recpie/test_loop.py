"""The alternation on tiny models: metrics per round, what enters the recommender's fit and the RL
data, the refit each round, and kill-after-round-1 resume."""

from __future__ import annotations

import json

import pytest

from explainrec.core.domain_prompts import DOMAINS
from explainrec.core.errors import ExplainrecError, InputError
from explainrec.core.recommender.model import ModelConfig
from explainrec.core.recommender.train import TrainConfig
from explainrec.recpie import loop
from explainrec.recpie.config import RecPIEConfig
from explainrec.recpie.recommender import TextEmbedder
from tests.recpie.conftest import HashingEncoder, tiny_backend, tiny_pairs

# 4 optimiser steps, 2 per generation batch (the default num_iterations)
CONFIG = dict(rl={"steps": 4, "num_generations": 2, "max_completion_length": 6, "learning_rate": 0.01},
              explainer={"max_new_tokens": 6}, aspects=0, kl_pairs=4)
TRAIN = TrainConfig(epochs=3, patience=0)


class FakeAspectLLM:
    """Answers every aspect request with the same three terms; keeps the requests' texts."""

    def __init__(self):
        self.texts: list[str] = []

    @property
    def requests(self) -> int:
        return len(self.texts)

    def chat(self, requests, desc=None):
        from explainrec.llm.types import Completion

        self.texts += [r.messages[-2][1] for r in requests]
        return [Completion("drama, dark mood, great story", 10, 5) for _ in requests]


def _run(tmp_path, rounds=2, on_round=None, llm=None, train=TRAIN, reviews=None, backend=None, **overrides):
    pairs, texts = tiny_pairs()
    config = RecPIEConfig(rounds=rounds, **{**CONFIG, **overrides})
    return loop.run_recpie(loop.RecPIEData(pairs, texts, DOMAINS["movie"], reviews=reviews),
                           backend or tiny_backend(tmp_path / "model"), TextEmbedder("sentence", HashingEncoder()),
                           config, ModelConfig(history=2), train, 0, tmp_path / "state", llm=llm,
                           cache_path=tmp_path / "cache.sqlite", progress=False, on_round=on_round)


def test_rounds_report_metrics_and_round_0_is_the_base_model(tmp_path):
    llm = FakeAspectLLM()
    pairs, texts = tiny_pairs()
    reviewed = {"test:u0:i4": "Loved the long car chases and the score.", "test:u1:i5": "Too slow, dull music."}
    result = _run(tmp_path, llm=llm, aspects=3, reviews=reviewed)
    assert [m["round"] for m in result.rounds] == [0, 1]
    for m in result.rounds:
        for key in ("rmse", "mae", "rmse_5", "mae_5", "reward", "kl", "coverage", "best_epoch"):
            assert m[key] is not None, key
        assert m["rmse_5"] == pytest.approx(4 * m["rmse"])
    # the RL step moved the explainer away from the base model (round 0's is the base model itself)
    assert result.rounds[1]["kl"] > 1e-6
    assert result.rounds[0]["rl_steps"] == 4 and result.rounds[1]["rl_steps"] == 0  # no RL after the last round
    assert result.rounds[1]["warm_start"] and not result.rounds[0]["warm_start"]
    # Coverage's aspects: per test pair, from its review where it has one, else from its item's text
    test_ids = list(pairs.loc[pairs["split"] == "test", "pair_id"])
    assert sorted(result.aspects) == sorted(test_ids) and result.aspect_sources == {"review": 2, "item": 2}
    assert llm.requests == 4
    assert sum("Review: Loved the long car chases" in t for t in llm.texts) == 1
    assert llm.texts.count(f"{texts['i6']}\nDescribe this item with 3 single-word keywords (for example its genre, "
                           "its mood and its theme), separated by commas.") == 1  # test:u2:i6: no review, its item text
    assert not any(t.startswith(f"{texts['i4']}\nDescribe") for t in llm.texts)  # test:u0:i4: its review instead
    assert set(result.explanations["split"]) == {"train", "test"}
    assert result.explanations["positive"].str.startswith("The user watched this movie because").all()
    assert result.explanations["negative"].str.startswith("The user did not watch this movie because").all()
    summary = loop.rounds_metrics(result, RecPIEConfig(**CONFIG))
    assert summary["round_0"]["round"] == 0 and summary["last"]["round"] == 1
    json.dumps(summary)


def test_killed_after_round_1_a_rerun_continues_at_round_2(tmp_path):
    phases: list[tuple[int, str]] = []

    def kill_in_round_2(r, phase):
        phases.append((r, phase))
        if r == 1 and phase == "recommend":
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, on_round=kill_in_round_2)
    state = next((tmp_path / "state").iterdir())
    done = state / "round_0"
    assert (done / loop.ROUND_METRICS).exists() and not (state / "round_1").exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in done.iterdir()}
    assert not [p for p in state.iterdir() if p.name.startswith(".")]  # no half-written round left behind

    phases.clear()
    result = _run(tmp_path, on_round=lambda r, phase: phases.append((r, phase)))
    assert [m["round"] for m in result.rounds] == [0, 1]
    assert {r for r, _ in phases} == {1}  # round 1 (the first) was not redone
    assert {p.name: p.stat().st_mtime_ns for p in done.iterdir()} == stamps
    assert (state / "round_1" / loop.ROUND_METRICS).exists()
    assert result.rounds[1]["cached"] == 32  # its explanations were written (and cached) before the kill
    # a third run redoes nothing
    phases.clear()
    again = _run(tmp_path, on_round=lambda r, phase: phases.append((r, phase)))
    assert phases == [] and again.rounds == result.rounds


def test_raising_rounds_continues_and_runs_the_missing_rl_step(tmp_path):
    first = _run(tmp_path, rounds=1)
    assert first.rounds[0]["rl_steps"] == 0
    phases: list[tuple[int, str]] = []
    more = _run(tmp_path, rounds=2, on_round=lambda r, phase: phases.append((r, phase)))
    assert (0, "rl") in phases and more.rounds[0]["rl_steps"] == 4 and len(more.rounds) == 2


def test_bad_inputs_are_one_line_errors(tmp_path):
    pairs, texts = tiny_pairs()
    backend = tiny_backend(tmp_path / "model")
    data = loop.RecPIEData(pairs, {k: v for k, v in texts.items() if k != "i0"}, DOMAINS["movie"])
    with pytest.raises(InputError, match="a text for every candidate"):
        loop.run_recpie(data, backend, TextEmbedder("sentence", HashingEncoder()),
                        RecPIEConfig(**CONFIG), ModelConfig(history=2), TrainConfig(epochs=1), 0, tmp_path)
    with pytest.raises(ExplainrecError, match="n_explanations: 2"):
        loop.run_recpie(loop.RecPIEData(pairs, texts, DOMAINS["movie"]), backend,
                        TextEmbedder("sentence", HashingEncoder()), RecPIEConfig(**CONFIG),
                        ModelConfig(history=2, n_explanations=1), TrainConfig(epochs=1), 0, tmp_path)
    with pytest.raises(InputError, match="test pair"):
        loop.run_recpie(loop.RecPIEData(pairs[pairs["split"] == "train"], texts, DOMAINS["movie"]),
                        backend, TextEmbedder("sentence", HashingEncoder()),
                        RecPIEConfig(**CONFIG), ModelConfig(history=2), TrainConfig(epochs=1), 0, tmp_path)


def test_the_validation_slice_is_fixed_and_each_round_refits_the_recommender(tmp_path, monkeypatch):
    """Every round's fit holds out the same train pairs (never trained on in any round); round 1, with
    new explanations, moves the recommender's weights and says by how much; the best epoch is recorded."""
    import torch

    from explainrec.core.recommender import train as lr_train

    held_out: list[list[int]] = []
    split = lr_train.validation_split

    def recording_split(n, val_fraction, seed):
        tr, va = split(n, val_fraction, seed)
        held_out.append(sorted(int(i) for i in va))
        return tr, va

    monkeypatch.setattr(lr_train, "validation_split", recording_split)
    train = TrainConfig(epochs=8, patience=0, val_fraction=0.25, learning_rate=0.05)
    result = _run(tmp_path, train=train)
    assert len(held_out) >= 2 and all(v == held_out[0] for v in held_out) and len(held_out[0]) == 3
    r0, r1 = result.rounds
    assert r0["validation_pairs"] == r1["validation_pairs"] and len(r0["validation_pairs"]) == 3
    assert all(p.startswith("train:") for p in r0["validation_pairs"])
    assert r0["recommender_change"] is None and r1["recommender_change"] > 0
    assert 1 <= r1["best_epoch"] <= r1["epochs_run"] == 8  # round 1's training beat round 0's weights
    w0, w1 = (torch.load(result.state / f"round_{r}" / "recommender.pt", weights_only=True) for r in (0, 1))
    change = sum(float(((w1[k].double() - w0[k].double()) ** 2).sum()) for k in w0 if w0[k].is_floating_point())
    assert r1["recommender_change"] == pytest.approx(change ** 0.5, rel=1e-5)
    summary = loop.rounds_metrics(result, RecPIEConfig(**CONFIG))
    assert summary["rounds"][1]["best_epoch"] == r1["best_epoch"] and summary["rounds"][1]["validation_pairs"] == 3


def test_no_test_pair_enters_the_rl_data_or_the_recommenders_fit(tmp_path, monkeypatch):
    import numpy as np

    backend = tiny_backend(tmp_path / "model")
    requests: dict[bool, list] = {}
    fits: list[tuple] = []
    datasets: list[dict] = []
    make_requests, fit, grpo = loop._requests, loop.fit_recommender, loop.grpo_update

    def recording_requests(data, pairs, users, config, positive):
        requests[positive] = make_requests(data, pairs, users, config, positive)
        return requests[positive]

    def recording_fit(model_config, train_config, inputs, ratings, *args, **kwargs):
        fits.append((inputs, np.asarray(ratings)))
        return fit(model_config, train_config, inputs, ratings, *args, **kwargs)

    def recording_grpo(explainer, dataset, *args, **kwargs):
        datasets.append(dataset)
        return grpo(explainer, dataset, *args, **kwargs)

    monkeypatch.setattr(loop, "_requests", recording_requests)
    monkeypatch.setattr(loop, "fit_recommender", recording_fit)
    monkeypatch.setattr(loop, "grpo_update", recording_grpo)
    # 2 generation batches of 12 prompts: every train pair's two prompts, each round
    _run(tmp_path, rounds=2, rl_on_last_round=True, backend=backend,
         rl={**CONFIG["rl"], "prompts_per_step": 12})
    pairs, _ = tiny_pairs()
    is_train = (pairs["split"] == "train").to_numpy()
    prompts = {split: {backend.render(requests[pos][i]) for pos in (True, False) for i in np.flatnonzero(rows)}
               for split, rows in (("train", is_train), ("test", ~is_train))}
    assert len(prompts["test"]) == 2 * (~is_train).sum() and not prompts["train"] & prompts["test"]
    assert len(datasets) == 2  # one RL step per round
    for d in datasets:
        assert set(d["prompt"]) == prompts["train"] and not set(d["prompt"]) & prompts["test"]
    assert len(fits) == 2
    train_ratings = pairs.loc[is_train, "rating"].to_numpy()
    for inputs, ratings in fits:
        assert len(inputs) == len(ratings) == is_train.sum()
        np.testing.assert_array_equal(ratings, train_ratings)


def test_predictions_table_holds_round_0_and_the_last_round_per_test_pair(tmp_path):
    """The result's predictions (what stages/recpie.py writes to predictions.parquet): one row per test pair,
    in table order, ratings and both rounds' predictions on the 1..5 scale, their RMSE the rounds' metrics;
    a resumed run reads the same table from the round folders."""
    import numpy as np

    pairs, _ = tiny_pairs()
    result = _run(tmp_path)
    t = result.predictions
    assert tuple(t.columns) == loop.PREDICTION_COLUMNS
    test = pairs[pairs["split"] == "test"]
    assert list(t["pair_id"]) == list(test["pair_id"]) and list(t["rating"]) == list(test["rating"])
    for col, m in (("prediction_round_0", result.rounds[0]), ("prediction_last", result.rounds[-1])):
        assert t[col].between(1, 5).all()
        assert np.sqrt(np.mean(((t[col] - t["rating"]) / 4) ** 2)) == pytest.approx(m["rmse"], rel=1e-5)
    assert _run(tmp_path).predictions.equals(t)


def test_write_outputs_writes_the_stage_folder_and_the_grpo_curves(tmp_path):
    import pandas as pd

    from explainrec.core.curves import curves
    from tests.core.test_curves import tsv

    result = _run(tmp_path)
    m = loop.rounds_metrics(result, RecPIEConfig())
    with curves(tmp_path / "curves") as live:
        (tmp_path / "out").mkdir()
        loop.write_outputs(result, m, tmp_path / "out", live)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["aspects.json", "explanations.parquet", "predictions.parquet",
                                                     "rounds.csv"]
    rounds = pd.read_csv(out / "rounds.csv")
    assert tuple(rounds.columns) == loop.ROUND_COLUMNS and list(rounds["round"]) == [r["round"] for r in m["rounds"]]
    assert pd.read_parquet(out / "predictions.parquet").equals(result.predictions)
    logged = [e for r in result.rounds for e in (r.get("rl_log") or [])]
    assert len(tsv(tmp_path / "curves", "rl/loss")) == len(logged) > 0
