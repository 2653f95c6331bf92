"""One table for every explainer the evaluate stage scored (paper 000 Table 1 / Fig. 5).

    python stages/eval_summary.py --metrics-dir metrics/eval --out metrics/eval_summary.json --table metrics/eval_table.md --plot metrics/plots/eval.csv

Reads the names in the ``explainers`` mapping of params.yaml (in that order) and
their ``<metrics-dir>/<name>.json``; writes the summary metrics, the markdown
table (best value of each column in bold, encoder and judge named under it)
and the CSV behind the comparison plots.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from common import load_params, one_line_errors, params_option, path_option, section


@click.command()
@params_option
@path_option("--metrics-dir", "the folder of the evaluate stages' metrics (<name>.json per explainer)")
@path_option("--out", "the summary metrics JSON it writes")
@path_option("--table", "the markdown table it writes (paper 000 Table 1)")
@path_option("--plot", "the CSV behind the comparison plots")
@one_line_errors
def main(params_path: str, metrics_dir: Path, out: Path, table: Path, plot: Path) -> None:
    from explainrec.errors import InputError, ParamError
    from explainrec.evaluation.report import summarise
    from explainrec.io import atomic_file, write_json

    explainers = section(load_params(params_path), "explainers")
    if not isinstance(explainers, dict) or not explainers:
        raise ParamError("explainers", "a mapping of explainer names to their explanations parquet", explainers)
    methods = {}
    for name in explainers:
        path = metrics_dir / f"{name}.json"
        if not path.exists():
            raise InputError(path, "(file)", f"the metrics of evaluate@{name}; run `dvc repro evaluate@{name}`")
        methods[name] = json.loads(path.read_text())
    summary, markdown, rows = summarise(methods)
    write_json(out, summary)
    with atomic_file(table) as tmp:
        tmp.write_text(markdown)
    with atomic_file(plot) as tmp:
        rows.to_csv(tmp, index=False)
    click.echo(markdown.rstrip())


if __name__ == "__main__":
    main()
