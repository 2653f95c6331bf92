"""XRec's report: ranking quality, and explanation scores per variant and sparsity bucket (paper 001 Fig. 3, 4).

    python stages/xrec_report.py --gnn-metrics metrics/xrec/gnn.json --generated data/xrec/generate --moe-metrics metrics/xrec --scores data/eval --summary metrics/xrec.json --table metrics/xrec_table.md --plot metrics/plots/xrec_buckets.csv

Reads ``xrec.variants`` (which variants) and ``xrec.gnn.top_k``. For each variant it
groups the ``evaluate@xrec``/``evaluate@xrec_<variant>`` per-pair scores
(``<scores>/<explainer>/scores.parquet``) by the bucket in
``<generated>/<variant>/buckets.parquet``, compares the variants' generated texts
(``<generated>/<variant>/explanations.parquet``: a note names those identical word for
word), and writes the summary metrics, the markdown tables the README shows and the plot rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from common import load_params, one_line_errors, params_option, path_option, section


@click.command()
@params_option
@path_option("--gnn-metrics", "the xrec_gnn stage's metrics JSON")
@path_option("--generated", "the folder of the xrec_generate stages (<variant>/buckets.parquet)")
@path_option("--moe-metrics", "the folder of the xrec_moe / xrec_generate metrics (moe_<variant>.json, generate_<variant>.json)")
@path_option("--scores", "the evaluate stages' folder (<explainer>/scores.parquet)")
@path_option("--summary", "the summary metrics JSON to write")
@path_option("--table", "the markdown tables to write")
@path_option("--plot", "the per-bucket plot CSV to write")
@one_line_errors
def main(params_path: str, gnn_metrics: Path, generated: Path, moe_metrics: Path, scores: Path, summary: Path,
         table: Path, plot: Path) -> None:
    from explainrec.core.errors import InputError
    from explainrec.core.io import read_table, write_csv, write_json, write_text
    from explainrec.xrec import report

    params = load_params(params_path)
    variants = section(params, "xrec.variants")
    top_k = section(params, "xrec.gnn.top_k")
    explainers = section(params, "explainers")

    def read_json(path: Path) -> dict:
        if not path.exists():
            raise InputError(path, "(file)", "the metrics an XRec stage writes; run `dvc repro`")
        return json.loads(path.read_text())

    parts = {}
    for v in variants:
        name = report.explainer_name(v)
        if name not in explainers:
            raise InputError("params.yaml", f"explainers.{name}", f"the explanations of xrec.variants.{v} "
                             f"(data/xrec/generate/{v}/explanations.parquet), so evaluate@{name} scores them")
        parts[v] = {"scores": read_table(scores / name / "scores.parquet", f"scores of {name}", f"evaluate@{name}",
                                         ("user_id", "item_id")),
                    "buckets": read_table(generated / v / "buckets.parquet", f"buckets of {v}", f"xrec_generate@{v}",
                                          ("user_id", "item_id", "bucket")),
                    "moe": read_json(moe_metrics / f"moe_{v}.json"),
                    "generate": read_json(moe_metrics / f"generate_{v}.json"),
                    "explanations": read_table(generated / v / "explanations.parquet", f"explanations of {v}",
                                               f"xrec_generate@{v}", ("user_id", "item_id", "explanation"))}
    result = report.xrec_metrics(read_json(gnn_metrics), parts, top_k)
    text = report.xrec_tables_markdown(result, top_k)
    write_text(table, text)
    write_csv(report.plot_rows(result), plot)
    write_json(summary, result)
    click.echo(text)


if __name__ == "__main__":
    main()
