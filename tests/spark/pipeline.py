"""A Spark build in one process (one JVM, one Derby metastore boot), for the
Spark tests and the bench.

`qsafety build` on the Spark target runs five processes one after the other:
dbt (models and tests), the statistics step, dbt again (claim_ledger), the
gate and the export, each starting its own JVM and booting the embedded Derby
metastore (the metastore admits one process at a time, so they cannot
overlap). Each start costs 20-45 s on this machine. This module runs the same
steps with the same code in one process: dbt through its Python API
(dbtRunner, whose dbt-spark `session` connection creates the SparkSession in
this process and never stops it), then quant_safety.stats_step.run_stats_step,
dbt for claim_ledger+, the gate and quant_safety.bundle.export.export, all of which
open the warehouse reader: SparkSession.builder.getOrCreate() returns the
session dbt created, and the reader's close() is made a no-op here so that the
session outlives each step (it is stopped at the end).

What differs from `qsafety build` (say so wherever a result of this module is
reported):
  * `--no-dbt-tests` builds seeds and models only (dbt's data and unit tests
    are not run on Spark). The tests are the same SQL as on DuckDB; the Spark
    tests compare every exported table with the DuckDB build's, whose tests ran.
  * `--no-gate` skips the Great Expectations gate; `--no-data-docs` runs it
    but does not render Data Docs HTML.
  * no pre-flight hash audit beyond what the build needs (source_audit.csv).

Usage (environment as for qsafety: QSAFETY_RAW_DIR, QSAFETY_DB,
QSAFETY_MANIFEST_DIR, QSAFETY_OUT, QSAFETY_SPARK_DIR; QSAFETY_TARGET=spark):

    python -m tests.spark.pipeline [--no-dbt-tests] [--no-gate] [--no-data-docs] [--no-export]

The last stdout line is a JSON object of step timings (seconds).

`fast_local_env()` gives the settings the tests use for a short-lived local
session on small data: local[2], 2 shuffle partitions, and the JVM's C1 JIT
only (-XX:TieredStopAtLevel=1). On the x1 demo a cold JVM spends ~110 CPU
seconds in the C2 compiler warming up Spark's own code, about a third of the
build's CPU; C1 alone compiles ~7x less and the build needs ~25% less CPU
overall (measured here: 290 -> 220 CPU s). Long or large builds want C2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

JIT_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m"


def fast_local_env(env: dict | None = None) -> dict:
    """`env` (default os.environ) with the short-lived local session settings
    (see the module doc); values already set in `env` win."""
    env = dict(os.environ if env is None else env)
    env.setdefault("QSAFETY_SPARK_CORES", "2")
    env.setdefault("QSAFETY_SPARK_SHUFFLE_PARTITIONS", "2")
    env["JAVA_TOOL_OPTIONS"] = (env.get("JAVA_TOOL_OPTIONS", "") + " " + JIT_OPTIONS).strip()
    return env


def _dbt(runner, cfg, args: list[str], dbt_vars: dict) -> None:
    from quant_safety.config import PROJECT_DIR
    from quant_safety.errors import BuildError

    result = runner.invoke([*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
                            "--vars", json.dumps(dbt_vars)])
    if not result.success:
        failed = []
        for node in getattr(result.result, "results", None) or []:
            if str(node.status).lower() in ("error", "fail"):
                failed.append(f"{node.node.name}: {(node.message or '')[:300]}")
        raise BuildError(f"dbt {' '.join(args)} failed: " + ("; ".join(failed[:3]) or repr(result.exception)))


def run(dbt_tests: bool = True, gate: bool = True, data_docs: bool = True, export: bool = True,
        dbt_vars: dict | None = None) -> dict[str, float]:
    from dbt.cli.main import dbtRunner

    from quant_safety import build as build_module
    from quant_safety.config import settings
    from quant_safety.engine import readers as warehouse_reader
    from quant_safety.engine.dbt_runner import dbt_env

    cfg = settings()
    if cfg.target != "spark":
        raise SystemExit("QSAFETY_TARGET must be spark")
    timings: dict[str, float] = {}
    start = time.monotonic()
    build_module.preflight(cfg)                      # hashes, line counts, source_audit.csv
    timings["preflight_s"] = time.monotonic() - start
    os.environ.update(dbt_env(cfg, cfg.db_path))
    variables = dict(dbt_vars or {})       # the audit is read from QSAFETY_AUDIT_DIR (dbt_env)
    # the session outlives every reader; stopped below
    warehouse_reader.SparkReader.close = lambda self: None
    runner = dbtRunner()
    only = [] if dbt_tests else ["--resource-type", "seed", "--resource-type", "model"]

    t0 = time.monotonic()
    _dbt(runner, cfg, ["build", *only, "--exclude", "tag:reads_statistics+"], variables)
    timings["dbt_build_s"] = time.monotonic() - t0

    from quant_safety.stats_step import run_stats_step

    t0 = time.monotonic()
    rows = run_stats_step(cfg.target, cfg.db_path, cfg.spark_dir)
    timings["stats_step_s"] = time.monotonic() - t0
    print("statistics: " + ", ".join(f"{k} {v}" for k, v in rows.items()), flush=True)

    t0 = time.monotonic()
    _dbt(runner, cfg, ["build", *only, "--select", "tag:reads_statistics+"], variables)
    timings["dbt_build_claims_s"] = time.monotonic() - t0

    if gate:
        from quant_safety.gate import run_gate

        t0 = time.monotonic()
        docs_dir = cfg.data_docs_dir if data_docs else None
        result = _run_gate(run_gate, cfg, docs_dir, dbt_vars)
        timings["gate_s"] = time.monotonic() - t0
        print(f"gate: {result.suites_run} suites, {result.expectations_run} expectations, "
              f"{len(result.warnings)} warnings", flush=True)

    if export:
        from quant_safety.bundle.export import export as export_bundle

        t0 = time.monotonic()
        export_bundle(cfg, dbt_vars=dbt_vars)
        timings["export_s"] = time.monotonic() - t0

    from pyspark.sql import SparkSession

    timings["cpu_s"] = _tree_cpu_seconds()      # this process and the JVM, before the JVM exits
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
    timings["total_s"] = time.monotonic() - start
    return timings


def _tree_cpu_seconds() -> float:
    """user + system CPU seconds of this process and its live children (the JVM)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _run_gate(run_gate, cfg, docs_dir: Path | None, dbt_vars: dict | None):
    """The gate; without a Data Docs dir, GX's site builder is skipped."""
    if docs_dir is not None:
        return run_gate(cfg.db_path, docs_dir, dbt_vars=dbt_vars, work_dir=cfg.work_dir,
                        target=cfg.target, spark_dir=cfg.spark_dir)
    import great_expectations as gx

    original = gx.data_context.AbstractDataContext.build_data_docs
    gx.data_context.AbstractDataContext.build_data_docs = lambda self, *a, **k: {}
    try:
        return run_gate(cfg.db_path, cfg.work_dir / "gate_docs_unused", dbt_vars=dbt_vars,
                        work_dir=cfg.work_dir, target=cfg.target, spark_dir=cfg.spark_dir)
    finally:
        gx.data_context.AbstractDataContext.build_data_docs = original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-dbt-tests", action="store_true")
    parser.add_argument("--no-gate", action="store_true")
    parser.add_argument("--no-data-docs", action="store_true")
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args(argv)
    timings = run(dbt_tests=not args.no_dbt_tests, gate=not args.no_gate, data_docs=not args.no_data_docs,
                  export=not args.no_export)
    print(json.dumps({k: round(v, 1) for k, v in timings.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
