"""The report library on tiny tables: the sample of test pairs, the plot specs, the page."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from explainrec.core.errors import InputError, ParamError
from explainrec.core.profile_store import load_profiles
from explainrec.report.config import ReportConfig
from explainrec.report.inputs import PAIR_COLUMNS, PlotSpec, pair_sample, plot_specs, read_plot, read_text_table
from explainrec.report.page import TableSource, markdown_html, render_page, report_metrics
from tests.report.fixtures import EXPLAINERS, PLOTS, write_inputs


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sample(limit: int = 0, pair_sets: bool = True, profile_chars: int = 60) -> pd.DataFrame:
    users, items = load_profiles("data/profiles")
    titles = dict(pd.read_parquet("data/filtered/items.parquet").values)
    pairs = pd.read_parquet("data/lrrecsys/pairs/pairs.parquet")
    sets = {"LR-Recsys": (pd.read_parquet("data/lrrecsys/explanations/main/explanations.parquet"), pairs)} if pair_sets else {}
    return pair_sample(EXPLAINERS, users, items, titles, sets, limit, profile_chars)


def test_sample_joins_methods_profiles_and_titles(run: Path) -> None:
    s = sample()
    assert list(s.columns) == [*PAIR_COLUMNS, "full", "xrec", "LR-Recsys"]
    assert len(s) == 12 and not s.duplicated(["user_id", "item_id"]).any()
    assert list(s[["user_id", "item_id"]].itertuples(index=False, name=None)) == sorted(
        s[["user_id", "item_id"]].itertuples(index=False, name=None))
    row = s[(s.user_id == "U1") & (s.item_id == "I2")].iloc[0]
    assert row.title == "Book 2" and row.reference == "review of U1 on I2"
    assert row.full == "full says U1 will enjoy I2" and row.xrec == "xrec says U1 will enjoy I2"
    assert row.user_profile.startswith("user 1 layer 1 ")  # the last layer
    assert len(row.user_profile) <= 62 and row.user_profile.endswith(" …")  # cut at profile_chars


def test_sample_limit_and_uncut_profiles(run: Path) -> None:
    s = sample(limit=5, profile_chars=0)
    assert len(s) == 5 and list(s.user_id) == ["U0", "U0", "U1", "U1", "U2"]
    assert not s.user_profile.str.endswith("…").any()


def test_pair_set_fills_only_the_pairs_it_explains(run: Path) -> None:
    s = sample()
    pairs = pd.read_parquet("data/lrrecsys/pairs/pairs.parquet")
    explained = pairs[pairs.pair_id % 2 == 0]
    keyed = s.set_index(["user_id", "item_id"])["LR-Recsys"]
    for pair in explained.itertuples():
        assert keyed[(pair.user_id, pair.item_id)] == f"+ lr pro {pair.pair_id}\n− lr con {pair.pair_id}"
    assert (keyed == "").sum() == len(pairs) - len(explained)


def test_no_explainer_is_a_param_error(run: Path) -> None:
    with pytest.raises(ParamError, match="explainers"):
        pair_sample({}, {}, {}, {}, {}, 0, 0)


def test_missing_explanation_column_names_file_and_field(run: Path) -> None:
    pd.DataFrame({"user_id": ["U0"], "item_id": ["I0"], "reference": ["r"]}).to_parquet(EXPLAINERS["xrec"])
    with pytest.raises(InputError, match=r"explanations.parquet.*'explanation'"):
        sample()


def test_plot_specs_read_both_forms() -> None:
    specs = plot_specs(PLOTS)
    assert specs == [PlotSpec("data/recpie/rounds.csv", Path("data/recpie/rounds.csv"), "line", "round", ("rmse", "reward")),
                     PlotSpec("ablation_gptscore", Path("metrics/plots/eval.csv"), "bar", "gptscore", ("gptscore",), "method")]


def test_a_dvclive_tsv_curve_is_read_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "loss.tsv"
    path.write_text("step\tloss\n1\t1.8\n2\t1.5\n")
    table = read_plot(PlotSpec("sft_loss", path, "line", "step", ("loss",)))
    assert list(table["step"]) == [1, 2] and list(table["loss"]) == [1.8, 1.5]


@pytest.mark.parametrize("plots, field", [({"a": {}}, "plots"), ([{"a": {"y": "v"}}], "plots.a.x"),
                                          ([{"a": {"x": "s", "y": 3}}], "'y'"), (["loss.csv"], "plots")])
def test_bad_plot_spec(plots: object, field: str) -> None:
    with pytest.raises(InputError, match=field):
        plot_specs(plots, "dvc.yaml")


def test_plot_csv_missing_column(run: Path) -> None:
    spec = PlotSpec("recpie_rounds", Path("data/recpie/rounds.csv"), "line", "round", ("rmse", "kl"))
    with pytest.raises(InputError, match=r"rounds.csv.*'kl'"):
        read_plot(spec)
    with pytest.raises(InputError, match="run `dvc repro`"):
        read_plot(PlotSpec("gone", Path("metrics/plots/gone.csv"), "line", "x", ("y",)))


def test_csv_table_as_markdown(run: Path) -> None:
    text = read_text_table("data/recpie/rounds.csv")
    assert text.splitlines()[:3] == ["| round | rmse | reward |", "|---:|---:|---:|", "| 0 | 0.325 | -0.3 |"]
    html = markdown_html(text)
    assert "<table>" in html and "<td style=\"text-align:right\">0.325</td>" in html
    assert markdown_html("## Table\n<b>x</b>").startswith("<h4>Table</h4>")
    assert "&lt;b&gt;" in markdown_html("<b>x</b>")  # raw HTML stays text


def page(run: Path) -> str:
    tables = [TableSource("Quality", Path("metrics/eval_table.md")), TableSource("Rounds", Path("data/recpie/rounds.csv"))]
    return render_page(ReportConfig(title="tiny <report>"), tables, plot_specs(PLOTS), sample())


def test_page_escapes_text_and_inlines_plots(run: Path) -> None:
    html = page(run)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; fits" in html
    assert "<title>tiny &lt;report&gt;</title>" in html
    assert html.count("<svg") == 2 and "reward" in html and "gptscore" in html
    fetched = re.findall(r'(?:src|href)="(?!#)[^"]*"|<link\b|@import|url\((?!#)', html)
    assert not fetched  # the page loads nothing: no script, style, image or font from anywhere
    assert html.count('<tr class="pair"') == 12 and "Book 3" in html and "lr pro 0" in html


def test_page_is_deterministic(run: Path) -> None:
    assert page(run) == page(run)


def test_report_metrics_count_what_the_page_holds(run: Path) -> None:
    s = sample()
    html = page(run)
    m = report_metrics(html, [TableSource("Quality", Path("metrics/eval_table.md"))], plot_specs(PLOTS), s)
    assert m == {"tables": 1, "plots": 2, "pairs": 12, "methods": ["full", "xrec", "LR-Recsys"],
                 "explained_pairs": {"full": 12, "xrec": 12, "LR-Recsys": 6}, "summary": {},
                 "bytes": len(html.encode())}
