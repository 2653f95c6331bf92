"""One table for every explainer the evaluate stage scored (paper 000 Table 1 / Fig. 5), and how sure each
comparison with the baseline is.

    python stages/eval_summary.py --metrics-dir metrics/eval --scores-dir data/eval --out metrics/eval_summary.json --table metrics/eval_table.md --plot metrics/plots/eval.csv

Reads the names in the ``explainers`` mapping of params.yaml (in that order),
their ``<metrics-dir>/<name>.json`` and per-pair ``<scores-dir>/<name>/scores.parquet``,
the ``compare`` section and ``seed``; writes the summary metrics, the markdown
table (best value of each column in bold, encoder and judge named under it;
then each explainer's difference to ``compare.baseline`` in BERTScore-F1,
BLEU-4 and ROUGE-L with its paired bootstrap interval, in bold where it
excludes 0; a note naming the explainers whose texts, the ``explanation`` column of
their scores.parquet, are identical word for word on the pairs they share, also
``identical_to`` in their summary entries) and the CSV behind the comparison plots.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from common import load_params, one_line_errors, params_option, path_option, read_section, section, seed


@click.command()
@params_option
@path_option("--metrics-dir", "the folder of the evaluate stages' metrics (<name>.json per explainer)")
@path_option("--scores-dir", "the folder of the evaluate stages' outputs (<name>/scores.parquet per explainer)")
@path_option("--out", "the summary metrics JSON it writes")
@path_option("--table", "the markdown table it writes (paper 000 Table 1, then the differences to the baseline)")
@path_option("--plot", "the CSV behind the comparison plots")
@one_line_errors
def main(params_path: str, metrics_dir: Path, scores_dir: Path, out: Path, table: Path, plot: Path) -> None:
    from explainrec.core.errors import InputError, ParamError
    from explainrec.core.io import write_csv, write_json, write_text
    from explainrec.evaluation.bootstrap import CompareConfig, read_scores
    from explainrec.evaluation.report import COMPARED, summarise

    params = load_params(params_path)
    explainers = section(params, "explainers")
    if not isinstance(explainers, dict) or not explainers:
        raise ParamError("explainers", "a mapping of explainer names to their explanations parquet", explainers)
    compare, s = read_section(params, "compare", CompareConfig), seed(params)
    if compare.baseline not in explainers:
        raise ParamError("compare.baseline", f"one of the explainers ({', '.join(explainers)})", compare.baseline)
    methods, scores, labels = {}, {}, {}
    for name in explainers:
        path = metrics_dir / f"{name}.json"
        if not path.exists():
            raise InputError(path, "(file)", f"the metrics of evaluate@{name}; run `dvc repro evaluate@{name}`")
        methods[name] = json.loads(path.read_text())
        labels[name] = str(scores_dir / name / "scores.parquet")
        scores[name] = read_scores(labels[name], [col for _, col in COMPARED], f"evaluate@{name}")
    summary, markdown, rows = summarise(methods, scores, compare, s, labels)
    write_json(out, summary)
    write_text(table, markdown)
    write_csv(rows, plot)
    click.echo(markdown.rstrip())


if __name__ == "__main__":
    main()
