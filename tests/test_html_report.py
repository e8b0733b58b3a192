"""HTML report: self-contained, escaped, and its interaction graph matches the findings.

The browser test renders the page in headless Chromium (Debian package ``chromium``), takes a
screenshot and reads back how many graph nodes and edges the browser actually drew. It is
skipped where Chromium is not installed, except under CI (``CI=true``), where it must run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from itertools import combinations
from pathlib import Path

import pytest

from medkg import check
from medkg.knowledge_base import KnowledgeBase
from medkg.render.html import render_html
from medkg.report import Report

PATIENT = {
    "id": "html-test",
    "age_years": 78.0,
    "crcl_ml_min": 25.0,
    "medications": [
        {"drug": "baclofen", "dose_mg": 10.0, "times_per_day": 3.0},
        {"drug": "trazodone", "dose_mg": 50.0, "times_per_day": 1.0},
        {"drug": "gabapentin", "dose_mg": 300.0, "times_per_day": 3.0},
        {"drug": "oxycodone", "dose_mg": 5.0, "times_per_day": 2.0},
        {"drug": "notadrugium"},
    ],
}


def _expected(report: Report) -> tuple[int, int]:
    """Nodes: identified drugs; edges: drug pairs that share a finding about several drugs."""
    drugs = {a.drug for a in report.assessed}
    pairs = {
        pair
        for f in report.findings
        if f.kind != "not-assessed"
        for pair in combinations(sorted(set(f.drugs) & drugs), 2)
    }
    return len(drugs), len(pairs)


@pytest.fixture(scope="module")
def report(kb: KnowledgeBase) -> Report:
    return check(PATIENT, kb=kb)


def test_html_is_self_contained_and_holds_every_finding(report: Report) -> None:
    page = render_html(report)
    assert not re.search(r"""(src|href)=["'](?!https?://|#)""", page), "no local resources"
    assert not re.search(r"""<(link|img|script)[^>]+(src|href)=""", page), "no external resources"
    assert report.disclaimer in page
    nodes, edges = _expected(report)
    assert page.count('<g class="node"') == nodes == 4
    assert page.count('<line class="edge"') == edges
    assert edges >= 3  # baclofen, gabapentin and oxycodone: Beers 2023 Table 5, three CNS-active drugs
    for finding in report.findings:
        assert (finding.title or finding.summary).replace("'", "&#39;").replace('"', "&#34;") in page
    assert "notadrugium" in page  # the unidentified medication is reported, not dropped


def test_html_escapes_input_text(kb: KnowledgeBase) -> None:
    page = render_html(check({"id": "<script>alert(1)</script>", "medications": [{"drug": "<b>x</b>"}]}, kb=kb))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<b>x</b>" not in page


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI") == "true":
        pytest.fail("chromium is required under CI (.ci/run installs the Debian package)")
    return found


def test_browser_renders_the_graph(report: Report, tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1400"]
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    nodes = int(re.search(r'data-rendered-nodes="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    edges = int(re.search(r'data-rendered-edges="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    assert (nodes, edges) == _expected(report)
