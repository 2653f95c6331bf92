"""Supervised fine-tuning of the explanation generator on the Fig. 4 prompt (paper 000 §3.3).

    python stages/sft.py --profiles data/profiles --targets data/cpeg --filtered data/filtered --base data/assets/sft_base/model --out data/sft --metrics metrics/sft.json

Reads the ``sft`` section and ``seed`` from params.yaml (``sft.base_model`` is
materialised by assets_sft_base); ``--targets`` is the folder of the stage that
``sft.targets`` names (dvc.yaml passes ``data/${sft.targets}``); with
``sft.item_title`` the prompts name each item from ``<filtered>/items.parquet``. Writes
``<out>/model/`` (a plain transformers folder, LoRA merged), ``<out>/loss.csv``
(step, epoch, train_loss, eval_loss) and the metrics (train/eval loss,
examples, trainable parameters, method, seconds). With ``launch.launcher: accelerate`` it starts
itself again on ``launch.processes`` processes; process 0 writes the outputs.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import BASE, FILTERED, METRICS, OUT, PROFILES, TARGETS, load_params, number, one_line_errors, \
    params_option, read_section, seed


@click.command()
@params_option
@PROFILES
@TARGETS
@FILTERED
@BASE
@OUT
@METRICS
@one_line_errors
def main(params_path: str, profiles: Path, targets: Path, filtered: Path, base: Path, out: Path, metrics: Path) -> None:
    from explainrec import launch as processes
    from explainrec.config import from_section
    from explainrec.io import write_json
    from explainrec.sft.params import SFTParams
    from explainrec.sft.train import run_sft

    params = load_params(params_path)
    cfg = read_section(params, "sft", SFTParams)
    # under `launch.launcher: accelerate`, this process becomes `accelerate launch` of the same command
    processes.relaunch(from_section(processes.LaunchConfig, params.get("launch"), "launch"))  # absent: one process
    with processes.outputs(out) as tmp:
        result = run_sft(profiles, targets, base, tmp, cfg, seed(params), items=filtered / "items.parquet",
                         progress=processes.is_main())
    if not processes.is_main():
        return
    write_json(metrics, result)
    click.echo(f"sft ({cfg.method}): {result['examples']} examples, {result['steps']} steps, "
               f"train loss {number(result['train_loss_first'], 3)} -> {number(result['train_loss'], 3)}, "
               f"eval loss {number(result['eval_loss_before'], 3)} -> {number(result['eval_loss'], 3)}, {result['seconds']} s"
               + (f"; resumed from the checkpoint of step {result['resumed_from_step']}"
                  if result.get("resumed_from_step") else ""))



if __name__ == "__main__":
    main()
