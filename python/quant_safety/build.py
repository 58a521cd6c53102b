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
from .gate import GateResult, run_gate, import_libraries as import_gate_libraries
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
          docs: bool = False, rehash: bool = False) -> BuildReport:
    """`rehash` (implied by `full_refresh`) re-reads every raw file in the
    pre-flight audit instead of trusting the stat cache. `gate=False` skips the
    data-quality gate (tests on raw fixtures that are not a complete matrix);
    the CLI always runs it. `docs=True` also writes the
    dbt docs site into the build's dbt target dir, from the project just parsed
    and compiled (`--no-compile`: no second parse or compile, the catalog read
    from the new warehouse); `export_dbt_docs` copies it from there."""
    cfg = cfg or settings()
    timings: dict[str, float] = {}
    start = time.monotonic()
    say = (lambda msg: None) if quiet else (lambda msg: print(msg, flush=True))

    say(f"[1/4] auditing raw files in {cfg.raw_dir} against {cfg.manifest_path}")
    preflight(cfg, rehash=rehash or full_refresh, say=say)
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
    try:
        say(f"[2/4] dbt build into {'the Spark target' if spark else building.name}")
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
        run_dbt(cfg, building, args, dbt_vars=dbt_vars, quiet=quiet)
        timings["dbt_build_s"] = time.monotonic() - t0
        if spark and _selects_claim_ledger(cfg, building, select, dbt_vars):
            say("[2b/4] statistics step (quant_safety.stats on the Spark matrix), then claim_ledger")
            t0 = time.monotonic()
            rows = run_stats_step_subprocess(cfg.target, building, cfg.spark_dir)
            timings["stats_step_s"] = time.monotonic() - t0
            say("  " + ", ".join(f"{name}: {n} rows" for name, n in rows.items()))
            t0 = time.monotonic()
            run_dbt(cfg, building, ["build", "--select", "tag:reads_statistics+"], dbt_vars=dbt_vars, quiet=quiet)
            timings["dbt_build_claims_s"] = time.monotonic() - t0

        if docs:
            # before the gate: on Spark the gate holds the embedded metastore until
            # this process exits, and dbt runs in a subprocess
            t0 = time.monotonic()
            built_docs_dir(cfg).joinpath("index.html").unlink(missing_ok=True)
            run_dbt(cfg, building, ["docs", "generate", "--static", "--no-compile"], dbt_vars=dbt_vars, quiet=True)
            timings["dbt_docs_s"] = time.monotonic() - t0
        if gate:
            say("[3/4] data-quality gate (Great Expectations)")
            t0 = time.monotonic()
            gate_result = run_gate(building, cfg.data_docs_dir, dbt_vars=dbt_vars, work_dir=cfg.work_dir,
                                   target=cfg.target, spark_dir=cfg.spark_dir)
            timings["gate_s"] = time.monotonic() - t0
            for warning in gate_result.warnings:
                say(f"  warning: {warning}")
        else:
            say("[3/4] data-quality gate skipped (gate=False)")
            gate_result = GateResult(success=True)
    except BaseException:
        if not spark:
            building.unlink(missing_ok=True)
        raise
    if spark:
        say(f"[4/4] Spark tables written in place under {cfg.spark_dir} (no file swap)")
    else:
        say("[4/4] swapping the new warehouse in")
        os.replace(building, cfg.db_path)
    timings["total_s"] = time.monotonic() - start
    return BuildReport(cfg.db_path, gate_result.data_docs_index, timings, gate_result.warnings,
                       gate_result.expectations_run)


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


def lock(cfg: Settings | None = None, quiet: bool = False, new_wave: bool = False) -> list[str]:
    """Refresh the source manifest for the files in the raw dir, like a lockfile.

    Hashes and counts every file, adds new *.jsonl files (kind sniffed from
    their records), drops missing ones, then builds the staging layer into a
    scratch warehouse to record the expected loaded rows. Returns what changed.
    """
    cfg = cfg or settings()
    template = manifest.read_manifest(cfg.manifest_path) if cfg.manifest_path.exists() \
        else manifest.default_manifest_rows()
    old = {r["source_label"]: r for r in template}
    rows, notes = manifest.refresh_rows(cfg.raw_dir, template, new_wave=new_wave)
    manifest.write_manifest(rows, cfg.manifest_path)
    audits = manifest.audit_sources(cfg.raw_dir, rows)
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_audit(audits, cfg.work_dir / "source_audit.csv")
    scratch = cfg.work_dir / "lock_scratch.duckdb"
    scratch.unlink(missing_ok=True)
    try:
        run_dbt(cfg, scratch, ["build", "--select", "+raw_reconciliation", "--exclude", "test_type:data",
                               "test_type:unit"], quiet=True, target_dir="dbt_target_lock")
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
