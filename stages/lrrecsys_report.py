"""LR-Recsys report: Table 6's layout with the paper's Amazon row, paired tests, attention and efficiency plots, keywords.

    python stages/lrrecsys_report.py --runs-dir metrics/lrrecsys --attention data/lrrecsys/runs/lr_recsys --pairs data/lrrecsys/pairs --explanations data/lrrecsys/explanations/main --filtered data/filtered --table metrics/lrrecsys_table.md --summary metrics/lrrecsys_summary.json --keywords metrics/lrrecsys_keywords.md --plots metrics/plots

Reads ``lrrecsys.runs`` (which runs, in which order), ``lrrecsys.report`` (baseline, compare,
keyword sizes) and ``datasets``/``dataset`` (the domain words left out of the keywords); writes the
table (markdown), the summary (means, stds and paired t-tests over seeds, JSON), the keyword
report, and ``<plots>/lrrecsys_attention.csv`` (Fig. 7: the distributions of ᾱ_pos and ᾱ_neg for
high- and low-rated test pairs) and ``<plots>/lrrecsys_efficiency.csv`` (Table 3: metrics by
share of the train pairs), which `dvc plots show` draws.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from common import (EXPLANATIONS, FILTERED, PAIRS, dataset_format, load_params, one_line_errors, params_option,
                   path_option, read_section, section)


@click.command()
@params_option
@path_option("--runs-dir", "the folder of the lrrecsys_train metrics (<name>.json)", dest="runs_dir")
@path_option("--attention", "the baseline run's lrrecsys_train folder (attention.parquet)")
@PAIRS
@EXPLANATIONS
@FILTERED
@path_option("--table", "the markdown table to write")
@path_option("--summary", "the summary JSON to write (a metrics file)")
@path_option("--keywords", "the keyword report to write (markdown)")
@path_option("--plots", "the folder of the plot tables")
@one_line_errors
def main(params_path: str, runs_dir: Path, attention: Path, pairs: Path, explanations: Path, filtered: Path,
         table: Path, summary: Path, keywords: Path, plots: Path) -> None:
    import pandas as pd

    from explainrec.core.errors import InputError
    from explainrec.core.io import read_table, write_csv, write_json, write_text
    from explainrec.lrrecsys.analysis import attention_histogram, keyword_report
    from explainrec.core.domain_prompts import ExplainConfig
    from explainrec.lrrecsys.explain import read_explanations
    from explainrec.core.recommender.pair_table import read_pairs
    from explainrec.core.domain_prompts import opening, resolve_domain
    from explainrec.lrrecsys.report import LRRecsysReportConfig, efficiency_curve, paired_tests, runs_summary, \
        runs_table_markdown, paired_markdown

    params = load_params(params_path)
    config = read_section(params, "lrrecsys.report", LRRecsysReportConfig)
    order = list(section(params, "lrrecsys.runs"))
    for name in (config.baseline, *config.compare):
        if name not in order:
            raise InputError("params.yaml", "lrrecsys.report", "names of lrrecsys.runs entries", got=name)
    runs = {}
    for name in order:
        path = runs_dir / f"{name}.json"
        if not path.exists():
            raise InputError(path, "(file)", f"the metrics of lrrecsys_train@{name}; run `dvc repro`")
        runs[name] = json.loads(path.read_text())
    m = runs[config.baseline].get("machine") or {}
    machine = (f"Trained on {m.get('cpu', '?')} ({'AMX' if m.get('amx') else 'no AMX'}, {m.get('cores', '?')} cores), "
               "float32.")
    tests = paired_tests(runs, config)
    write_text(table, runs_table_markdown(runs, machine) + "\n" + paired_markdown(tests, runs, config.baseline))
    write_json(summary, runs_summary(runs, tests, order))
    plots.mkdir(parents=True, exist_ok=True)
    att = pd.read_parquet(attention / "attention.parquet") if (attention / "attention.parquet").exists() else None
    if att is None or not len(att):
        raise InputError(attention / "attention.parquet", "(rows)", "the attention of the baseline's DNN models")
    write_csv(attention_histogram(att), plots / "lrrecsys_attention.csv")
    write_csv(efficiency_curve(runs), plots / "lrrecsys_efficiency.csv")
    explain = read_section(params, "lrrecsys.explain", ExplainConfig)
    domain = resolve_domain(explain.domain, dataset_format(params))
    words = set(opening(domain, True).split()) | set(opening(domain, False).split()) | {domain.item, domain.items}
    items = read_table(filtered / "items.parquet", "items")
    titles = {str(i): (str(t) if not pd.isna(t) else str(i)) for i, t in zip(items["item_id"], items["title"])}
    write_text(keywords, keyword_report(read_pairs(pairs), read_explanations(explanations), titles,
                                        config.keyword_items, config.keywords, sorted(words)))
    base = runs[config.baseline]
    line = "; ".join(f"{runs[o]['label']}: AUC {t['auc']['mean_diff']:+.4f} (p {t['auc']['p_value']})"
                     for o, t in tests.items() if "auc" in t)
    click.echo(f"lrrecsys_report: {len(runs)} runs; {base['label']} AUC {base['auc']['mean']} against {line}")


if __name__ == "__main__":
    main()
