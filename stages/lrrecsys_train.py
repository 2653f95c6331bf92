"""LR-Recsys: train and test one recommender variant over seeds (paper 003 §3.5, App. A.3, C.1, C.5; Table 3).

    python stages/lrrecsys_train.py --name lr_recsys --pairs data/lrrecsys/pairs --embeddings data/lrrecsys/embed/main --out data/lrrecsys/runs/lr_recsys --metrics metrics/lrrecsys/lr_recsys.json --curves metrics/curves/lrrecsys_train/lr_recsys

Reads ``lrrecsys.runs.<name>`` (label, embeddings, arch, explanations, n_explanations,
train_fraction), ``lrrecsys.model``, ``lrrecsys.train``, ``lrrecsys.seeds``,
``lrrecsys.pairs.history`` and ``seed``. For every seed it fits, when the embeddings are an
autoencoder entry, the text autoencoder on the run's train pairs' explanations (with that
seed, on the kept share only), then a regression model (MSE on the rating scaled to [0, 1])
and a classification model (BCE on ratings 4-5); writes
``<out>/predictions.parquet`` (pair_id, seed, task, prediction, rating) and
``<out>/attention.parquet`` (Eq. 24 per test pair and seed), and to the metrics file RMSE /
MAE on both scales and AUC, each as mean, std and per seed, the attention summary and the
autoencoder fits' reconstruction accuracies. The per-epoch curves of every fit go to ``<curves>``
(DVCLive: ``plots/metrics/seed<k>/{regression,classification}/{train,val}/loss.tsv``,
``seed<k>/autoencoder/train/loss.tsv``).
"""

from __future__ import annotations

from pathlib import Path

import click

from common import CURVES, EMBEDDINGS, METRICS, OUT, PAIRS, load_params, number, one_line_errors, params_option, read_section, section, seed


@click.command()
@params_option
@click.option("--name", required=True, help="the lrrecsys.runs entry")
@PAIRS
@EMBEDDINGS
@OUT
@METRICS
@CURVES
@one_line_errors
def main(params_path: str, name: str, pairs: Path, embeddings: Path, out: Path, metrics: Path, curves: Path) -> None:
    from explainrec.core.config import check_int
    from explainrec.core.curves import curves as open_curves
    from explainrec.core.io import atomic_dir, write_json, write_parquet
    from explainrec.core.recommender.model import ModelConfig
    from explainrec.core.recommender.pair_table import read_pairs
    from explainrec.core.recommender.train import TrainConfig
    from explainrec.llm.machine import machine_facts
    from explainrec.lrrecsys.embeddings import load_embeddings
    from explainrec.lrrecsys.experiment import RunConfig, run_experiment
    from explainrec.lrrecsys.pairs import PairsConfig

    import torch

    # the models and the autoencoder are small: more intra-op threads only add synchronisation
    # (4-70x slower fits on a busy 2-core machine). The DNN's results are the same on 1 or 2; the
    # autoencoder's are not (its float sums run in another order), so the count is fixed here
    torch.set_num_threads(1)
    params = load_params(params_path)
    run = read_section(params, f"lrrecsys.runs.{name}", RunConfig)
    history = read_section(params, "lrrecsys.pairs", PairsConfig).history
    model = read_section(params, "lrrecsys.model", ModelConfig, arch=run.arch, explanations=run.explanations,
                         n_explanations=run.n_explanations, history=history)
    train = read_section(params, "lrrecsys.train", TrainConfig)
    seeds = check_int(section(params, "lrrecsys.seeds"), "lrrecsys.seeds")
    table = read_pairs(pairs)
    vectors = load_embeddings(embeddings, table["pair_id"].astype(str).tolist())
    with open_curves(curves) as live:
        result = run_experiment(table, vectors, run, model, train, seeds, seed(params), live=live)
    result.metrics["machine"] = machine_facts()
    with atomic_dir(out) as tmp:
        write_parquet(result.predictions, tmp / "predictions.parquet")
        write_parquet(result.attention, tmp / "attention.parquet")
    write_json(metrics, result.metrics)
    m = result.metrics

    def ms(v: dict) -> str:
        return f"{number(v['mean'], 4)} ± {number(v['std'], 4)}"

    line = (f"lrrecsys_train@{name} ({run.label}): {m['train_pairs']} train / {m['test_pairs']} test pairs, "
            f"{len(m['seeds'])} seeds: RMSE {ms(m['rmse'])}, MAE {ms(m['mae'])} (0-1 scale), AUC {ms(m['auc'])}")
    ae = m["autoencoder"]
    if ae:
        line += (f"; {ae['fits']} autoencoders on {ae['texts']} texts each, token accuracy "
                 f"{ms(ae['train_token_accuracy'])} train / {ms(ae['test_token_accuracy'])} test")
    click.echo(line)

if __name__ == "__main__":
    main()
