"""One self-contained HTML page of the run: every method's tables, the plots, and a browsable sample of test pairs.

    python stages/report.py --table "PGHIS + CPEG + SFT and XRec: explanation quality (paper 000 Table 1)=metrics/eval_table.md" ... --plots-from dvc.yaml --profiles data/profiles --filtered data/filtered --pairs data/lrrecsys/pairs --pair-set "LR-Recsys=data/lrrecsys/explanations/main" --pair-set "RecPIE=data/recpie" --out data/report --metrics metrics/report.json

(dvc.yaml has the full command.) Reads ``report`` (title, sample_pairs, profile_chars) and
the ``explainers`` mapping of params.yaml; renders each ``--table`` (markdown or CSV), each
entry of ``plots`` in ``--plots-from`` as inline SVG, and the test pairs of the explainers
with the user and item profiles (each node's last layer), the reference, every explainer's
explanation and, for the pairs they explain too, each ``--pair-set``'s positive and negative
explanation; writes ``<out>/index.html`` (no link outside itself) and what it holds to the
metrics file. Open it with any browser: ``xdg-open data/report/index.html``.
"""

from __future__ import annotations

from pathlib import Path

import click

from common import FILTERED, METRICS, OUT, PROFILES, load_params, one_line_errors, params_option, path_option, \
    read_section, section
from lrrecsys_common import PAIRS


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
@OUT
@METRICS
@one_line_errors
def main(params_path: str, tables: tuple[tuple[str, Path], ...], plots_from: Path, profiles: Path, filtered: Path,
         pairs: Path, pair_sets: tuple[tuple[str, Path], ...], out: Path, metrics: Path) -> None:
    import yaml

    from explainrec.errors import InputError, ParamError
    from explainrec.io import atomic_dir, read_table, write_json
    from explainrec.profiles.store import load_profiles
    from explainrec.report.config import ReportConfig
    from explainrec.report.inputs import pair_sample, plot_specs
    from explainrec.report.page import TableSource, render_page, report_metrics

    params = load_params(params_path)
    config = read_section(params, "report", ReportConfig)
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
    page = render_page(config, sources, plots, sample)
    with atomic_dir(out) as tmp:
        (tmp / "index.html").write_text(page)
    m = report_metrics(page, sources, plots, sample)
    write_json(metrics, m)
    click.echo(f"report: {out / 'index.html'}: {m['tables']} tables, {m['plots']} plots, {m['pairs']} test pairs, "
               f"{len(m['methods'])} methods ({m['bytes'] / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
