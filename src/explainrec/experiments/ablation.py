"""The ablations of paper 000 (§4.3, Fig. 5), each an explainer the evaluate stage scores.

A variant says which profile layer the user and item sides read and whether
the explainer is fine-tuned:

* ``w/o SFT``: the SFT base model, not fine-tuned, with the same Fig. 4 prompt and
  the last-layer (PGHIS) profiles;
* ``w/o PGHIS-user``: layer-0 (initial) user profiles, PGHIS item profiles;
* ``w/o PGHIS-item``: PGHIS user profiles, layer-0 item profiles;
* ``w/o PGHIS``: layer-0 profiles on both sides.

A fine-tuned variant is trained exactly as the ``sft`` stage trains the full
model (same targets, pairs, seed and hyper-parameters), on its own profiles,
and then explains the same test pairs; only the input profiles differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from explainrec.core.config import check_bool, check_layer


@dataclass(frozen=True)
class AblationVariant:
    """One entry ``ablations.<name>``: ``sft`` (fine-tune, or use the base model as it is),
    ``user_layer`` / ``item_layer`` (0: initial profiles, -1: last layer)."""

    name: str
    sft: bool = True
    user_layer: int = -1
    item_layer: int = -1

    def __post_init__(self) -> None:
        check_bool(self.sft, "sft")
        check_layer(self.user_layer, "user_layer")
        check_layer(self.item_layer, "item_layer")


def run_ablation(variant: AblationVariant, profiles: str | Path, targets: str | Path,
                 base: str | Path, out: str | Path, sft: Any, generate: Any, seed: int,
                 cache_path: str | Path | None = None, progress: bool = True,
                 items: str | Path | None = None, live: Any = None) -> dict[str, Any]:
    """Build the variant's explainer and explain the test pairs with it (``items``: the items
    table whose titles the prompts carry when ``sft.item_title``).

    ``sft`` is the :class:`~explainrec.sft.train.SFTTrainConfig` of the full model and
    ``generate`` its :class:`~explainrec.sft.generate.SFTGenerateConfig`; both get the
    variant's layers. Writes ``out/explanations.parquet`` (and, for a fine-tuned
    variant, ``out/model/``, its fine-tuning curves going to ``live``, a :class:`dvclive.Live`, when
    given); returns the training and generation statistics. ``out`` should be a temporary folder.
    """
    from explainrec.sft.generate import run_generate
    from explainrec.sft.train import run_sft

    t0 = time.perf_counter()
    out = Path(out)
    layers = {"user_layer": variant.user_layer, "item_layer": variant.item_layer}
    metrics: dict[str, Any] = {"variant": variant.name, "sft": variant.sft, **layers}
    model = Path(base)
    checkpoint = None
    if variant.sft:
        # resumable like the sft stage, under a name of its own; the checkpoints stay until the
        # explanations are written too, so a kill while generating does not train again
        metrics["training"] = run_sft(profiles, targets, base, out, replace(sft, **layers), seed, progress, items,
                                      checkpoint=checkpoint_name(variant), keep_checkpoint=True, live=live)
        checkpoint = metrics["training"].pop("_checkpoint", None)
        model = out / "model"
    metrics["generation"] = run_generate(model, profiles, targets, out, replace(generate, **layers),
                                         sft.targets, sft.include_unverified, cache_path, progress,
                                         sft.item_names(items), sft.target_form)
    if checkpoint is not None:
        checkpoint.clear()
    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    return metrics


def checkpoint_name(variant: AblationVariant) -> str:
    """The name of a variant's fine-tuning checkpoints (:mod:`explainrec.core.checkpoints`), apart from the
    sft stage's and from every other variant's."""
    return f"ablation_{variant.name}"
