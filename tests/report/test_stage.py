"""The report stage as `dvc repro` runs it (dvc.yaml's command) on a tiny run, and the page in a real browser."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.report.fixtures import write_inputs
from tests.test_stages import assert_one_line_error, no_outputs, stage

ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    write_inputs(tmp_path)
    return tmp_path


@pytest.fixture
def built(workdir: Path) -> Path:
    proc = stage(workdir, "report")
    assert proc.returncode == 0, proc.stderr
    assert "report: data/report/index.html: 6 tables, 2 plots, 12 test pairs, 4 methods, 4 summary rows" in proc.stdout
    return workdir


def test_stage_writes_page_and_metrics(built: Path) -> None:
    assert [p.name for p in (built / "data/report").iterdir()] == ["index.html"]
    m = json.loads((built / "metrics/report.json").read_text())
    assert m["methods"] == ["full", "xrec", "LR-Recsys", "RecPIE"]
    assert m["explained_pairs"] == {"full": 12, "xrec": 12, "LR-Recsys": 6, "RecPIE": 6}
    html = (built / "data/report/index.html").read_text()
    assert m["bytes"] == len(html.encode()) and "RecPIE (paper 002), per round" in html and "rl con 4" in html
    assert {k: r["excludes_0"] for k, r in m["summary"].items()} == {
        "pghis_cpeg_sft": True, "lrrecsys": False, "xrec": None, "recpie": True}


def test_stage_rerun_gives_the_same_page(built: Path) -> None:
    first = (built / "data/report/index.html").read_bytes()
    assert stage(built, "report").returncode == 0
    assert (built / "data/report/index.html").read_bytes() == first


def test_missing_table_is_one_line_and_leaves_nothing(workdir: Path) -> None:
    (workdir / "metrics/xrec_table.md").unlink()
    assert_one_line_error(stage(workdir, "report"), "metrics/xrec_table.md", "run `dvc repro`")
    assert no_outputs(workdir, "data/report", "metrics/report.json")


def test_bad_param_and_bad_option(workdir: Path) -> None:
    params = workdir / "params.yaml"
    params.write_text(params.read_text().replace("sample_pairs: 0", "sample_pairs: many"))
    assert_one_line_error(stage(workdir, "report"), "report.sample_pairs")
    proc = subprocess.run([sys.executable, "stages/report.py", "--table", "no title"], cwd=workdir,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "expected TITLE=PATH, got 'no title'" in proc.stderr
    assert no_outputs(workdir, "data/report", "metrics/report.json")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI has no chromium: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no chromium on PATH: apt-get install chromium to run the browser test")
    return found


def browse(page: Path, profile: Path, *args: str, fragment: str = "") -> subprocess.CompletedProcess:
    """Headless chromium on ``page`` (``--dump-dom`` prints the DOM after the page's script ran)."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           *args, page.resolve().as_uri() + fragment]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_missing_predictions_is_one_line_and_leaves_nothing(workdir: Path) -> None:
    (workdir / "data/recpie/predictions.parquet").unlink()
    assert_one_line_error(stage(workdir, "report"), "data/recpie/predictions.parquet", "recpie stage")
    assert no_outputs(workdir, "data/report", "metrics/report.json")


#: the browser's window: the screenshot is this viewport, the summary must be inside it
VIEWPORT = (1400, 900)
#: appended to a copy of the page: the summary table's box and the DOM order, written where --dump-dom shows them
PROBE = """<script>
var s = document.getElementById("summary-table"), t = document.querySelector(".table-section");
var h = Array.prototype.filter.call(document.querySelectorAll("h2"), function (e) { return e.textContent === "Summary"; })[0];
document.body.setAttribute("data-probe", JSON.stringify({top: s.getBoundingClientRect().top, viewport: window.innerHeight,
  before: !!(h && t && (h.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING)
             && (s.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING))}));
</script>"""


@pytest.mark.slow
def test_page_in_a_real_browser(built: Path, tmp_path: Path) -> None:
    page = built / "data/report/index.html"
    size = f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}"
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "\n</body>"))
    dom = browse(probed, tmp_path / "profile", "--dump-dom", size)
    assert dom.returncode == 0, dom.stderr
    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom.stdout).group(1)))
    # the summary opens the page: inside the first viewport, and before the first detailed table in the DOM
    assert probe["before"] and 0 <= probe["top"] < probe["viewport"], probe
    assert all(f'<td class="excludes-0">{v}</td>' in dom.stdout for v in ("yes", "no", "n/a"))
    assert '<th style="text-align:right">GPTScore</th>' in dom.stdout and "xrec says U5 will enjoy I2" in dom.stdout
    assert '<span id="pager-status">rows 1-12 of 12, page 1 of 1</span>' in dom.stdout  # the script ran
    filtered = browse(page, tmp_path / "profile", "--dump-dom", fragment="#filter=U5")
    assert '<span id="pager-status">rows 1-2 of 2 (filtered from 12), page 1 of 1</span>' in filtered.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    proc = browse(page, tmp_path / "profile", f"--screenshot={shot}", size)  # the viewport: the top of the page
    assert proc.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", proc.stderr
