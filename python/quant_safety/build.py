"""The main job: audit the raw files, build the warehouse with dbt, run the
data-quality gate, and swap the new warehouse file in atomically.

The build writes into `<db>.building` (a copy of the current warehouse, so the
incremental staging models skip files already ingested) and replaces the
warehouse file with os.replace only after `dbt build` (models + tests) and the
gate pass. A reader holding the old file open keeps its snapshot; a failed
build leaves the previous file byte-identical.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest
from .config import Settings, settings
from .dbt_runner import run_dbt
from .errors import InputError
from .gate import GateResult, publish_data_docs, run_gate, import_libraries as import_gate_libraries
from .progress import Progress
from .stats_step import run_stats_step_subprocess
from .warehouse_reader import open_reader


def _import_gate_libraries() -> None:
    """The gate's imports (~2-3 s), done while dbt runs in its subprocess and this
    process only streams dbt's output. A failure here is ignored: the gate's own
    import raises it with its traceback."""
    try:
        import_gate_libraries()
    except Exception:  # noqa: BLE001
        pass


@dataclass
class BuildReport:
    db_path: Path
    data_docs_index: Path | None
    timings: dict = field(default_factory=dict)
    gate_warnings: list = field(default_factory=list)
    expectations_run: int = 0
    suites_run: int = 0
    dbt_results: dict = field(default_factory=dict)   # resource type -> status -> count (run_results.json)
    claims: dict = field(default_factory=dict)        # claim_ledger status -> count
    regimes: dict = field(default_factory=dict)       # matrix regime -> cells
    log_path: Path | None = None
    gate_run: str | None = None                       # the gate's GX run name (git commit + UTC time)
    gate_history: int = 0                             # runs in this warehouse's validation history


def preflight(cfg: Settings, rehash: bool = False, say=lambda msg: None) -> list[dict]:
    """Hash and count every manifest file; raise InputError naming each difference.

    A file unchanged since this warehouse's last build hashed it (same inode,
    size, mtime, ctime) is not re-read: its hash comes from `<build dir>/file_hashes.json`
    (`manifest.audit_sources`). `rehash` reads every file."""
    rows = manifest.read_manifest(cfg.manifest_path)
    if not cfg.raw_dir.is_dir():
        raise InputError(f"{cfg.raw_dir}: raw directory not found (set QSAFETY_RAW_DIR or run `make demo`)")
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    audits = manifest.audit_sources(cfg.raw_dir, rows, stat_cache=cfg.work_dir / "file_hashes.json",
                                    rehash=rehash)
    reused = sum(a.reused for a in audits)
    if reused:
        say(f"  {reused} of {len(audits)} files unchanged since they were last hashed (same inode, size, "
            f"mtime, ctime): not re-read (`--rehash` reads them)")
    manifest.write_audit(audits, cfg.work_dir / "source_audit.csv")
    problems = manifest.check_against_manifest(cfg.raw_dir, rows, audits)
    if problems:
        raise InputError(problems[0] + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""))
    extra = manifest.unlisted_files(cfg.raw_dir, rows)
    if extra:
        print(f"  note: {len(extra)} .jsonl file(s) in the raw dir are not in the manifest and are ignored "
              f"(run `qsafety lock` to add them): {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
    return rows


def build(cfg: Settings | None = None, dbt_vars: dict | None = None, full_refresh: bool = False,
          select: str | None = None, quiet: bool = False, gate: bool = True,
          docs: bool = False, rehash: bool = False, progress: Progress | None = None) -> BuildReport:
    """`rehash` (implied by `full_refresh`) re-reads every raw file in the
    pre-flight audit instead of trusting the stat cache. `gate=False` skips the
    data-quality gate (tests on raw fixtures that are not a complete matrix);
    the CLI always runs it. `docs=True` also writes the
    dbt docs site into the build's dbt target dir, from the project just parsed
    and compiled (`--no-compile`: no second parse or compile, the catalog read
    from the new warehouse); `export_dbt_docs` copies it from there.
    `progress`: where stage lines go (quant_safety.progress); by default a
    Progress of its own (silent with `quiet`) logging dbt's output to
    `<build dir>/dbt_logs/build_output.log`."""
    cfg = cfg or settings()
    timings: dict[str, float] = {}
    start = time.monotonic()
    log_path = cfg.work_dir / "dbt_logs" / "build_output.log"
    own_progress = progress is None
    if own_progress:
        progress = Progress(quiet=quiet, log_path=log_path)
    try:
        report = _build(cfg, dbt_vars, full_refresh, select, gate, docs, rehash, progress, timings, start)
    finally:
        if own_progress:
            progress.close()
    report.log_path = progress.log_path
    return report


def _build(cfg, dbt_vars, full_refresh, select, gate, docs, rehash, progress, timings, start) -> BuildReport:
    say = progress.print
    with progress.stage("[1/4] pre-flight audit") as stage:
        stage.update(f"hashing the files of {cfg.manifest_path.name}")
        rows = preflight(cfg, rehash=rehash or full_refresh, say=say)
        stage.done(f"{len(rows)} files match the lockfile")
    timings["preflight_s"] = time.monotonic() - start

    spark = cfg.target == "spark"
    # Spark: dbt writes the tables in place (warehouse dir + metastore under
    # cfg.spark_dir); there is no file to copy and swap.
    building = cfg.db_path if spark else cfg.building_db_path
    if not spark:
        for leftover in (building, building.with_name(building.name + ".wal")):
            leftover.unlink(missing_ok=True)
    cfg.db_path.parent.mkdir(parents=True, exist_ok=True)
    if cfg.db_path.exists() and not full_refresh and not spark:
        shutil.copy2(cfg.db_path, building)
    if gate:
        threading.Thread(target=_import_gate_libraries, name="import-gate", daemon=True).start()
    dbt_results: dict = {}
    try:
        t0 = time.monotonic()
        args = ["build"] + (["--full-refresh"] if full_refresh else [])
        if select:   # a partial build runs only the tests whose parents are all built
            args += ["--select", select, "--indirect-selection", "cautious"]
        if spark:
            # dbt-spark runs no dbt Python models off Databricks: the statistics
            # tables come from a Python step between two dbt runs, and the
            # models that read them (tag reads_statistics: claim_values,
            # claim_ledger) are built after it.
            args += ["--exclude", "tag:reads_statistics+"]
        with progress.stage(f"[2/4] dbt build into {'the Spark target' if spark else building.name}") as stage:
            stage.update("dbt: starting")
            run_dbt(cfg, building, args, dbt_vars=dbt_vars, on_line=stage.dbt_line)
            dbt_results = dbt_result_counts(cfg.work_dir / "dbt_target" / "run_results.json")
            stage.done(_dbt_counts_text(dbt_results))
        timings["dbt_build_s"] = time.monotonic() - t0
        if spark and _selects_claim_ledger(cfg, building, select, dbt_vars):
            t0 = time.monotonic()
            with progress.stage("[2b/4] statistics step (quant_safety.stats on the Spark matrix)") as stage:
                rows = run_stats_step_subprocess(cfg.target, building, cfg.spark_dir)
                stage.done(", ".join(f"{name}: {n} rows" for name, n in rows.items()))
            timings["stats_step_s"] = time.monotonic() - t0
            t0 = time.monotonic()
            with progress.stage("[2c/4] dbt build of claim_values and claim_ledger") as stage:
                run_dbt(cfg, building, ["build", "--select", "tag:reads_statistics+"], dbt_vars=dbt_vars,
                        on_line=stage.dbt_line)
                _merge_counts(dbt_results, dbt_result_counts(cfg.work_dir / "dbt_target" / "run_results.json"))
            timings["dbt_build_claims_s"] = time.monotonic() - t0

        if docs:
            # before the gate: on Spark the gate holds the embedded metastore until
            # this process exits, and dbt runs in a subprocess
            t0 = time.monotonic()
            built_docs_dir(cfg).joinpath("index.html").unlink(missing_ok=True)
            with progress.stage("[2d/4] dbt docs generate") as stage:
                run_dbt(cfg, building, ["docs", "generate", "--static", "--no-compile"], dbt_vars=dbt_vars,
                        on_line=stage.dbt_line)
            timings["dbt_docs_s"] = time.monotonic() - t0
        if gate:
            t0 = time.monotonic()
            with progress.stage("[3/4] data-quality gate (Great Expectations)") as stage:
                stage.update("validating warehouse summaries")
                # the new Data Docs are built beside the live ones and swapped in with the warehouse
                gate_result = run_gate(building, cfg.data_docs_dir, dbt_vars=dbt_vars, work_dir=cfg.work_dir,
                                       target=cfg.target, spark_dir=cfg.spark_dir, publish=False)
                stage.done(f"{gate_result.expectations_run} expectations in {gate_result.suites_run} suites, "
                           f"{len(gate_result.warnings)} warning(s)")
            timings["gate_s"] = time.monotonic() - t0
        else:
            gate_result = GateResult(success=True)
        claims, regimes = ({}, {}) if spark else _ledger_counts(building)
    except BaseException:
        if not spark:
            building.unlink(missing_ok=True)
        raise
    with progress.stage("[4/4] swap") as stage:
        if spark:
            stage.done(f"Spark tables written in place under {cfg.spark_dir}, no file to swap")
        else:
            os.replace(building, cfg.db_path)
            stage.done(f"{cfg.db_path.name} replaced atomically" + (", Data Docs with it" if gate_result.site_dir else ""))
        publish_data_docs(gate_result, cfg.data_docs_dir)
    timings["total_s"] = time.monotonic() - start
    return BuildReport(cfg.db_path, gate_result.data_docs_index, timings, gate_result.warnings,
                       gate_result.expectations_run, suites_run=gate_result.suites_run,
                       dbt_results=dbt_results, claims=claims, regimes=regimes, gate_run=gate_result.run_name,
                       gate_history=gate_result.history_runs)


def dbt_result_counts(run_results: Path) -> dict:
    """{resource type: {status: count}} of one dbt invocation (its run_results.json)."""
    import json

    counts: dict = {}
    try:
        results = json.loads(run_results.read_text(encoding="utf-8")).get("results", [])
    except (OSError, ValueError):
        return counts
    for r in results:
        kind = str(r.get("unique_id", "")).split(".", 1)[0]
        status = str(r.get("status"))
        counts.setdefault(kind, {}).setdefault(status, 0)
        counts[kind][status] += 1
    return counts


def _merge_counts(into: dict, more: dict) -> None:
    for kind, statuses in more.items():
        for status, n in statuses.items():
            into.setdefault(kind, {}).setdefault(status, 0)
            into[kind][status] += n


_KIND_NAMES = {"model": "models", "seed": "seeds", "test": "data tests", "unit_test": "unit tests",
               "snapshot": "snapshots"}


def _dbt_counts_text(counts: dict) -> str:
    """'59 models, 8 seeds, 236 data tests, 10 unit tests' (+ 'W warn' / 'S skipped' when any)."""
    parts = [f"{sum(counts[k].values())} {name}" for k, name in _KIND_NAMES.items() if k in counts]
    warned = sum(c.get("warn", 0) for c in counts.values())
    skipped = sum(c.get("skipped", 0) for c in counts.values())
    return ", ".join(parts + ([f"{warned} warned"] if warned else []) + ([f"{skipped} skipped"] if skipped else []))


def _ledger_counts(db_file: Path) -> tuple[dict, dict]:
    """claim_ledger status counts and matrix regime counts of the new warehouse (summary line)."""
    import duckdb

    try:
        with duckdb.connect(str(db_file), read_only=True) as con:
            tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
            claims = dict(con.execute("select status, count(*) from claim_ledger group by all order by 2 desc")
                          .fetchall()) if "claim_ledger" in tables else {}
            regimes = dict(con.execute("select regime, count(*) from matrix group by all order by 2 desc")
                           .fetchall()) if "matrix" in tables else {}
    except duckdb.Error:
        return {}, {}
    return claims, regimes


def built_docs_dir(cfg: Settings) -> Path:
    """Where `build(docs=True)` leaves the dbt docs site (the build's dbt target dir)."""
    return cfg.work_dir / "dbt_target"


def _selects_claim_ledger(cfg: Settings, db_file: Path, select: str | None, dbt_vars: dict | None) -> bool:
    """Whether a (partial) build's selection includes claim_ledger."""
    if not select:
        return True
    lines = run_dbt(cfg, db_file, ["ls", "--quiet", "--resource-type", "model", "--output", "name",
                                   "--select", select], dbt_vars=dbt_vars, quiet=True)
    return any(line.strip() == "claim_ledger" for line in lines)


def lock(cfg: Settings | None = None, quiet: bool = False, new_wave: bool = False,
         progress: Progress | None = None) -> list[str]:
    """Refresh the source manifest for the files in the raw dir, like a lockfile.

    Hashes and counts every file, adds new *.jsonl files (kind sniffed from
    their records), drops missing ones, then builds the staging layer into a
    scratch warehouse to record the expected loaded rows. Returns what changed.
    """
    cfg = cfg or settings()
    own_progress = progress is None
    if own_progress:
        progress = Progress(quiet=quiet, log_path=cfg.work_dir / "dbt_logs" / "lock_output.log")
    try:
        return _lock(cfg, new_wave, progress)
    finally:
        if own_progress:
            progress.close()


def _lock(cfg: Settings, new_wave: bool, progress: Progress) -> list[str]:
    template = manifest.read_manifest(cfg.manifest_path) if cfg.manifest_path.exists() \
        else manifest.default_manifest_rows()
    old = {r["source_label"]: r for r in template}
    with progress.stage("[1/2] hashing and counting the raw files") as stage:
        rows, notes = manifest.refresh_rows(cfg.raw_dir, template, new_wave=new_wave)
        manifest.write_manifest(rows, cfg.manifest_path)
        audits = manifest.audit_sources(cfg.raw_dir, rows)
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        manifest.write_audit(audits, cfg.work_dir / "source_audit.csv")
        stage.done(f"{len(rows)} files")
    scratch = cfg.work_dir / "lock_scratch.duckdb"
    scratch.unlink(missing_ok=True)
    try:
        with progress.stage("[2/2] staging build in a scratch file (loaded rows per file)") as stage:
            run_dbt(cfg, scratch, ["build", "--select", "+raw_reconciliation", "--exclude", "test_type:data",
                                   "test_type:unit"], target_dir="dbt_target_lock", on_line=stage.dbt_line)
            with open_reader(cfg.target, scratch, cfg.spark_dir) as con:
                loaded = dict(con.rows("select source_label, loaded_rows from raw_reconciliation"))
    finally:
        scratch.unlink(missing_ok=True)
    for row in rows:
        row["expected_loaded_rows"] = loaded.get(row["source_label"], 0)
        before = old.get(row["source_label"])
        if before and str(before.get("expected_loaded_rows", "")) not in ("", str(row["expected_loaded_rows"])):
            notes.append(f"changed {row['source_label']}: loaded rows {before['expected_loaded_rows']} -> "
                         f"{row['expected_loaded_rows']}")
    manifest.write_manifest(rows, cfg.manifest_path)
    if not notes:
        notes.append("no change: every file matches the manifest")
    return notes
