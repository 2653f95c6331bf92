"""XRec's collaborative information adapters, trained on a frozen LLM (paper 001 §3.2).

    python stages/xrec_moe.py --name full --graph data/xrec/gnn --profiles data/profiles --targets data/cpeg --splits data/splits --filtered data/filtered --llm data/assets/llm/llm.json --out data/xrec/moe/full --metrics metrics/xrec/moe_full.json --curves metrics/curves/xrec_moe/full

Reads ``xrec.explainer`` with ``xrec.variants.<name>`` (targets, domain, profiles,
inject_all_layers, max_profile_chars), ``xrec.moe``, ``xrec.train``, the ``sft`` section
(XRec learns from the SFT explainer's pairs and targets), ``dataset``/``datasets`` (the
domain words) and ``seed``. Writes ``<out>/adapters.pt``, ``<out>/settings.json`` and the curves
(DVCLive: ``<curves>/plots/metrics/train/loss.tsv`` per step, ``test/nll.tsv`` before and after); the metrics file holds the train loss, the test NLL before and after
training, and the pair counts. The llm must be a local transformers model. With
``launch.launcher: accelerate`` it starts itself again on ``launch.processes`` processes, each
taking its share of every batch; process 0 writes the outputs.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import (CURVES, FILTERED, LLM, METRICS, OUT, PROFILES, SPLITS, TARGETS, dataset_format, load_params,
                    one_line_errors, params_option, read_section, relaunch, seed)
from xrec_common import GRAPH, explainer_config, xrec_pairs


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
@CURVES
@one_line_errors
def main(params_path: str, name: str, graph: Path, profiles: Path, targets: Path, splits: Path, filtered: Path,
         llm_json: Path, out: Path, metrics: Path, curves: Path) -> None:
    from explainrec.core.curves import curves as open_curves
    from explainrec.core.io import write_json
    from explainrec.llm.factory import load_spec, require_local
    from explainrec.xrec.experiment import run_moe
    from explainrec.xrec.frozen import WHY_LOCAL
    from explainrec.xrec.gnn_tables import read_graph
    from explainrec.xrec.moe import MoEConfig
    from explainrec.xrec.train import AdapterTrainConfig

    params = load_params(params_path)
    explainer = explainer_config(params, name)
    moe = read_section(params, "xrec.moe", MoEConfig)
    train = read_section(params, "xrec.train", AdapterTrainConfig)
    spec = load_spec(llm_json)
    require_local(spec, WHY_LOCAL)
    processes = relaunch(params)  # under `launch.launcher: accelerate`, `accelerate launch` of this command
    g = read_graph(graph)
    pairs = xrec_pairs(params, explainer, g, profiles, targets, splits, filtered, llm_json)
    with processes.outputs(out) as tmp, open_curves(curves if processes.is_main() else None) as live:
        result = run_moe(pairs, g, spec, explainer, moe, train, dataset_format(params), seed(params), tmp,
                         progress=processes.is_main(), variant=name, live=live)
    if not processes.is_main():
        return
    write_json(metrics, result)
    click.echo(f"xrec_moe@{name}: {result['pairs']['train_pairs']} train pairs ({result['pairs']['targets']} targets), "
               f"{result['steps']} steps, loss {result['train_loss_first']} -> {result['train_loss_last']}; test NLL "
               f"{result['test_nll_before']} -> {result['test_nll_after']}; {result['seconds']} s"
               + (f"; resumed from the checkpoint of step {result['resumed_from']}" if result.get("resumed_from") else ""))


if __name__ == "__main__":
    main()
