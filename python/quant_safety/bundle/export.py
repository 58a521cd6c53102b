"""`qsafety export`: the analysis bundle (report Appendix E.1) from a built warehouse.

One CSV and one Parquet file per mart and statistics table, written by DuckDB,
plus `run_manifest.json` (inputs, package versions, dbt vars, git commit,
what was written) and `run_timings.json` (wall-clock facts, kept apart so that
everything else is byte-stable).

Determinism: every table is read with an ORDER BY on its key columns followed by
every other column (a total order), DOUBLE values are rounded to 12 significant
digits (printf %.12g, then back to DOUBLE, so CSV shows at most 12 digits and
Parquet stores the same value), DuckDB runs single-threaded, and no timestamp is
written into a data file. Two exports of the same warehouse are byte-identical
(CSV and Parquet; tests/deliverables/test_export.py).

The table list is the seed seeds/reference/bundle_tables.csv (tables.py).
The tables are read from a DuckDB connection the engine opens
(`open_bundle_connection`): on the Spark target an in-memory DuckDB holding the
tables read from Spark, so the bundle is written by the same code
(tests/spark/test_spark_bundle.py compares the two targets' bundles).
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings, settings
from ..engine import engine_for
from ..errors import QSafetyError
from ..hashing import sha256_file
from .run_manifest import input_inventory, recorded_fingerprint, run_manifest
from .tables import REPORT_ONLY_RELATIONS, TABLES

SIGNIFICANT_DIGITS = 12


@dataclass
class ExportResult:
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    rows: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def _columns(con, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = current_schema() and table_name = ? order by ordinal_position", [table]).fetchall()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A DuckDB string literal (COPY TO takes no bound parameter for its file);
    a control character is refused, as by the quoting macro."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise QSafetyError(f"{text!r}: a path with a control character is not written")
    return "'" + text.replace("'", "''") + "'"


def ordered_select(con, table: str, keys: list[str]) -> str:
    """SELECT of `table` with DOUBLEs rounded to 12 significant digits, in a total order."""
    cols = _columns(con, table)
    names = [c for c, _ in cols]
    exprs = []
    for name, dtype in cols:
        q = _quote(name)
        if dtype.upper() in ("DOUBLE", "FLOAT", "REAL"):
            exprs.append(f"cast(printf('%.{SIGNIFICANT_DIGITS}g', {q}) as double) as {q}")
        elif dtype.upper().startswith("HUGEINT"):
            exprs.append(f"cast({q} as bigint) as {q}")
        elif "TIMESTAMP" in dtype.upper() or dtype.upper() in ("DATE", "TIME"):
            raise QSafetyError(f"{table}.{name}: {dtype} column in a bundle table (the bundle is timestamp-free)")
        else:
            exprs.append(q)
    order = [k for k in keys if k in names] + [n for n in names if n not in keys]
    order_sql = ", ".join(f"{_quote(n)} asc nulls last" for n in order)
    return f"select {', '.join(exprs)} from {_quote(table)} order by {order_sql}"


def _write_atomic_json(path: Path, payload: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# What an export writes (besides <table>.csv / .parquet): never carried over from an older bundle
EXPORT_FILES = ("run_manifest.json", "run_timings.json", "agreement_summary.json")


def _owned_by_export(name: str) -> bool:
    stem, _, ext = name.rpartition(".")
    return name in EXPORT_FILES or (ext in ("csv", "parquet") and stem in TABLES)


@contextmanager
def bundle_stage(out: Path, owns=_owned_by_export):
    """A new directory beside the bundle `out` to write a whole bundle into.
    On success the entries of the old bundle that the new one lacks and that
    the writer does not own (`owns(name)`; default: the export's tables and
    manifests, so a table missing now is not kept from before) are carried over
    (the report, the dbt docs site),
    and the new directory is swapped in whole (atomic.replace_dir): a reader
    sees all-old or all-new, and run_manifest.json's hashes always match the
    files beside it. On failure the new directory is removed and the old
    bundle is untouched. Stages left by killed exports are removed."""
    import shutil

    from ..atomic import replace_dir

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{out.name}.new-"
    for stale in out.parent.glob(prefix + "*"):
        pid = stale.name[len(prefix):]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    stage = out.parent / f"{prefix}{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        yield stage
        if out.is_dir():
            for entry in sorted(out.iterdir()):
                target = stage / entry.name
                if os.path.lexists(target) or owns(entry.name) or entry.name.endswith(".tmp"):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, target, symlinks=True)
                else:
                    shutil.copy2(entry, target, follow_symlinks=False)
        replace_dir(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def export(cfg: Settings | None = None, out_dir: Path | None = None, dbt_vars: dict | None = None,
           parquet: bool = True, quiet: bool = True, con=None, staged: bool = False) -> ExportResult:
    """Write the bundle tables, run_manifest.json and run_timings.json to out_dir (QSAFETY_OUT),
    as a new directory swapped in whole (bundle_stage). `con`: an open
    `open_bundle_connection` connection to use (left open); else one is opened.
    `staged`: out_dir is already a bundle_stage the caller swaps in."""
    cfg = cfg or settings()
    out = Path(out_dir or cfg.out_dir)
    if not staged:
        with bundle_stage(out) as stage:
            result = export(cfg, stage, dbt_vars=dbt_vars, parquet=parquet, quiet=quiet, con=con, staged=True)
        result.out_dir = out
        result.files = [out / path.name for path in result.files]
        return result
    result = ExportResult(out)
    start = time.monotonic()
    say = (lambda m: None) if quiet else (lambda m: print(m, flush=True))
    outputs = {}
    # open_bundle_connection raises if there is no warehouse, before anything is written
    with (nullcontext(con) if con is not None else open_bundle_connection(cfg)) as con:
        out.mkdir(parents=True, exist_ok=True)
        con.execute("set threads = 1")
        con.execute("set preserve_insertion_order = true")
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = current_schema()").fetchall()}
        for name, (table, keys) in TABLES.items():
            if table not in present:
                result.missing.append(name)
                continue
            sql = ordered_select(con, table, keys)
            n = con.execute(f"select count(*) from ({sql})").fetchone()[0]
            entry = {"table": table, "rows": int(n), "order_by": [k for k in keys]}
            targets = [("csv", "(format csv, header true, delimiter ',')")]
            if parquet:
                targets.append(("parquet", "(format parquet, compression zstd, row_group_size 100000)"))
            for ext, options in targets:
                path = out / f"{name}.{ext}"
                tmp = out / f".{name}.{ext}.tmp"
                tmp.unlink(missing_ok=True)
                con.execute(f"copy ({sql}) to {_literal(tmp.as_posix())} {options}")
                os.replace(tmp, path)
                result.files.append(path)
                entry[f"{ext}_sha256"] = sha256_file(path)
            outputs[name] = entry
            result.rows[name] = int(n)
            say(f"  {name}: {n} rows")
        inputs = input_inventory(con) if "audit_sources" in present else []
        fingerprint = recorded_fingerprint(con, present)
        summary_path = out / "agreement_summary.json"
        _write_atomic_json(summary_path, agreement_summary(con, present))
        result.files.append(summary_path)
        outputs["agreement_summary"] = {"file": summary_path.name, "json_sha256": sha256_file(summary_path)}
    result.timings["export_s"] = round(time.monotonic() - start, 3)
    manifest = run_manifest(cfg, inputs=inputs, fingerprint=fingerprint, outputs=outputs, missing=result.missing,
                            float_format=f"DOUBLE rounded to {SIGNIFICANT_DIGITS} significant digits",
                            dbt_vars=dbt_vars)
    _write_atomic_json(out / "run_manifest.json", manifest)
    _write_atomic_json(out / "run_timings.json", {
        "exported_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "timings_s": result.timings,
        "warehouse_mtime_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
            engine_for(cfg).warehouse_mtime())),
    })
    result.files += [out / "run_manifest.json", out / "run_timings.json"]
    return result


def _rounded(value):
    """A JSON number as the bundle's CSVs show it (12 significant digits)."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if value == value else None
    return value


def agreement_summary(con, present: set) -> dict:
    """agreement_summary.json (report Appendix F): per second-judge model, the
    overall and per-task agreement and Cohen's kappa with its 95% interval, the
    largest disagreement cells of the confusion table and the regime check of
    the hidden-danger / near-hidden-danger cells, read from the second_judge_*
    marts. `available` is false when the warehouse holds no second-judge rows."""
    needed = {"second_judge_agreement", "second_judge_confusion", "second_judge_regime_stability"}
    if not needed <= present or not con.execute("select count(*) from second_judge_agreement").fetchone()[0]:
        return {"available": False, "note": "no second-judge (record kind E) rows in the warehouse"}

    def rows(sql: str, params=()) -> list[dict]:
        cur = con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [{k: _rounded(v) for k, v in zip(names, r)} for r in cur.fetchall()]

    models = {}
    for (model,) in con.execute("select distinct second_judge_model from second_judge_agreement "
                                "order by second_judge_model").fetchall():
        stats_cols = ("n, agreeing, agreement_pct, cohen_kappa, kappa_se, kappa_ci_lo, kappa_ci_hi, "
                      "kappa_ci_method")
        overall = rows(f"select {stats_cols} from second_judge_agreement "
                       "where grouping = 'overall' and second_judge_model = ?", [model])
        per_task = rows(f"select task_name, {stats_cols} from second_judge_agreement "
                        "where grouping = 'task' and second_judge_model = ? order by task_name", [model])
        disagreements = rows("select primary_judge_label, second_judge_label, pair_rows from second_judge_confusion "
                             "where second_judge_model = ? and task_name = 'all' and not agree "
                             "order by pair_rows desc, primary_judge_label, second_judge_label limit 5", [model])
        regimes = rows("select base_model, quant, regime, regime_with_primary_judge, regime_with_second_judge, "
                       "refusal_shift_pp, second_refusal_delta_pp, flips, flips_vs_primary_judge "
                       "from second_judge_regime_stability where second_judge_model = ? "
                       "order by base_model, quant", [model])
        models[model] = {
            "overall": overall[0] if overall else None,
            "per_task": {r.pop("task_name"): r for r in per_task},
            "largest_disagreements": disagreements,
            "danger_cells": regimes,
            "danger_cells_flipping": sum(1 for r in regimes if r["flips"]),
        }
    return {"available": True, "source": "second_judge_agreement, second_judge_confusion, "
                                         "second_judge_regime_stability", "second_judges": models}


def open_bundle_connection(cfg: Settings):
    """A DuckDB connection to the built warehouse for the export and the report
    (the engine's: the warehouse file read-only, or on Spark an in-memory
    DuckDB holding the bundle and report tables, one Spark session for both)."""
    relations = {relation for relation, _keys in TABLES.values()} | set(REPORT_ONLY_RELATIONS)
    return engine_for(cfg).duckdb_connection(sorted(relations))
