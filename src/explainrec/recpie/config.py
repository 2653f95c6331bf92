"""The typed params of RecPIE: ``recpie`` with its nested ``explainer`` and ``rl`` sections.

The paper (002) gives no RL hyperparameters, no number of rounds, no warm-start rule and no
compute: every such choice below is ours, with defaults sized for the 10-minute share of the
default run on a 2-core CPU (see :mod:`explainrec.recpie.loop`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from explainrec.core.config import check_bool, check_choice, check_int, check_number, from_section
from explainrec.core.errors import ParamError

#: how explanations become the recommender's E_pos / E_neg vectors
ENCODERS = ("sentence", "autoencoder")
#: the word the prompts use for the person ("user" as in paper 002's prompts, or LR-Recsys's "consumer")
PERSONS = ("user", "consumer")
#: trl GRPO loss formulations this module accepts (all of them PPO-style clipped objectives)
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")
#: the explainer's prompt: paper 002's App. A.1 template, or LR-Recsys's (``lrrecsys.explain``'s style and prompt)
TEMPLATES = ("app_a1", "lrrecsys")


@dataclass(frozen=True)
class RecPIEExplainerConfig:
    """``recpie.explainer``: the LoRA adapter on the local LLM and its greedy generation.

    ``max_new_tokens`` caps one explanation (generation also stops at its sentence's end; the
    llm's ``batch_size`` is the number of prompts decoded together). ``template``: ``app_a1``
    (paper 002's App. A.1 prompt, in the dataset's domain words) or ``lrrecsys`` (paper 003's,
    as ``lrrecsys.explain`` sets it). ``person``: the word for the person in either.
    """

    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    max_new_tokens: int = 32
    template: str = "app_a1"
    person: str = "user"

    def __post_init__(self) -> None:
        check_int(self.lora_r, "lora_r")
        check_int(self.lora_alpha, "lora_alpha")
        check_number(self.lora_dropout, "lora_dropout", 0.0, 1.0, high_open=True)
        mods = tuple(self.target_modules) if isinstance(self.target_modules, (list, tuple)) else None
        if not mods or not all(isinstance(m, str) and m for m in mods):
            raise ParamError("target_modules", "a non-empty list of module names, e.g. [q_proj, v_proj]",
                             self.target_modules)
        object.__setattr__(self, "target_modules", mods)
        check_int(self.max_new_tokens, "max_new_tokens")
        check_choice(self.template, "template", TEMPLATES)
        check_choice(self.person, "person", PERSONS)


@dataclass(frozen=True)
class RLConfig:
    """``recpie.rl``: the explainer's RL step, trl's ``GRPOTrainer`` (the paper says PPO; see :mod:`.rl`).

    ``steps`` optimiser steps in all; every ``num_iterations`` of them share one generation batch:
    ``num_generations`` completions of each of ``prompts_per_step`` prompts (positive and negative
    explanation prompts of seeded train pairs) sampled at ``temperature``, so a round samples
    ``steps / num_iterations`` batches. ``num_iterations`` > 1 is what makes the PPO-style clip
    act: trl then keeps the log-probabilities of the policy that sampled the batch, and the later
    passes' ratio to them is clipped at 1 +- ``epsilon``; with 1 the ratio is always 1 and the
    update is a plain policy gradient. ``beta`` > 0 adds trl's KL penalty to the adapter at the
    start of the step (trl then logs its ``kl``); the KL to the initial explainer is measured anyway.
    """

    steps: int = 8
    num_generations: int = 4
    prompts_per_step: int = 1
    learning_rate: float = 1e-4
    beta: float = 0.0
    temperature: float = 1.0
    max_completion_length: int = 32
    epsilon: float = 0.2
    num_iterations: int = 2
    loss_type: str = "grpo"

    def __post_init__(self) -> None:
        check_int(self.steps, "steps")
        check_int(self.num_generations, "num_generations", 2,
                  expected="an integer >= 2 (GRPO's advantages compare completions of one prompt)")
        check_int(self.prompts_per_step, "prompts_per_step")
        check_number(self.learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        check_number(self.beta, "beta", 0.0, math.inf, high_open=True)
        check_number(self.temperature, "temperature", 0.0, 2.0, low_open=True)
        check_int(self.max_completion_length, "max_completion_length")
        check_number(self.epsilon, "epsilon", 0.0, 1.0, low_open=True)
        check_int(self.num_iterations, "num_iterations")
        if self.steps % self.num_iterations:
            raise ParamError("steps", f"a multiple of rl.num_iterations ({self.num_iterations}): every "
                                      "num_iterations optimiser steps share one generation batch", self.steps)
        check_choice(self.loss_type, "loss_type", LOSS_TYPES)

    @property
    def generation_batches(self) -> int:
        """How many batches of completions a round samples: ``steps / num_iterations``."""
        return self.steps // self.num_iterations


def _nested(value: Any, cls: type, name: str) -> Any:
    if isinstance(value, cls):
        return value
    return from_section(cls, value, name)


@dataclass(frozen=True)
class RecPIEConfig:
    """``recpie``: the alternation.

    ``rounds``: rounds of (explain, train the recommender, RL step); round 0's explainer is the base
    model (zero LoRA update, zero soft prompt), so round 0 is the no-RL reference. ``warm_start``:
    each round's recommender starts from the previous round's weights (else from its seed).
    ``encoder``: ``sentence`` (the bundled sentence encoder, projected by the DNN; the paper embeds
    with a pre-trained text encoder) or ``autoencoder`` (LR-Recsys's, fitted on round 0's train
    explanations and then kept). ``max_train_pairs`` / ``max_test_pairs``: seeded caps on the pairs
    (null: all). ``kl_pairs``: train pairs whose explanations measure the KL to the reference.
    ``aspects``: aspect terms derived per item for Coverage (0: no Coverage). ``rl_on_last_round``:
    also run the RL step after the last round (its update is then saved but never evaluated).
    """

    rounds: int = 2
    warm_start: bool = True
    encoder: str = "sentence"
    max_train_pairs: int | None = None
    max_test_pairs: int | None = None
    kl_pairs: int = 8
    aspects: int = 3
    aspect_max_new_tokens: int = 24
    rl_on_last_round: bool = False
    explainer: RecPIEExplainerConfig = field(default_factory=RecPIEExplainerConfig)
    rl: RLConfig = field(default_factory=RLConfig)

    def __post_init__(self) -> None:
        check_int(self.rounds, "rounds")
        check_bool(self.warm_start, "warm_start")
        check_choice(self.encoder, "encoder", ENCODERS)
        check_int(self.max_train_pairs, "max_train_pairs", 2, none_ok=True)
        check_int(self.max_test_pairs, "max_test_pairs", none_ok=True)
        check_int(self.kl_pairs, "kl_pairs", 0)
        check_int(self.aspects, "aspects", 0)
        check_int(self.aspect_max_new_tokens, "aspect_max_new_tokens")
        check_bool(self.rl_on_last_round, "rl_on_last_round")
        object.__setattr__(self, "explainer", _nested(self.explainer, RecPIEExplainerConfig, "explainer"))
        object.__setattr__(self, "rl", _nested(self.rl, RLConfig, "rl"))

    def fingerprint(self) -> dict[str, Any]:
        """What a round's state depends on: everything but ``rounds`` (raising it continues a run)."""
        from dataclasses import asdict

        d = asdict(self)
        d.pop("rounds")
        return d
