"""The main job: audit the raw files, build the warehouse with dbt, run the
data-quality gate, and swap the new warehouse file in atomically.

The build writes into `<db>.building` (a copy of the current warehouse, so the
incremental staging models skip files already ingested) and replaces the
warehouse file with os.replace only after `dbt build` (models + tests) and the
gate pass. A reader holding the old file open keeps its snapshot; a failed
build leaves the previous file byte-identical.

One build at a time: the whole build holds the warehouse lock
(buildlock.warehouse_lock) and first removes what a killed build left behind.
A stale `<db>.wal` (a DuckDB session that died while writing) is replayed into
the copy the build starts from and removed at the swap, so the new file never
sits beside a WAL that is not its own.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest, uptodate, validate
from .buildlock import remove_leftovers, warehouse_lock
from .config import DEMO_LOCK_DIR, Settings, lock_dir_beside, settings
from .demo import fingerprint as demo_fingerprint
from .engine import engine_for
from .engine.dbt_runner import dbt_env, run_dbt
from .engine.dbt_steps import STEP_MARKER
from .errors import BuildError, InputError
from .gate import GateResult, publish_data_docs, run_gate
from .gate import import_libraries as import_gate_libraries
from .lockdir import ensure_additions
from .progress import Progress
from .stats_server import serving as stats_serving

STATS_PRELOAD_MAX_RAW_BYTES = 2 * 2**30
DOCS_COMMAND = ["docs", "generate", "--static", "--no-compile"]


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
    unit_tests_passed_at: str | None = None           # unit tests skipped: code unchanged since they passed then


def preflight(cfg: Settings, rehash: bool = False, say=lambda msg: None, dbt_vars: dict | None = None,
              trusted_roots: tuple = (), audits_out: list | None = None) -> list[dict]:
    """Validate the lockfile, hash, count and chunk every manifest file; raise
    InputError naming each difference.

    A file unchanged since this warehouse's last build hashed it (same inode,
    size, mtime, ctime) is not re-read: its hash comes from `<build dir>/file_hashes.json`
    (`manifest.audit_sources`). `rehash` reads every file. `trusted_roots`:
    directories besides the raw dir that its symlinks may lead into (screen).
    `audits_out`: a list that receives the file audits (the build fingerprint)."""
    max_line = int(validate.effective_var("raw_line_max_bytes", dbt_vars))
    # the same audit a plain `dbt build` runs inside dbt (dbt_plugin.source_files)
    rows, audits = manifest.audit_lockfile(cfg.raw_dir, cfg.manifest_path, max_line_bytes=max_line,
                                           stat_cache=cfg.work_dir / "file_hashes.json", rehash=rehash,
                                           trusted_roots=trusted_roots)
    limit = engine_for(cfg).max_raw_file_bytes   # Spark reads a raw file whole into one BINARY value
    if limit is not None:
        big = next((a for a in audits if a.size_bytes > limit), None)
        if big:
            raise InputError(f"{cfg.raw_dir / big.relative_path}: {big.size_bytes} bytes; the "
                             f"{engine_for(cfg).label} target reads a raw file whole and takes at most {limit} "
                             f"(split it, or build on duckdb)")
    reused = sum(a.reused for a in audits)
    if reused:
        say(f"  {reused} of {len(audits)} files unchanged since they were last hashed (same inode, size, "
            f"mtime, ctime): not re-read (`--rehash` reads them)")
    manifest.write_audit(audits, cfg.work_dir / "source_audit.csv")
    demo_fingerprint.write_provenance(cfg.work_dir / demo_fingerprint.PROVENANCE_NAME,
                                 [{"sha256": a.sha256} for a in audits], cfg.raw_dir)
    if audits_out is not None:
        audits_out.extend(audits)
    problem = manifest.first_problem(cfg.raw_dir, rows, audits)
    if problem:
        raise InputError(problem)
    extra = manifest.unlisted_files(cfg.raw_dir, rows)
    if extra:
        print(f"  note: {len(extra)} .jsonl file(s) in the raw dir are not in the manifest and are ignored "
              f"(run `qsafety lock` to add them): {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
    return rows


def build(cfg: Settings | None = None, dbt_vars: dict | None = None, full_refresh: bool = False,
          select: str | None = None, quiet: bool = False, gate: bool = True,
          docs: bool = False, rehash: bool = False, progress: Progress | None = None,
          wait: bool = False) -> BuildReport:
    """`rehash` (implied by `full_refresh`) re-reads every raw file in the
    pre-flight audit instead of trusting the stat cache. `gate=False` skips the
    data-quality gate (tests on raw fixtures that are not a complete matrix);
    the CLI always runs it. `docs=True` also writes the
    dbt docs site into the build's dbt target dir, from the project just parsed
    and compiled (`--no-compile`: no second parse or compile, the catalog read
    from the new warehouse; on an engine whose build is one dbt run, in the same
    dbt process: engine/dbt_steps.py); `Engine.generate_docs` copies it from there.
    `progress`: where stage lines go (quant_safety.progress); by default a
    Progress of its own (silent with `quiet`) logging dbt's output to
    `<build dir>/dbt_logs/build_output.log`.
    The build holds the warehouse lock throughout (taken before anything is
    written, the log included); another holder makes it refuse at once
    (buildlock.WarehouseBusy), or wait with `wait`."""
    cfg = cfg or settings()
    dbt_vars = validate.check_dbt_vars(dbt_vars)
    with warehouse_lock(cfg, "qsafety build", wait=wait,
                        say=(lambda msg: None) if quiet else (lambda msg: print(msg, flush=True))):
        timings: dict[str, float] = {}
        start = time.monotonic()
        log_path = cfg.work_dir / "dbt_logs" / "build_output.log"
        removed = remove_leftovers(cfg)
        own_progress = progress is None
        if own_progress:
            progress = Progress(quiet=quiet, log_path=log_path)
        if removed:
            progress.print(f"  removed what an interrupted build left: {', '.join(p.name for p in removed)}")
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
        audits: list = []
        rows = preflight(cfg, rehash=rehash or full_refresh, say=say, dbt_vars=dbt_vars, audits_out=audits)
        # what this build is built from, taken before dbt reads anything: an edit made
        # while it runs leaves a fingerprint that no longer matches, so the next build
        # rebuilds (uptodate.py)
        fingerprint = uptodate.compute(cfg, dbt_vars, audits)
        stage.done(f"{len(rows)} files match the lockfile")
    timings["preflight_s"] = time.monotonic() - start

    engine = engine_for(cfg)
    # Spark: dbt writes the tables in place (warehouse dir + metastore under
    # cfg.spark_dir); there is no file to copy and swap.
    in_place = engine.builds_in_place
    building = engine.building_path()
    cfg.db_path.parent.mkdir(parents=True, exist_ok=True)
    code_key = uptodate.code_key(fingerprint)
    if cfg.db_path.exists() and not full_refresh and not in_place:
        _copy_warehouse(cfg, building)
        # the incremental parse rows were written by some code: reused only with the same code key
        reparse = uptodate.reparse_reason(building, code_key)
        if reparse:
            say(f"  every raw file is parsed again (as with --full-refresh): {reparse}")
            building.unlink()
            full_refresh = True
    # the gate's imports in a thread of this process while dbt runs; after the statistics
    # server's (below): both are one core's work, and dbt's start and parse needs the other
    def import_gate() -> None:
        if gate:
            threading.Thread(target=_import_gate_libraries, name="import-gate", daemon=True).start()

    dbt_results: dict = {}
    # the unit tests test the code: skipped when it is unchanged since they passed here (uptodate.py)
    unit_tests_passed_at = None if (full_refresh or select) else uptodate.unit_tests_passed_at(cfg.work_dir,
                                                                                              code_key)
    try:
        t0 = time.monotonic()
        args = ["build"] + (["--full-refresh"] if full_refresh else [])
        if unit_tests_passed_at:
            args += ["--exclude-resource-type", "unit_test"]
        if select:   # a partial build runs only the tests whose parents are all built
            # the audit models always: staging reads this run's audit, never a previous build's
            args += ["--select", select, "audit_source_files", "audit_source_chunks",
                     "--indirect-selection", "cautious"]
        if not engine.runs_python_models:
            # dbt-spark runs no dbt Python models off Databricks: the statistics
            # tables come from a Python step between two dbt runs, and the
            # models that read them (tag reads_statistics: claim_values,
            # claim_ledger) are built after it.
            args += ["--exclude", "tag:reads_statistics+"]
        # the statistics tables in a server process beside dbt, whose imports run while dbt
        # parses (stats_server.py); only for a whole build on an engine that runs the models.
        # Above STATS_PRELOAD_MAX_RAW_BYTES of raw input the imports wait for the first
        # table: DuckDB's buffer fills during staging, and they would add to that peak.
        preload = sum(a.size_bytes for a in audits) <= STATS_PRELOAD_MAX_RAW_BYTES
        if engine.runs_python_models and select is None:
            stats_server = stats_serving(dbt_env(cfg, building), log=cfg.work_dir / "dbt_logs" / "stats_server.log",
                                         preload=preload, on_loaded=import_gate)
        else:
            stats_server = contextlib.nullcontext({})
            import_gate()
        # where the build is one dbt run, the docs site is generated in the same dbt process,
        # on the same parse of the project, once the build has passed (dbt_steps.py)
        docs_with_build = docs and engine.runs_python_models
        if docs_with_build:
            built_docs_dir(cfg).joinpath("index.html").unlink(missing_ok=True)
        docs_started: list[float] = []
        with progress.stage(f"[2/4] dbt build into {engine.build_label(building)}") as stage, \
                stats_server as server_env:
            def on_line(line: str) -> None:
                if line.startswith(STEP_MARKER + "docs"):
                    docs_started.append(time.monotonic())
                    stage.update("dbt docs generate")
                stage.dbt_line(line)

            stage.update("dbt: starting")
            run_dbt(cfg, building, args, dbt_vars=dbt_vars, on_line=on_line, extra_env=server_env,
                    then=(DOCS_COMMAND,) if docs_with_build else ())
            dbt_results = dbt_result_counts(cfg.work_dir / "dbt_target" / "run_results.json")
            docs_text = "; dbt docs site" if docs_started else ""
            stage.done(_dbt_counts_text(dbt_results, unit_tests_passed_at) + docs_text)
        unit = dbt_results.get("unit_test", {})
        if select is None and unit and set(unit) == {"pass"}:
            uptodate.record_unit_tests_passed(cfg.work_dir, code_key, unit["pass"])
        if docs_started:
            timings["dbt_build_s"] = docs_started[0] - t0
            timings["dbt_docs_s"] = time.monotonic() - docs_started[0]
        else:
            timings["dbt_build_s"] = time.monotonic() - t0
        if not engine.runs_python_models and _selects_claim_ledger(cfg, building, select, dbt_vars):
            t0 = time.monotonic()
            # imported here: the statistics libraries take ~1 s to import, and the DuckDB build
            # computes them inside dbt (its Python models)
            from .stats_step import run_stats_step_subprocess

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

        if docs and not docs_with_build:
            # before the gate: on Spark the gate holds the embedded metastore until
            # this process exits, and dbt runs in a subprocess
            t0 = time.monotonic()
            built_docs_dir(cfg).joinpath("index.html").unlink(missing_ok=True)
            with progress.stage("[2d/4] dbt docs generate") as stage:
                run_dbt(cfg, building, DOCS_COMMAND, dbt_vars=dbt_vars, on_line=stage.dbt_line)
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
        claims, regimes = ({}, {}) if in_place else _ledger_counts(building)
        if not in_place:
            # only a full build with the gate is a build of its whole input
            _record_fingerprint(building, fingerprint if (select is None and gate) else None, code_key)
    except BaseException as exc:
        if not in_place:
            building.unlink(missing_ok=True)
        if isinstance(exc, SystemExit):   # a library exiting mid-build must not look like success
            raise BuildError(f"the build stopped: sys.exit({exc.code!r}) was called during it (the previous "
                             f"warehouse is kept); rerun with QSAFETY_DEBUG=1 to see where") from exc
        raise
    with progress.stage("[4/4] swap") as stage:
        if in_place:
            stage.done(f"{engine.label} tables written in place under {engine.location()}, no file to swap")
        else:
            _drop_stale_wal(cfg)
            os.replace(building, cfg.db_path)
            if select is None and gate:
                uptodate.write_sidecar(cfg.db_path, fingerprint)
            else:
                uptodate.drop_sidecar(cfg.db_path)
            stage.done(
                f"{cfg.db_path.name} replaced atomically" + (", Data Docs with it" if gate_result.site_dir else "")
            )
        publish_data_docs(gate_result, cfg.data_docs_dir)
    timings["total_s"] = time.monotonic() - start
    return BuildReport(cfg.db_path, gate_result.data_docs_index, timings, gate_result.warnings,
                       gate_result.expectations_run, suites_run=gate_result.suites_run,
                       dbt_results=dbt_results, claims=claims, regimes=regimes, gate_run=gate_result.run_name,
                       gate_history=gate_result.history_runs, unit_tests_passed_at=unit_tests_passed_at)


def _record_fingerprint(db_file: Path, fingerprint, parse_key: str) -> None:
    """The build fingerprint (a full build with the gate, else none), and the code key
    the parse rows were written with. Every parse table of the new file was written with
    this key, a partial build's (--select) too: it started from a copy only when the copy's
    key was this one, else from nothing (as --full-refresh)."""
    import duckdb

    with duckdb.connect(str(db_file)) as con:
        if fingerprint is None:
            uptodate.drop(con)
        else:
            uptodate.record(con, fingerprint)
        uptodate.record_parse_key(con, parse_key)
        con.execute("checkpoint")


def _wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def _open_error(db: Path) -> str | None:
    """Why the warehouse file does not open read-only (a session holding it
    read-write, a WAL that cannot be replayed), or None."""
    import duckdb

    try:
        duckdb.connect(str(db), read_only=True).close()
    except Exception as exc:  # noqa: BLE001 - duckdb raises several types
        return str(exc).splitlines()[0]
    return None


def _copy_warehouse(cfg: Settings, building: Path) -> None:
    """The file the build starts from: a copy of the warehouse. A `<db>.wal`
    beside it (a DuckDB session that died while writing) is copied too and
    replayed into the copy (checkpoint), so its changes are kept and the new
    file has no WAL; a warehouse held read-write by a live session, or a WAL
    that cannot be replayed, stops the build with one line."""
    wal = _wal(cfg.db_path)
    if not wal.exists():
        shutil.copy2(cfg.db_path, building)
        return
    problem = _open_error(cfg.db_path)
    if problem:
        raise BuildError(f"{wal}: the warehouse has a write-ahead log that cannot be replayed, or is open "
                         f"read-write elsewhere ({problem}); close that session, or move {wal.name} away")
    import duckdb

    shutil.copy2(cfg.db_path, building)
    shutil.copy2(wal, _wal(building))
    with duckdb.connect(str(building)) as con:
        con.execute("checkpoint")
    _wal(building).unlink(missing_ok=True)


def _drop_stale_wal(cfg: Settings) -> None:
    """Before the swap: a `<db>.wal` beside the old file belongs to it (its
    changes are in the new file when the build started from a copy); beside
    the new file it would make every later open fail. A live read-write session
    on the warehouse stops the swap instead (the previous file stays)."""
    wal = _wal(cfg.db_path)
    if not wal.exists():
        return
    problem = _open_error(cfg.db_path)
    if problem and "lock" in problem.lower():
        raise BuildError(f"{cfg.db_path}: opened read-write by another program during the build ({problem}); "
                         f"the previous warehouse is kept, close that session and rerun")
    wal.unlink()


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


def _dbt_counts_text(counts: dict, unit_tests_passed_at: str | None = None) -> str:
    """'59 models, 8 seeds, 236 data tests, 10 unit tests' (+ 'W warn' / 'S skipped' when any;
    + 'unit tests unchanged code, passed <when> UTC' when they were not run)."""
    parts = [f"{sum(counts[k].values())} {name}" for k, name in _KIND_NAMES.items() if k in counts]
    if unit_tests_passed_at and "unit_test" not in counts:
        parts.append(f"unit tests not rerun (code unchanged since they passed, {unit_tests_passed_at} UTC)")
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


_CLAIM_STATUS = {"differs": "differ", "not_computable": "not computable", "by_construction": "by construction",
                 "reproduced": "reproduced (data could disagree)"}


def build_summary(cfg, report, max_warnings: int = 5) -> list[str]:
    """The lines `qsafety build` ends with: what was built, what passed, where to look."""
    from .progress import summary_lines

    engine = engine_for(cfg)
    rows = [("warehouse", f"{engine.location()} ({engine.label})" if engine.builds_in_place else str(report.db_path))]
    if report.dbt_results:
        failed = sum(n for c in report.dbt_results.values() for st, n in c.items() if st in ("fail", "error"))
        rows.append(("dbt", _dbt_counts_text(report.dbt_results, report.unit_tests_passed_at)
                     + (" - all passed" if not failed else "")))
    if report.suites_run:
        passed = report.expectations_run - len(report.gate_warnings)
        rows.append(("gate", f"{passed} of {report.expectations_run} expectations passed in {report.suites_run} "
                             f"suites, {len(report.gate_warnings)} warning(s) (non-blocking)"))
        if report.gate_run:
            rows.append(("gx run", f"{report.gate_run} ({report.gate_history} runs in this warehouse's "
                                   f"validation history)"))
    if report.claims:
        rows.append(("claims", f"{sum(report.claims.values())} claims of the report: "
                               + ", ".join(f"{n} {_CLAIM_STATUS.get(status, status)}"
                                           for status, n in report.claims.items())))
    if report.regimes:
        rows.append(("cells", f"{sum(report.regimes.values())} (model x quant): "
                              + ", ".join(f"{n} {regime}" for regime, n in report.regimes.items())))
    for warning in report.gate_warnings[:max_warnings]:
        rows.append(("warning", warning if len(warning) <= 150 else warning[:147] + "..."))
    if len(report.gate_warnings) > max_warnings:
        rows.append(("warning", f"... and {len(report.gate_warnings) - max_warnings} more (see the Data Docs)"))
    if report.data_docs_index:
        rows.append(("data docs", f"{report.data_docs_index} (opens from disk)"))
    if report.log_path:
        rows.append(("dbt log", f"{report.log_path} (-v prints it as it runs)"))
    rows.append(("timings", ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())))   # bench/run.py reads it
    return [f"built in {report.timings.get('total_s', 0):.1f}s"] + summary_lines(rows)


def lock(cfg: Settings | None = None, quiet: bool = False, new_wave: bool = False,
         progress: Progress | None = None, wait: bool = False) -> list[str]:
    """Refresh the source manifest for the files in the raw dir, like a lockfile, in the
    raw dir's lock dir (config.resolve_manifest_dir; never the shipped demo lock).

    Hashes and counts every file, adds new *.jsonl files (kind sniffed from
    their records), drops missing ones, then builds the staging layer into a
    scratch warehouse to record the expected loaded rows. Returns what changed.
    Holds the warehouse lock (not while a build of it runs; `wait` waits).
    """
    cfg = cfg or settings(for_lock=True)
    if cfg.manifest_dir.resolve() == DEMO_LOCK_DIR.resolve():
        raise InputError(f"{cfg.manifest_path}: the shipped lockfile of the demo data; `qsafety lock` never writes "
                         f"it (unset QSAFETY_MANIFEST_DIR to lock into {lock_dir_beside(cfg.raw_dir)}, or point it "
                         f"at another directory)")
    if not cfg.raw_dir.is_dir():
        raise InputError(f"{cfg.raw_dir}: raw directory not found (set QSAFETY_RAW_DIR)")
    with warehouse_lock(cfg, "qsafety lock", wait=wait,
                        say=(lambda msg: None) if quiet else (lambda msg: print(msg, flush=True))):
        own_progress = progress is None
        if own_progress:
            progress = Progress(quiet=quiet, log_path=cfg.work_dir / "dbt_logs" / "lock_output.log")
        try:
            return _lock(cfg, new_wave, progress)
        finally:
            if own_progress:
                progress.close()


def _lock(cfg: Settings, new_wave: bool, progress: Progress) -> list[str]:
    if cfg.manifest_path.exists():
        template = manifest.read_manifest(cfg.manifest_path)
    else:   # a new lock: the report's Appendix B files where the raw dir has them, then any *.jsonl
        template = [r for r in manifest.default_manifest_rows() if (cfg.raw_dir / r["relative_path"]).is_file()]
    old = {r["source_label"]: r for r in template}
    with progress.stage("[1/2] hashing and counting the raw files") as stage:
        rows, notes = manifest.refresh_rows(cfg.raw_dir, template, new_wave=new_wave)
        for path in ensure_additions(cfg.manifest_dir):
            notes.append(f"wrote {path.name} (header only: add the lab's own models / quant formats there)")
        manifest.write_manifest(rows, cfg.manifest_path)
        audits = manifest.audit_sources(cfg.raw_dir, rows,
                                        max_line_bytes=int(validate.effective_var("raw_line_max_bytes")))
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        manifest.write_audit(audits, cfg.work_dir / "source_audit.csv")
        stage.done(f"{len(rows)} files")
    scratch = cfg.work_dir / "lock_scratch.duckdb"
    remove_leftovers(cfg)
    try:
        with progress.stage("[2/2] staging build in a scratch file (loaded rows per file)") as stage:
            run_dbt(cfg, scratch, ["build", "--select", "+audit_reconciliation", "--exclude", "test_type:data",
                                   "test_type:unit"], target_dir="dbt_target_lock", on_line=stage.dbt_line)
            with engine_for(cfg).reader(scratch) as con:
                loaded = dict(con.rows("select source_label, loaded_rows from audit_reconciliation"))
    finally:
        for path in (scratch, _wal(scratch)):
            path.unlink(missing_ok=True)
        shutil.rmtree(scratch.with_name(scratch.name + ".tmp"), ignore_errors=True)
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
