"""XRec's collaborative relation tokenizer: LightGCN trained with BPR (paper 001 §3.1).

    python stages/xrec_gnn.py --splits data/splits --filtered data/filtered --out data/xrec/gnn --metrics metrics/xrec/gnn.json --curves metrics/curves/xrec_gnn

Reads ``xrec.gnn``, ``xrec.sparsity`` and ``seed``. Holds a seeded share of the users out
(the zero-shot set), trains on the other users' interactions of ``xrec.gnn.splits`` (the
profile and train splits), and writes
``<out>/users.parquet`` (user_id, zero_shot, train_interactions, embedding),
``<out>/items.parquet`` (item_id, embedding) and, outside it, the curves (DVCLive:
``<curves>/plots/metrics/{train/loss,train/bpr,val/recall,val/ndcg}.tsv``, one row per epoch); the metrics file holds test Recall@20 and NDCG@20 of
LightGCN and of a popularity ranking, the user's train items masked.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import CURVES, FILTERED, METRICS, OUT, SPLITS, load_params, one_line_errors, params_option, read_section, seed


@click.command()
@params_option
@SPLITS
@FILTERED
@OUT
@METRICS
@CURVES
@one_line_errors
def main(params_path: str, splits: Path, filtered: Path, out: Path, metrics: Path, curves: Path) -> None:
    from explainrec.core.curves import curves as open_curves
    from explainrec.core.io import atomic_dir, write_json
    from explainrec.xrec.gnn_tables import SparsityConfig, run_gnn
    from explainrec.xrec.graph import GNNConfig

    params = load_params(params_path)
    gnn = read_section(params, "xrec.gnn", GNNConfig)
    sparsity = read_section(params, "xrec.sparsity", SparsityConfig)
    with atomic_dir(out) as tmp, open_curves(curves) as live:
        result = run_gnn(splits, filtered, tmp, gnn, sparsity, seed(params), live=live)
    write_json(metrics, result)
    k = gnn.top_k
    g, p = result["lightgcn"], result["popularity"]
    click.echo(f"xrec_gnn: {result['epochs']} epochs (best {result['best_epoch']}), test Recall@{k} "
               f"{g[f'recall@{k}']:.4f} / NDCG@{k} {g[f'ndcg@{k}']:.4f} against popularity "
               f"{p[f'recall@{k}']:.4f} / {p[f'ndcg@{k}']:.4f}; {result['zero_shot_users']} zero-shot users")


if __name__ == "__main__":
    main()
