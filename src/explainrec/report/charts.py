"""dvc.yaml's plots drawn by matplotlib as inline SVG, text kept as text.

The SVG is the same bytes for the same table: no date in its metadata and a fixed
hash salt for its element ids, so an unchanged run gives an unchanged page.
"""

from __future__ import annotations

import io

import pandas as pd

from explainrec.report.inputs import PlotSpec

SVG_PARAMS = {"svg.hashsalt": "explainrec-report", "svg.fonttype": "none", "font.size": 9}


def plot_svg(spec: PlotSpec, table: pd.DataFrame) -> str:
    """``table`` drawn as ``spec`` says: an ``<svg>`` element (no XML prolog)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(SVG_PARAMS):
        if spec.kind == "bar":
            fig = Figure(figsize=(6.4, 0.9 + 0.32 * len(table)))
            ax = fig.add_subplot()
            labels = table[spec.category].astype(str).tolist()
            ax.barh(range(len(table)), table[spec.x].to_numpy(dtype=float), color="#4c78a8")
            ax.set_yticks(range(len(table)), labels)
            ax.invert_yaxis()
            ax.set_xlabel(spec.x)
        else:
            fig = Figure(figsize=(6.4, 3.4))
            ax = fig.add_subplot()
            x = table[spec.x]
            x = x.astype(str) if not pd.api.types.is_numeric_dtype(x) else x
            for col in spec.y:
                rows = table[col].notna()
                ax.plot(x[rows], table.loc[rows, col], marker="o", markersize=3, label=col)
            ax.set_xlabel(spec.x)
            if len(spec.y) > 1:
                ax.legend(frameon=False)
            else:
                ax.set_ylabel(spec.y[0])
        ax.set_title(f"{spec.name}  ({spec.file})", fontsize=9)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]
