"""Smoke test of bench/run.py's integrity floor on the demo data (×1, a few seconds):
the script the build's marginal cost is measured against does the work it claims
(every line of the lockfile gets a status) and computes the same per-cell values
as the warehouse. Not a timing test: bench/ measures."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

from quant_safety import manifest
from quant_safety.config import PROJECT_DIR


def _bench():
    spec = importlib.util.spec_from_file_location("bench_run", PROJECT_DIR / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_integrity_floor_statuses_every_line_and_matches_the_warehouse(warehouse, tmp_path):
    bench = _bench()
    cells, db = tmp_path / "cells.csv", tmp_path / "floor.duckdb"
    proc = subprocess.run([sys.executable, "-c", bench.INTEGRITY_SCRIPT, str(warehouse.manifest_path),
                           str(warehouse.raw_dir), str(PROJECT_DIR / "seeds" / "reference"), str(cells), str(db),
                           str(os.cpu_count() or 2)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = manifest.read_manifest(warehouse.manifest_path)
    assert out["lines"] == sum(int(r["expected_raw_rows"]) for r in rows)   # every raw line has a status
    check = bench.compare_floor(warehouse.db_path, cells)
    assert check.get("cells_compared", 0) > 0, check
    for key in ("max_abs_diff_refusal", "max_abs_diff_bertscore", "max_abs_diff_bias"):
        assert check[key] < 1e-9, check
