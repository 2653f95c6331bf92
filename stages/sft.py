"""Supervised fine-tuning of the explanation generator on the Fig. 4 prompt (paper 000 §3.3).

    python stages/sft.py --profiles data/profiles --targets data/cpeg --filtered data/filtered --base data/assets/sft_base/model --out data/sft --metrics metrics/sft.json --curves metrics/curves/sft

Reads the ``sft`` section and ``seed`` from params.yaml (``sft.base_model`` is
materialised by assets_sft_base); ``--targets`` is the folder of the stage that
``sft.targets`` names (dvc.yaml passes ``data/${sft.targets}``); with
``sft.item_title`` the prompts name each item from ``<filtered>/items.parquet``. Writes
``<out>/model/`` (a plain transformers folder, LoRA merged), the training curves
(DVCLive: ``<curves>/plots/metrics/loss.tsv``, ``eval/loss.tsv``, ... per trainer step;
``<curves>/metrics.json``) and the metrics (train/eval loss,
examples, trainable parameters, method, seconds). With ``launch.launcher: accelerate`` it starts
itself again on ``launch.processes`` processes; process 0 writes the outputs.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import BASE, CURVES, FILTERED, METRICS, OUT, PROFILES, TARGETS, load_params, number, one_line_errors, \
    params_option, read_section, relaunch, seed


@click.command()
@params_option
@PROFILES
@TARGETS
@FILTERED
@BASE
@OUT
@METRICS
@CURVES
@one_line_errors
def main(params_path: str, profiles: Path, targets: Path, filtered: Path, base: Path, out: Path, metrics: Path,
         curves: Path) -> None:
    from explainrec.core.curves import curves as open_curves
    from explainrec.core.io import write_json
    from explainrec.sft.params import SFTTrainConfig
    from explainrec.sft.train import run_sft

    params = load_params(params_path)
    cfg = read_section(params, "sft", SFTTrainConfig)
    processes = relaunch(params)  # under `launch.launcher: accelerate`, `accelerate launch` of this command
    with processes.outputs(out) as tmp, open_curves(curves if processes.is_main() else None) as live:
        result = run_sft(profiles, targets, base, tmp, cfg, seed(params), items=filtered / "items.parquet",
                         progress=processes.is_main(), live=live)
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
