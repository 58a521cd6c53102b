"""A plain `dbt build` from a fresh copy of the project (the repo's
profiles.yml, no `qsafety` step before it, no --vars) gives the same warehouse
as `qsafety build`: the same tables, every table's rows equal (the matrix, the
cells, the reconciliation, the source audit included), and `dbt docs generate`
writes the catalog `dbt docs serve` needs, with lineage from the raw sources.

DuckDB only: on the Spark target the source audit is `qsafety build`'s
pre-flight (a plain dbt run there stops with one line saying so)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from quant_safety.config import PROJECT_DIR

# Row-order-free comparison, exact, except the doubles of the statistics tables and
# of the claim ledger that reads them: compared to 12 significant digits, because
# their last bits depend on BLAS threading, which `qsafety build` pins to one thread
# and a plain dbt run leaves to the machine (on the 2-core CI box they come out equal).
ROUND_DIGITS = 12
# doubles compared to 12 significant digits: the statistics, the ledger, and kappa's standard
# error (a sum over label categories whose last bit follows DuckDB's aggregation order:
# measured differences between two builds ~1e-17)
ROUNDED = ({p.stem for p in (PROJECT_DIR / "models" / "stats").glob("*.py")}
           | {"claim_ledger", "claim_values", "second_judge_agreement"})


def _fresh_copy(dest: Path) -> Path:
    """The project's files as a fresh checkout has them (git's list: no data/, target/ or venv)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        ).stdout
        files = [f for f in listed.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no committed file list to copy")
    for rel in files:
        source = PROJECT_DIR / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


@pytest.fixture(scope="module")
def plain_dbt(tmp_path_factory, warehouse):
    """`dbt build` then `dbt docs generate --no-compile` (the catalog from the built file, no second
    compile) in a fresh copy, on the session's demo raw data."""
    if warehouse.target != "duckdb":
        pytest.skip("plain dbt runs on the duckdb target")
    project = _fresh_copy(tmp_path_factory.mktemp("checkout") / "quant_safety")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QSAFETY_", "DBT_"))}
    # the session warehouse's raw dir; its lockfile is the one the copy ships (seeds/manifest)
    env.update(QSAFETY_RAW_DIR=str(warehouse.raw_dir), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    dbt = str(Path(sys.executable).with_name("dbt"))
    timings = {}
    # a warehouse file left by an earlier `qsafety build`: its fingerprint row and parse code
    # key must not outlive a plain dbt run (on-run-start forget_build_record), or the next
    # qsafety build would call the warehouse up to date or reuse parse rows of other code
    (project / "data").mkdir(exist_ok=True)
    import duckdb

    with duckdb.connect(str(project / "data" / "warehouse.duckdb")) as con:
        con.execute("create table build_fingerprint as select 'stale' as fingerprint")
        con.execute("create table parse_code_key as select 'stale' as code_key")
    for name, args in (("build", ["build"]), ("docs", ["docs", "generate", "--no-compile"])):
        start = time.monotonic()
        proc = subprocess.run([dbt, "--no-use-colors", *args], cwd=project, env=env, capture_output=True, text=True)
        timings[name] = time.monotonic() - start
        assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-4000:]}"
        if name == "build":   # docs generate writes its own run_results.json
            shutil.copy2(project / "target" / "run_results.json", project / "build_run_results.json")
    return project, timings


def _tables(con, catalog: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'main'",
        [catalog]).fetchall()}


def _comparable(con, catalog: str, table: str) -> str:
    if table not in ROUNDED:
        return f'select * from {catalog}.main."{table}"'

    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = 'main' and table_name = ? order by ordinal_position",
        [catalog, table]).fetchall()
    exprs = []
    for name, kind in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        exprs.append(f"case when isfinite({quoted}) and {quoted} <> 0 then round({quoted}, {ROUND_DIGITS} - "
                     f"cast(ceil(log10(abs({quoted}))) as integer)) else {quoted} end"
                     if kind in ("DOUBLE", "FLOAT") else quoted)
    return f"select {', '.join(exprs)} from {catalog}.main.\"{table}\""


def test_plain_dbt_build_equals_qsafety_build(plain_dbt, warehouse):
    project, timings = plain_dbt
    plain_db = project / "data" / "warehouse.duckdb"      # the profile's default path
    assert plain_db.exists(), "plain dbt build wrote no data/warehouse.duckdb"
    with duckdb.connect() as con:
        con.execute("attach ? as plain (read_only)", [str(plain_db)])
        con.execute("attach ? as built (read_only)", [str(warehouse.db_path)])
        # build_fingerprint, parse_code_key: written by qsafety build only, dropped by every dbt run
        tables = _tables(con, "built") - {"build_fingerprint", "parse_code_key"}
        assert _tables(con, "plain") == tables
        assert {"matrix", "int_cells", "int_cell_metrics", "audit_reconciliation", "audit_sources",
                "audit_source_files", "audit_source_chunks", "claim_ledger"} <= tables
        differ = {}
        for table in sorted(tables):
            a, b = _comparable(con, "plain", table), _comparable(con, "built", table)
            rows = con.execute(f"select (select count(*) from ({a})), (select count(*) from ({b}))").fetchone()
            extra = con.execute(f"select count(*) from (({a}) except all ({b}))").fetchone()[0]
            missing = con.execute(f"select count(*) from (({b}) except all ({a}))").fetchone()[0]
            if rows[0] != rows[1] or extra or missing:
                differ[table] = (rows, extra, missing)
        assert not differ, f"tables that differ (rows plain/qsafety, extra, missing): {differ}"
        # the counts reconcile in the plain build, on every file
        bad = con.execute("select count(*) from plain.main.audit_reconciliation where not balanced").fetchone()[0]
        assert bad == 0
    print(f"plain dbt: build {timings['build']:.1f}s, docs generate {timings['docs']:.1f}s")


def test_plain_dbt_docs_have_the_catalog_and_lineage_from_the_raw_files(plain_dbt):
    project, _ = plain_dbt
    target = project / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    assert "model.quant_safety.matrix" in catalog["nodes"]
    graph = json.loads((target / "manifest.json").read_text())
    sources = {k: v for k, v in graph["sources"].items() if v["source_name"] == "raw"}
    assert {v["name"] for v in sources.values()} == {"quality", "safety", "judge", "safety_text", "second_judge"}
    parents = graph["parent_map"]
    for model in ("audit_source_files", "audit_source_chunks"):
        assert set(sources) <= set(parents[f"model.quant_safety.{model}"])
    # lineage: every staging parse model descends from the raw sources through the audit
    assert "model.quant_safety.audit_source_chunks" in parents["model.quant_safety.base_quality__lines"]
    # the source-level tests ran in the build and passed
    tests = [n for n in graph["nodes"].values() if n["resource_type"] == "test"
             and any(d.startswith("source.quant_safety.raw.") for d in n["depends_on"]["nodes"])]
    assert {t["test_metadata"]["name"] for t in tests} >= {"matches_lockfile", "unique", "not_null"}
    assert len([t for t in tests if t["test_metadata"]["name"] == "matches_lockfile"]) == 5
    results = {r["unique_id"]: r["status"] for r in
               json.loads((project / "build_run_results.json").read_text())["results"]}
    assert {results[t["unique_id"]] for t in tests} == {"pass"}
