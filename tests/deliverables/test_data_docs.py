"""The gate is a real GX project (gx/) whose Data Docs open from disk (issue 17): run ids
from the build, validation history kept per warehouse, offline assets, atomic swap."""
from __future__ import annotations

import json
import re

import duckdb
import pytest

from quant_safety.gate import run_gate

RUN_NAME = re.compile(r"^([0-9a-f]{12}|nogit)(-dirty)?-\d{8}T\d{6}Z(\.\d+)?$")
SUITES = {"source_audit", "staging_schema", "staging_types", "quality_metric_ranges", "safety_score_values",
          "judge_label_vocabulary", "cell_completeness", "matrix_integrity", "matrix_coverage"}


def _results(gx_root, suite):
    return sorted((gx_root / "uncommitted" / "validations" / suite).glob("*/*/*.json"))


def test_build_published_data_docs_and_history_beside_the_warehouse(warehouse):
    live = warehouse.data_docs_dir
    assert live.is_symlink() and (live / "index.html").exists()
    site = live.resolve()
    assert site.parent == (warehouse.work_dir / "data_docs").resolve() and RUN_NAME.match(site.name), site
    gx_root = warehouse.work_dir / "gx"
    for suite in SUITES:
        runs = _results(gx_root, suite)
        assert runs, suite
        assert RUN_NAME.match(runs[-1].parent.parent.name)
    # the exact cell count: the parameter the gate computed from the staging tables, equal to the matrix
    result = json.loads(_results(gx_root, "matrix_integrity")[-1].read_text())
    exact = [r for r in result["results"] if r["expectation_config"]["type"] == "expect_table_row_count_to_equal"]
    assert len(exact) == 1 and exact[0]["success"]
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        cells = con.execute("select count(*) from matrix").fetchone()[0]
    assert exact[0]["expectation_config"]["kwargs"]["value"] == cells == 51   # the report's 51 cells (demo data)
    assert exact[0]["result"]["observed_value"] == 51
    assert result["meta"]["active_batch_definition"]["data_asset_name"] == "matrix_integrity"
    audit = json.loads(_results(gx_root, "source_audit")[-1].read_text())
    lockfile_rows = sum(1 for _ in open(warehouse.manifest_path, encoding="utf-8")) - 1
    exact = [r for r in audit["results"] if r["expectation_config"]["type"] == "expect_table_row_count_to_equal"]
    assert exact[0]["expectation_config"]["kwargs"]["value"] == lockfile_rows


def test_data_docs_of_two_builds_render_offline(warehouse, chromium, tmp_path):
    """Two gate runs against the session warehouse (a work dir of their own): the index opened
    from disk in headless Chromium lists the validations of both, and no page loads anything
    from the network."""
    live, work = tmp_path / "warehouse_data_docs", tmp_path / "build"
    names = ["0123456789ab-20260101T000000Z", "0123456789ab-20260101T000100Z"]
    for name in names:
        result = run_gate(warehouse.db_path, live, work_dir=work, run_name=name)
        assert result.success and result.suites_run == len(SUITES) and result.run_name == name
    assert result.history_runs == 2 and live.resolve() == (work / "data_docs" / names[1]).resolve()
    pages = list(live.resolve().rglob("*.html"))
    assert len(pages) >= 1 + 2 * len(SUITES)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link|img)\b[^>]*\s(src|href)\s*=\s*[\"']?(https?:)?//", text, re.I), page
    dom = chromium.rendered_dom(live / "index.html")
    # bootstrap-table (vendored JS) filled the index table: one row per validation
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", dom, re.S)
    for name in names:
        listed = {suite for suite in SUITES for row in rows if name in row and f">{suite}<" in row}
        assert listed == SUITES, (name, SUITES - listed)
    png = chromium.screenshot(live / "index.html", tmp_path / "data_docs.png")
    assert chromium.ink_fraction(png) > 0.03
    # a validation page renders too (its asset named, not "None")
    page = next((live / "validations" / "matrix_integrity").rglob("*.html"))
    dom = chromium.rendered_dom(page)
    assert "matrix_integrity" in dom and "Data asset: None" not in dom.replace("&nbsp;", " ")


def test_gate_history_is_pruned(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("QSAFETY_GX_HISTORY", "2")
    work = tmp_path / "build"
    for k in range(3):
        result = run_gate(warehouse.db_path, None, work_dir=work, run_name=f"0123456789ab-2026010{k + 1}T000000Z")
    assert result.history_runs == 2
    kept = {p.parent.parent.name for p in _results(work / "gx", "matrix_coverage")}
    assert kept == {"0123456789ab-20260102T000000Z", "0123456789ab-20260103T000000Z"}


def test_gate_rejects_an_unknown_judge_dedupe_mode(warehouse, tmp_path):
    from quant_safety.errors import GateError

    with pytest.raises(GateError, match="judge_dedupe_mode"):
        run_gate(warehouse.db_path, None, dbt_vars={"judge_dedupe_mode": "x' or '1'='1"}, work_dir=tmp_path)
