"""One self-contained HTML page of the run: every method's tables, the plots, and a browsable sample of test pairs.

    python stages/report.py --table "PGHIS + CPEG + SFT and XRec: explanation quality (paper 000 Table 1)=metrics/eval_table.md" ... --plots-from dvc.yaml --profiles data/profiles --filtered data/filtered --pairs data/lrrecsys/pairs --pair-set "LR-Recsys=data/lrrecsys/explanations/main" --pair-set "RecPIE=data/recpie" --eval-summary metrics/eval_summary.json --lrrecsys-summary metrics/lrrecsys_summary.json --recpie-metrics metrics/recpie.json --recpie-predictions data/recpie/predictions.parquet --out data/report --metrics metrics/report.json

(dvc.yaml has the full command.) Reads ``report`` (title, sample_pairs, profile_chars), the
``explainers`` mapping, ``compare`` (the bootstrap's resamples and confidence) and ``seed`` of
params.yaml; opens the page with a summary, one row per method: its headline comparison, the
value, its interval and whether it excludes 0 (``explainrec.report.summary``; RecPIE's interval
is a seeded paired bootstrap over the test pairs of ``--recpie-predictions``); renders each ``--table`` (markdown or CSV), each
entry of ``plots`` in ``--plots-from`` as inline SVG, and the test pairs of the explainers
with the user and item profiles (each node's last layer), the reference, every explainer's
explanation and, for the pairs they explain too, each ``--pair-set``'s positive and negative
explanation; writes ``<out>/index.html`` (no link outside itself) and what it holds to the
metrics file. Open it with any browser: ``xdg-open data/report/index.html``.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import FILTERED, METRICS, OUT, PAIRS, PROFILES, load_params, one_line_errors, params_option, path_option, \
    read_section, section, seed


class TitledPath(click.ParamType):
    """``TITLE=PATH``: a heading and the file or folder it names."""

    name = "TITLE=PATH"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 (click's signature)
        if isinstance(value, tuple):
            return value
        title, sep, path = str(value).rpartition("=")
        if not sep or not title.strip() or not path.strip():
            self.fail(f"expected TITLE=PATH, got {value!r}", param, ctx)
        return title.strip(), Path(path.strip())


@click.command()
@params_option
@click.option("--table", "tables", type=TitledPath(), multiple=True, required=True,
              help="TITLE=PATH: a markdown table (or CSV) another stage wrote, under that heading; repeatable, in order")
@path_option("--plots-from", "the dvc.yaml whose top-level plots the page draws", dest="plots_from")
@PROFILES
@FILTERED
@PAIRS
@click.option("--pair-set", "pair_sets", type=TitledPath(), multiple=True,
              help="NAME=FOLDER: an explanations.parquet (pair_id, positive, negative) over --pairs, shown as "
                   "the method NAME for the test pairs it explains too; repeatable")
@path_option("--eval-summary", "the eval_summary stage's metrics (paired bootstrap of each explainer against the "
                              "baseline): the summary's PGHIS + CPEG + SFT and XRec rows", dest="eval_summary")
@path_option("--lrrecsys-summary", "the lrrecsys_report stage's metrics (paired t-tests over seeds): the summary's "
                                   "LR-Recsys row", dest="lrrecsys_summary")
@path_option("--recpie-metrics", "the recpie stage's metrics (RMSE per round)", dest="recpie_metrics")
@path_option("--recpie-predictions", "the recpie stage's predictions.parquet (pair_id, rating, prediction_round_0, "
                                     "prediction_last): the summary's RecPIE interval", dest="recpie_predictions")
@OUT
@METRICS
@one_line_errors
def main(params_path: str, tables: tuple[tuple[str, Path], ...], plots_from: Path, profiles: Path, filtered: Path,
         pairs: Path, pair_sets: tuple[tuple[str, Path], ...], eval_summary: Path, lrrecsys_summary: Path,
         recpie_metrics: Path, recpie_predictions: Path, out: Path, metrics: Path) -> None:
    import yaml

    from explainrec.core.errors import InputError, ParamError
    from explainrec.core.io import atomic_dir, read_table, write_json, write_text
    from explainrec.core.profile_store import load_profiles
    from explainrec.evaluation.bootstrap import CompareConfig
    from explainrec.report.config import ReportConfig
    from explainrec.report.inputs import pair_sample, plot_specs
    from explainrec.report.page import TableSource, render_page, report_metrics
    from explainrec.report.summary import read_json, read_predictions, summary_rows

    params = load_params(params_path)
    config = read_section(params, "report", ReportConfig)
    compare = read_section(params, "compare", CompareConfig)
    explainers = section(params, "explainers")
    if not isinstance(explainers, dict) or not explainers:
        raise ParamError("explainers", "a mapping of explainer names to their explanations parquet", explainers)
    try:
        plots = plot_specs(yaml.safe_load(plots_from.read_text()).get("plots", []), plots_from)
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise InputError(plots_from, "plots", "a dvc.yaml with a top-level plots list", type(exc).__name__) from None
    users, items = load_profiles(profiles)
    item_table = read_table(filtered / "items.parquet", "items", "the filter stage", ("item_id", "title"))
    titles = dict(zip(item_table["item_id"].astype(str), item_table["title"].fillna("").astype(str)))
    pair_table = read_table(pairs / "pairs.parquet", "LR-Recsys pairs", "the lrrecsys_pairs stage",
                            ("pair_id", "user_id", "item_id")) if pair_sets else None
    sets = {name: (read_table(folder / "explanations.parquet", f"{name} explanations", "its stage",
                              ("pair_id", "positive", "negative")), pair_table) for name, folder in pair_sets}
    sample = pair_sample(explainers, users, items, titles, sets, config.sample_pairs, config.profile_chars)
    sources = [TableSource(title, path) for title, path in tables]
    summary = summary_rows(read_json(eval_summary), eval_summary, read_json(lrrecsys_summary), lrrecsys_summary,
                           read_json(recpie_metrics), recpie_metrics, read_predictions(recpie_predictions),
                           recpie_predictions, resamples=compare.resamples, confidence=compare.confidence,
                           seed=seed(params))
    page = render_page(config, sources, plots, sample, summary, compare.confidence)
    with atomic_dir(out) as tmp:
        write_text(tmp / "index.html", page)
    m = report_metrics(page, sources, plots, sample, summary)
    write_json(metrics, m)
    click.echo(f"report: {out / 'index.html'}: {m['tables']} tables, {m['plots']} plots, {m['pairs']} test pairs, "
               f"{len(m['methods'])} methods, {len(summary)} summary rows ({m['bytes'] / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
