"""The alternation on tiny models: metrics per round, and kill-after-round-1 resume."""

from __future__ import annotations

import json

import pytest

from explainrec.errors import ExplainrecError, InputError
from explainrec.lrrecsys.model import ModelConfig
from explainrec.lrrecsys.prompts import DOMAINS
from explainrec.lrrecsys.train import TrainConfig
from explainrec.recpie import loop
from explainrec.recpie.config import RecPIEConfig
from explainrec.recpie.recommender import TextEmbedder
from tests.recpie.conftest import HashingEncoder, tiny_backend, tiny_pairs

CONFIG = dict(rl={"steps": 2, "num_generations": 2, "max_completion_length": 6}, explainer={"max_new_tokens": 6},
              aspects=0, kl_pairs=4)


class FakeAspectLLM:
    """Answers every aspect request with the same three terms; counts the requests."""

    def __init__(self):
        self.requests = 0

    def chat(self, requests, desc=None):
        from explainrec.llm.types import Completion

        self.requests += len(requests)
        return [Completion("drama, dark mood, great story", 10, 5) for _ in requests]


def _run(tmp_path, rounds=2, on_round=None, llm=None, **overrides):
    pairs, texts = tiny_pairs()
    config = RecPIEConfig(rounds=rounds, **{**CONFIG, **overrides})
    return loop.run_recpie(loop.RecPIEData(pairs, texts, DOMAINS["movie"]), tiny_backend(tmp_path / "model"),
                           TextEmbedder("sentence", HashingEncoder()), config, ModelConfig(history=2),
                           TrainConfig(epochs=3, patience=0), 0, tmp_path / "state", llm=llm,
                           cache_path=tmp_path / "cache.sqlite", progress=False, on_round=on_round)


def test_rounds_report_metrics_and_round_0_is_the_base_model(tmp_path):
    llm = FakeAspectLLM()
    result = _run(tmp_path, llm=llm, aspects=3)
    assert [m["round"] for m in result.rounds] == [0, 1]
    for m in result.rounds:
        for key in ("rmse", "mae", "rmse_5", "mae_5", "reward", "kl", "coverage"):
            assert m[key] is not None, key
        assert 0.5 <= m["reward"] <= 1.0 and 0.0 <= m["coverage"] <= 1.0
        assert m["rmse_5"] == pytest.approx(4 * m["rmse"])
    assert result.rounds[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # zero LoRA update, zero soft prompt
    assert result.rounds[0]["rl_steps"] == 2 and result.rounds[1]["rl_steps"] == 0  # no RL after the last round
    assert result.rounds[1]["warm_start"] and not result.rounds[0]["warm_start"]
    assert llm.requests == len(result.aspects) == 8  # one aspect request per candidate item
    assert set(result.explanations["split"]) == {"train", "test"}
    assert result.explanations["positive"].str.startswith("The user watched this movie because").all()
    assert result.explanations["negative"].str.startswith("The user did not watch this movie because").all()
    summary = loop.summary(result, RecPIEConfig(**CONFIG))
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
    assert (0, "rl") in phases and more.rounds[0]["rl_steps"] == 2 and len(more.rounds) == 2


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
