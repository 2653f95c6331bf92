"""XRec's collaborative information adapters, trained on a frozen LLM (paper 001 §3.2).

    python stages/xrec_moe.py --name full --graph data/xrec/gnn --profiles data/profiles --targets data/cpeg --splits data/splits --filtered data/filtered --llm data/assets/llm/llm.json --out data/xrec/moe/full --metrics metrics/xrec/moe_full.json

Reads ``xrec.explainer`` with ``xrec.variants.<name>`` (targets, domain, profiles,
inject_all_layers, max_profile_chars), ``xrec.moe``, ``xrec.train``, the ``sft`` section
(XRec learns from the SFT explainer's pairs and targets), ``dataset``/``datasets`` (the
domain words) and ``seed``. Writes ``<out>/adapters.pt``, ``<out>/settings.json`` and
``<out>/loss.csv``; the metrics file holds the train loss, the test NLL before and after
training, and the pair counts. The llm must be a local transformers model. With
``launch.launcher: accelerate`` it starts itself again on ``launch.processes`` processes, each
taking its share of every batch; process 0 writes the outputs.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import (FILTERED, LLM, METRICS, OUT, PROFILES, SPLITS, TARGETS, load_params, one_line_errors,
                    params_option, read_section, seed)
from xrec_common import GRAPH, dataset_format, explainer_config, xrec_pairs


@click.command()
@params_option
@click.option("--name", required=True, help="the xrec.variants entry")
@GRAPH
@PROFILES
@TARGETS
@SPLITS
@FILTERED
@LLM
@OUT
@METRICS
@one_line_errors
def main(params_path: str, name: str, graph: Path, profiles: Path, targets: Path, splits: Path, filtered: Path,
         llm_json: Path, out: Path, metrics: Path) -> None:
    from explainrec import launch as processes
    from explainrec.config import from_section
    from explainrec.io import write_json
    from explainrec.llm.factory import load_spec
    from explainrec.xrec.experiment import run_moe
    from explainrec.xrec.frozen import require_local
    from explainrec.xrec.moe import MoEConfig
    from explainrec.xrec.tokenizer import read_graph
    from explainrec.xrec.train import TrainConfig

    params = load_params(params_path)
    explainer = explainer_config(params, name)
    moe = read_section(params, "xrec.moe", MoEConfig)
    train = read_section(params, "xrec.train", TrainConfig)
    spec = load_spec(llm_json)
    require_local(spec)
    # under `launch.launcher: accelerate`, this process becomes `accelerate launch` of the same command
    processes.relaunch(from_section(processes.LaunchConfig, params.get("launch"), "launch"))  # absent: one process
    g = read_graph(graph)
    pairs = xrec_pairs(params, explainer, g, profiles, targets, splits, filtered, llm_json)
    with processes.outputs(out) as tmp:
        result = run_moe(pairs, g, spec, explainer, moe, train, dataset_format(params), seed(params), tmp,
                         progress=processes.is_main(), variant=name)
    if not processes.is_main():
        return
    write_json(metrics, result)
    click.echo(f"xrec_moe@{name}: {result['pairs']['train_pairs']} train pairs ({result['pairs']['targets']} targets), "
               f"{result['steps']} steps, loss {result['train_loss_first']} -> {result['train_loss_last']}; test NLL "
               f"{result['test_nll_before']} -> {result['test_nll_after']}; {result['seconds']} s"
               + (f"; resumed from the checkpoint of step {result['resumed_from']}" if result.get("resumed_from") else ""))


if __name__ == "__main__":
    main()
