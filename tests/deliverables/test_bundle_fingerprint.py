"""The build fingerprint (quant_safety.uptodate) in the warehouse and in the bundle."""
from __future__ import annotations

import json

import duckdb

from quant_safety import manifest, uptodate


def test_the_warehouse_records_its_fingerprint_and_the_bundle_copies_it(warehouse, bundle):
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        rows = con.execute("select fingerprint, components, inputs from build_fingerprint").fetchall()
    assert len(rows) == 1
    digest, components, inputs = rows[0]
    components = json.loads(components)
    assert len(digest) == 64 and set(components) == {"raw", "lockdir", "project", "vars", "packages",
                                                      "environment"}
    detail = json.loads(inputs)["detail"]
    # every file of the lockfile, with the sha256 the lockfile itself records
    locked = {r["source_label"]: r["sha256"] for r in manifest.read_manifest(warehouse.manifest_path)}
    assert {label: v[1] for label, v in detail["raw"]["files"].items()} == locked
    assert "models/marts/matrix.sql" in detail["project"] and "seeds/reference/metric_ranges.csv" in detail["project"]
    run_manifest = json.loads((bundle["dir"] / "run_manifest.json").read_text())
    assert run_manifest["build_fingerprint"]["fingerprint"] == digest
    assert uptodate.bundle_fingerprint(bundle["dir"]) == digest
