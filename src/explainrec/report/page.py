"""The report page: tables, plots and the sample of test pairs on one self-contained HTML page.

Markdown tables are rendered by markdown-it (raw HTML in them is escaped), the page by
Jinja2 with autoescaping (every profile and explanation is text, never markup), the
plots are inline SVG; the CSS and the small script that filters and pages the sample are
in the page, so it opens with no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.report.config import ReportConfig
from explainrec.report.inputs import PAIR_COLUMNS, PlotSpec, read_plot, read_text_table
from explainrec.report.summary import SummaryRow, row_cells, summary_header

TEMPLATE = "page.html.j2"


@dataclass(frozen=True)
class TableSource:
    """A table for the page: its heading and the markdown or CSV file it comes from."""

    title: str
    path: Path


def markdown_html(text: str) -> str:
    """Markdown (GitHub tables included) as HTML, headings moved two levels down (under the page's h2)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for t in tokens:
        if t.type in ("heading_open", "heading_close"):
            t.tag = f"h{min(6, int(t.tag[1]) + 2)}"
    return md.renderer.render(tokens, md.options, {})


def render_page(config: ReportConfig, tables: list[TableSource], plots: list[PlotSpec], sample: pd.DataFrame,
                summary: list[SummaryRow] | None = None, confidence: float = 0.95) -> str:
    """The whole page as a string; ``summary`` (:func:`explainrec.report.summary.summary_rows`) opens it."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from explainrec.report.charts import plot_svg

    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=True, undefined=StrictUndefined,
                      keep_trailing_newline=True)
    methods = [c for c in sample.columns if c not in PAIR_COLUMNS]
    return env.get_template(TEMPLATE).render(
        title=config.title, summary_header=summary_header(confidence),
        summary=[{**row_cells(r), "note": r.note} for r in summary or []],
        tables=[{"title": t.title, "path": str(t.path), "html": markdown_html(read_text_table(t.path))} for t in tables],
        plots=[{"name": p.name, "svg": plot_svg(p, read_plot(p))} for p in plots],
        methods=methods, pairs=sample.to_dict("records"))


def report_metrics(page: str, tables: list[TableSource], plots: list[PlotSpec], sample: pd.DataFrame,
                   summary: list[SummaryRow] | None = None) -> dict[str, Any]:
    """What the page holds, for metrics/report.json (the summary's rows keyed by method, flat: the README's
    summary block reads them)."""
    methods = [c for c in sample.columns if c not in PAIR_COLUMNS]
    return {"tables": len(tables), "plots": len(plots), "pairs": len(sample), "methods": methods,
            "explained_pairs": {m: int((sample[m].astype(str).str.strip() != "").sum()) for m in methods},
            "summary": {r.key: r.to_dict() for r in summary or []},
            "bytes": len(page.encode())}
