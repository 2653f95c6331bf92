"""XRec's explanations for the test pairs, with the trained adapters (paper 001 §3.2.2).

    python stages/xrec_generate.py --name full --graph data/xrec/gnn --adapters data/xrec/moe/full --profiles data/profiles --targets data/cpeg --splits data/splits --filtered data/filtered --llm data/assets/llm/llm.json --out data/xrec/generate/full --metrics metrics/xrec/generate_full.json

Reads what ``xrec_moe`` reads, plus ``xrec.generate`` and ``xrec.sparsity`` (``buckets``,
``buckets_by``; the zero-shot users come from the graph). Writes
``<out>/explanations.parquet`` (user_id, item_id, explanation, reference), which
``evaluate@xrec`` scores against the SFT explainer's references, and
``<out>/buckets.parquet`` (user_id, item_id, bucket: tst1..tst5 or zero_shot; a user's pairs in one
bucket, the buckets of equal numbers of users or of pairs). Answers are
cached under the adapters' and the graph's content hashes, so a rerun generates nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import (FILTERED, LLM, METRICS, OUT, PROFILES, SPLITS, TARGETS, dataset_format, load_params,
                    one_line_errors, params_option, read_section)
from xrec_common import ADAPTERS, GRAPH, explainer_config, xrec_pairs


@click.command()
@params_option
@click.option("--name", required=True, help="the xrec.variants entry")
@GRAPH
@ADAPTERS
@PROFILES
@TARGETS
@SPLITS
@FILTERED
@LLM
@OUT
@METRICS
@one_line_errors
def main(params_path: str, name: str, graph: Path, adapters: Path, profiles: Path, targets: Path, splits: Path,
         filtered: Path, llm_json: Path, out: Path, metrics: Path) -> None:
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.llm.factory import load_spec, require_local
    from explainrec.xrec.experiment import run_adapter_generation
    from explainrec.xrec.frozen import WHY_LOCAL
    from explainrec.xrec.generate import GenerateConfig
    from explainrec.xrec.gnn_tables import SparsityConfig, read_graph

    params = load_params(params_path)
    explainer = explainer_config(params, name)
    gen = read_section(params, "xrec.generate", GenerateConfig)
    sparsity = read_section(params, "xrec.sparsity", SparsityConfig)
    spec = load_spec(llm_json)
    require_local(spec, WHY_LOCAL)
    g = read_graph(graph)
    pairs = xrec_pairs(params, explainer, g, profiles, targets, splits, filtered, llm_json, train_targets=False)
    with atomic_dir(out) as tmp:
        result = run_adapter_generation(pairs, g, spec, adapters, explainer, gen, sparsity.buckets, dataset_format(params), tmp,
                              buckets_by=sparsity.buckets_by)
    write_json(metrics, result)
    click.echo(f"xrec_generate@{name}: {result['pairs']} pairs, {result['empty_explanations']} empty, "
               f"{result['mean_words']} words on average, USR {result['unique_sentence_ratio']}; "
               f"{result['llm']['generated']} generated, {result['llm']['cached']} cached, {result['seconds']} s")


if __name__ == "__main__":
    main()
