"""Fixtures of the deliverable tests (issue 5): the bundle of the session's demo
warehouse (tests/conftest.py `warehouse`, built once per session)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bundle(warehouse, tmp_path_factory):
    """Export + report of the demo warehouse into a temporary bundle directory."""
    from quant_safety.bundle.export import export
    from quant_safety.bundle.report import build_report

    out = tmp_path_factory.mktemp("bundle")
    result = export(warehouse, out_dir=out)
    report = build_report(warehouse, out_dir=out)
    return {"dir": out, "export": result, "report": report}


@pytest.fixture()
def cli_env(warehouse, monkeypatch):
    """Environment under which `qsafety` (cli.main) uses the session warehouse."""
    monkeypatch.setenv("QSAFETY_DB", str(warehouse.db_path))
    monkeypatch.setenv("QSAFETY_RAW_DIR", str(warehouse.raw_dir))
    monkeypatch.setenv("QSAFETY_MANIFEST_DIR", str(warehouse.manifest_dir))
    monkeypatch.setenv("QSAFETY_OUT", str(warehouse.out_dir))
    return warehouse


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (Debian's `chromium`): skipped locally when absent, required in CI
    (.ci/run installs it)."""
    import os

    from quant_safety import browser

    path = browser.find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    return browser
