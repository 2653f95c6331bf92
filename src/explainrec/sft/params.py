"""The ``sft`` and ``generate`` sections of params.yaml.

Kept apart from the training and generation code so that a stage that only
needs a value of these sections (assets_sft_base reads ``sft.base_model``)
imports no more than the checks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from explainrec.core.config import DTYPES, check_bool, check_choice, check_device, check_int, check_number
from explainrec.core.errors import ParamError
from explainrec.core.explanation_pairs import PairSource

T = TypeVar("T")
METHODS = ("lora", "full")
#: learning rate used when ``learning_rate`` is null: for LoRA 1e-3, which beat the usual 2e-4 by 0.07
#: BERTScore-F1 on XRec's amazon table at the default 64 pairs (bench/reference_table.py, README);
#: the paper's 1e-5 for full fine-tuning
DEFAULT_LR = {"lora": 1e-3, "full": 1e-5}


@dataclass(frozen=True)
class SFTTrainConfig:
    """The ``sft`` section of params.yaml (built with :func:`explainrec.core.config.from_section`).

    ``base_model`` is read by the assets stage, which materialises it; the rest by
    the sft, generate and ablation stages.
    """

    base_model: str = "bundled:smollm2-135m"
    method: str = "lora"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    learning_rate: float | None = None  # None: DEFAULT_LR[method]
    # defaults: 64 pairs x 1 epoch = 16 LoRA steps, 158 s on 2 idle cores with SmolLM2-135M
    epochs: float = 1
    batch_size: int = 4
    grad_accum: int = 1
    eval_batch_size: int = 8
    max_length: int = 512
    max_train_pairs: int | None = 64  # seeded sample of the train pairs (the paper samples 20,000); None: all
    max_eval_pairs: int | None = 24  # seeded sample of the test pairs for the eval loss; None: all
    logging_steps: int = 2
    warmup: float = 0.05  # fraction of the optimiser steps with a linear warm-up
    eval_on_start: bool = True  # also measure the test loss before training
    targets: str = "cpeg"  # cpeg | reference
    include_unverified: bool = True
    target_form: str = "as_written"  # as_written | fig4 (explainrec.core.explanation_prompt.normalise_target)
    item_title: bool = True  # the item's title and categories in the prompt; false: Fig. 4's, profiles only
    user_layer: int = -1
    item_layer: int = -1
    threads: int = 0  # torch CPU threads; 0 = all cores
    # save a resumable checkpoint (weights, optimiser, RNG) every this many optimiser steps and at the end,
    # outside DVC's outputs ($EXPLAINREC_CACHE/checkpoints, explainrec.core.checkpoints); a rerun after a kill
    # continues from the last one. 0: no checkpoints
    checkpoint_steps: int = 2

    def item_names(self, items: T) -> T | None:
        """The items (a table's path, or its names) whose titles go into the prompts: ``items``,
        or None with ``item_title`` off."""
        return items if self.item_title else None

    @property
    def pair_source(self) -> PairSource:
        """The keys XRec shares with SFT: where the pairs and their targets come from."""
        return PairSource(self.targets, self.include_unverified, self.target_form, self.user_layer, self.item_layer)

    @property
    def lr(self) -> float:
        return float(self.learning_rate) if self.learning_rate is not None else DEFAULT_LR[self.method]

    def __post_init__(self) -> None:
        tm = self.target_modules
        if isinstance(tm, str):
            tm = [m.strip() for m in tm.split(",") if m.strip()]
        if not isinstance(tm, (list, tuple)) or not tm or not all(isinstance(m, str) and m for m in tm):
            raise ParamError("target_modules", "a non-empty list of module names, e.g. [q_proj, v_proj]", tm)
        object.__setattr__(self, "target_modules", tuple(tm))
        if not isinstance(self.base_model, str) or not self.base_model:
            raise ParamError("base_model", "bundled:smollm2-135m, a local model folder or a hub id", self.base_model)
        check_choice(self.method, "method", METHODS)
        check_bool(self.item_title, "item_title")
        _ = self.pair_source  # checks targets, include_unverified, target_form and the layers
        for key in ("lora_r", "lora_alpha", "batch_size", "grad_accum", "eval_batch_size", "max_length", "logging_steps"):
            check_int(getattr(self, key), key)
        for key in ("max_train_pairs", "max_eval_pairs"):
            check_int(getattr(self, key), key, none_ok=True, expected="a positive integer, or null for all pairs")
        check_int(self.threads, "threads", 0)
        check_int(self.checkpoint_steps, "checkpoint_steps", 0,
                  expected="an integer >= 0 (optimiser steps between checkpoints; 0: none)")
        check_number(self.epochs, "epochs", 0, 1000, low_open=True)
        check_number(self.learning_rate, "learning_rate", 0, 1, low_open=True, high_open=True, none_ok=True,
                     expected="a number in (0, 1), or null for the method's default (lora 1e-3, full 1e-5)")
        check_number(self.lora_dropout, "lora_dropout", 0, 1, high_open=True)
        check_number(self.warmup, "warmup", 0, 1, high_open=True, expected="a fraction in [0, 1)")
        check_bool(self.eval_on_start, "eval_on_start")
        check_bool(self.include_unverified, "include_unverified")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d


@dataclass(frozen=True)
class SFTGenerateConfig:
    """The ``generate`` section of params.yaml (built with :func:`explainrec.core.config.from_section`)."""

    max_new_tokens: int = 96
    batch_size: int = 32
    user_layer: int = -1
    item_layer: int = -1
    threads: int = 0
    #: where the fine-tuned model generates: auto (a CUDA GPU when there is one, else the CPU) | cpu | cuda | cuda:N
    device: str = "auto"
    #: float32 everywhere by default (one numeric mode: the committed outputs are float32's); auto picks
    #: bfloat16 on a GPU or an AMX CPU, whose greedy texts differ
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for key in ("max_new_tokens", "batch_size"):
            check_int(getattr(self, key), key)
        check_int(self.threads, "threads", 0)
        check_choice(self.dtype, "dtype", DTYPES)
        check_device(self.device)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
