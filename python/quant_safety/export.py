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

Spark target: the tables are read through the warehouse reader into an
in-memory DuckDB first, so the bundle is written by the same code
(tests/spark/test_spark_bundle.py compares the two targets' bundles).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from .config import PROJECT_DIR, Settings, settings
from .errors import QSafetyError

# bundle file name -> (warehouse table, key columns in sort order)
TABLES: dict[str, tuple[str, list[str]]] = {
    "matrix": ("matrix", ["base_model", "quant_order", "quant"]),
    "cell_coverage": ("cell_coverage", ["base_model", "quant_order", "quant"]),
    "cell_intervals": ("cell_intervals", ["base_model", "quant", "metric"]),
    "regime_confidence": ("regime_confidence", ["base_model", "quant"]),
    "regimes": ("regimes", ["base_model", "quant_order", "quant"]),
    "correlations": ("correlations", ["scope", "quality_metric", "safety_metric", "model"]),
    "asymmetry": ("asymmetry", ["base_model", "quant_order", "quant"]),
    "asymmetry_by_format": ("asymmetry_by_format", ["first_quant_order", "format_group"]),
    "sign_reversal_summary": ("sign_reversal_summary", ["scope", "quality_metric", "safety_metric", "method"]),
    "phase5_quant_deployment": ("phase5_quant_deployment", ["quant_order", "quant"]),
    "phase5_taxonomy_catalog": ("phase5_taxonomy_catalog", ["tax_id"]),
    "phase5_row_taxonomy": ("phase5_row_taxonomy", ["base_model", "quant", "tax_id"]),
    "phase5_row_actions": ("phase5_row_actions", ["base_model", "quant_order", "quant"]),
    "phase6_style_correlations": ("phase6_style_correlations", ["scope", "refusal_measure", "style_metric"]),
    "phase6_refusal_style": ("phase6_refusal_style", ["base_model", "quant_order", "quant"]),
    "phase6_style_examples": ("phase6_style_examples", ["base_model", "quant", "prefix_rank"]),
    "q5_floor": ("q5_floor", ["base_model", "quant"]),
    "quant_floor": ("quant_floor", ["quant_order", "quant"]),
    "bpw_regressions": ("bpw_regressions", ["scope", "base_model", "metric"]),
    "leave_one_quant_out": ("leave_one_quant_out", ["scope", "quality_metric", "safety_metric", "dropped"]),
    "leave_one_model_out": ("leave_one_model_out", ["scope", "quality_metric", "safety_metric", "dropped"]),
    "repeated_measures": ("repeated_measures", ["scope", "quality_metric", "safety_metric"]),
    "mixed_models": ("mixed_models", ["scope", "quality_metric", "safety_metric"]),
    "regex_vs_judge_gaps": ("regex_vs_judge_gaps", ["base_model", "quant_order", "quant"]),
    "judge_agreement_quant": ("judge_agreement_quant", ["task_name", "quant_order", "quant"]),
    "second_judge_agreement": ("second_judge_agreement", ["grouping", "second_judge_model", "task_name", "base_model", "quant"]),
    "second_judge_confusion": ("second_judge_confusion", ["second_judge_model", "task_name", "primary_judge_label", "second_judge_label"]),
    "second_judge_cell_rates": ("second_judge_cell_rates", ["second_judge_model", "base_model", "quant"]),
    "second_judge_regime_stability": ("second_judge_regime_stability", ["second_judge_model", "base_model", "quant"]),
    "claim_ledger": ("claim_ledger", ["claim_id"]),
    "claim_values": ("claim_values", ["claim_id", "source_model", "row_key", "value_column"]),
    "source_audit": ("source_audit", ["source_label"]),
    "raw_reconciliation": ("raw_reconciliation", ["source_label"]),
    "raw_exclusions_by_rule": ("raw_exclusions_by_rule", ["source_label", "load_status", "rule"]),
    "quarantine": ("stg_raw__quarantine", ["source_label", "source_line", "reason"]),
}
SIGNIFICANT_DIGITS = 12
PACKAGES = ["quant-safety-warehouse", "dbt-core", "dbt-duckdb", "duckdb", "pandas", "numpy", "scipy",
            "statsmodels", "pingouin", "matplotlib", "great_expectations", "pyarrow"]


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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic_json(path: Path, payload: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def package_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state() -> dict:
    def git(*args):
        try:
            proc = subprocess.run(["git", "-C", str(PROJECT_DIR), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def dbt_vars_in_effect(cfg: Settings, overrides: dict | None = None) -> dict:
    """The project's dbt vars (dbt_project.yml) with the build's overrides applied.

    Overrides come from the caller (`qsafety build --export --var k=v`) or, for a
    standalone export, from the last dbt invocation recorded in the warehouse's
    build dir (run_results.json args.vars)."""
    import yaml

    with open(PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as handle:
        project = yaml.safe_load(handle)
    values = dict(project.get("vars") or {})
    values["raw_dir"] = str(cfg.raw_dir)
    recorded = {}
    results = cfg.work_dir / "dbt_target" / "run_results.json"
    if overrides is None and results.exists():
        try:
            args = json.loads(results.read_text(encoding="utf-8")).get("args", {})
            raw_vars = args.get("vars") or {}
            recorded = json.loads(raw_vars) if isinstance(raw_vars, str) else dict(raw_vars)
        except (ValueError, AttributeError):
            recorded = {}
    for key, value in {**recorded, **(overrides or {})}.items():
        if key == "source_audit_file":
            continue  # a path of the build work dir, not an analysis setting
        values[key] = value
    return values


def input_inventory(con) -> list[dict]:
    rows = con.execute("""
        select a.source_label, a.role, a.record_kind, a.relative_path, a.actual_sha256, a.expected_sha256,
               a.sha256_matches, a.actual_raw_lines, a.size_bytes, r.loaded_rows, r.excluded_rows,
               r.quarantined_rows, r.balanced, a.release_wave, a.precedence
        from source_audit as a
        left join raw_reconciliation as r using (source_label)
        order by a.source_label""").fetchall()
    keys = ["label", "role", "record_kind", "relative_path", "sha256", "expected_sha256", "sha256_matches",
            "raw_rows", "size_bytes", "loaded_rows", "excluded_rows", "quarantined_rows", "balanced",
            "release_wave", "precedence"]
    return [dict(zip(keys, (int(v) if isinstance(v, int) else v for v in row))) for row in rows]


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

    from .atomic import replace_dir

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
    `open_warehouse` connection to use (left open); else one is opened.
    `staged`: out_dir is already a bundle_stage the caller swaps in."""
    cfg = cfg or settings()
    out = Path(out_dir or cfg.out_dir)
    if not staged:
        with bundle_stage(out) as stage:
            result = export(cfg, stage, dbt_vars=dbt_vars, parquet=parquet, quiet=quiet, con=con, staged=True)
        result.out_dir = out
        result.files = [out / path.name for path in result.files]
        return result
    spark = cfg.target == "spark"
    result = ExportResult(out)
    start = time.monotonic()
    say = (lambda m: None) if quiet else (lambda m: print(m, flush=True))
    outputs = {}
    # open_warehouse raises if there is no warehouse file, before anything is written
    with (nullcontext(con) if con is not None else open_warehouse(cfg)) as con:
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
        inputs = input_inventory(con) if "source_audit" in present else []
        fingerprint = None
        if "build_fingerprint" in present:   # the build's input fingerprint (uptodate.py)
            # fetchall: a fetchone() left on a streaming result blocks the next query on this
            # connection (the report reads the same one)
            rows = con.execute("select fingerprint, built_at_utc, components from build_fingerprint "
                               "limit 1").fetchall()
            if rows:
                row = rows[0]
                fingerprint = {"fingerprint": row[0], "built_at_utc": str(row[1]),
                               "components": json.loads(row[2])}
        summary_path = out / "agreement_summary.json"
        _write_atomic_json(summary_path, agreement_summary(con, present))
        result.files.append(summary_path)
        outputs["agreement_summary"] = {"file": summary_path.name, "json_sha256": sha256_file(summary_path)}
    from .demo.fingerprint import is_demo_data
    result.timings["export_s"] = round(time.monotonic() - start, 3)
    manifest = {
        "bundle": "quant-safety analysis bundle (TR142 v3 Appendix E.1 layout)",
        "data_note": ("The demo raw data is SYNTHETIC, calibrated to the published cell values; "
                      "it is not the original evaluation samples.") if is_demo_data(inputs, cfg.raw_dir) else None,
        "warehouse": str(cfg.db_path),
        "raw_dir": str(cfg.raw_dir),
        "manifest": str(cfg.manifest_path),
        "inputs": inputs,
        "build_fingerprint": fingerprint,
        "outputs": outputs,
        "missing_tables": result.missing,
        "float_format": f"DOUBLE rounded to {SIGNIFICANT_DIGITS} significant digits",
        "packages": package_versions(),
        "dbt_vars": dbt_vars_in_effect(cfg, dbt_vars),
        "git": git_state(),
    }
    _write_atomic_json(out / "run_manifest.json", manifest)
    _write_atomic_json(out / "run_timings.json", {
        "exported_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "timings_s": result.timings,
        "warehouse_mtime_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
            (cfg.spark_dir / "warehouse" if spark else cfg.db_path).stat().st_mtime)),
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


# read by the report (the quant levels in effect and their order, the regime rule in force), not exported
REPORT_ONLY_TABLES = ("stg_registry__quant_levels", "regime_rule")


def open_warehouse(cfg: Settings):
    """A DuckDB connection to the built warehouse for the export and the report:
    the warehouse file, read-only; on the Spark target an in-memory DuckDB
    holding the bundle and report tables read from Spark (one Spark session for
    both)."""
    import duckdb

    if cfg.target == "spark":
        return _spark_tables_in_duckdb(cfg)
    if not cfg.db_path.exists():
        raise QSafetyError(f"{cfg.db_path}: warehouse not found (run `qsafety build` first)")
    return duckdb.connect(str(cfg.db_path), read_only=True)


def _spark_tables_in_duckdb(cfg: Settings):
    """Spark target: the bundle tables read through the warehouse reader (Arrow,
    types kept) into an in-memory DuckDB, so that the bundle is written by the
    same code (ordering, float rounding, CSV/Parquet writer) as from a DuckDB
    warehouse (and the report reads the same tables). Every bundle table is a
    few thousand rows at most, except the quarantine (bounded by the bad lines
    of the raw files)."""
    import duckdb

    from .warehouse_reader import open_reader

    con = duckdb.connect()
    with open_reader(cfg.target, cfg.db_path, cfg.spark_dir) as reader:
        present = reader.tables()
        for table in sorted(({t for t, _keys in TABLES.values()} | set(REPORT_ONLY_TABLES)) & present):
            columns, rows = reader.typed_rows(f"select * from {table}")
            con.execute(f"create table {_quote(table)} ("
                        + ", ".join(f"{_quote(c)} {_SPARK_TO_DUCKDB.get(t, t)}" for c, t in columns) + ")")
            if rows:
                con.executemany(f"insert into {_quote(table)} values ({', '.join('?' for _ in columns)})", rows)
    return con


# Spark SQL simple type names -> DuckDB (decimal(p,s) and the rest pass through)
_SPARK_TO_DUCKDB = {"string": "varchar", "int": "integer", "bigint": "bigint", "smallint": "smallint",
                    "tinyint": "tinyint", "double": "double", "float": "float", "boolean": "boolean",
                    "date": "date", "timestamp": "timestamp", "void": "varchar"}


def is_demo_warehouse(con, raw_dir: Path | None = None) -> bool:
    """Whether every input of the warehouse is a file of the synthetic demo data
    (by sha256; quant_safety.demo.fingerprint)."""
    from .demo.fingerprint import is_demo_data

    return is_demo_data(input_inventory(con), raw_dir)


DOCS_FILES = ["index.html", "static_index.html", "catalog.json", "manifest.json"]


def export_dbt_docs(cfg: Settings | None = None, out_dir: Path | None = None, quiet: bool = True,
                    built_in: Path | None = None, progress=None) -> Path:
    """The dbt docs site in <bundle>/docs. `built_in`: a dbt target dir where
    the build just generated it (`build(docs=True)`), copied as it is.
    Otherwise `dbt docs generate --static` runs against the built warehouse:
    on a scratch copy of the warehouse file (dbt opens its database
    read-write), with its own target dir, so the real warehouse is never touched;
    on the Spark target against the Spark catalog (dbt only reads it) with a
    target dir of its own. `progress`: a quant_safety.progress.Progress to show
    dbt's progress on (one stage line)."""
    import shutil
    import tempfile

    from .dbt_runner import run_dbt as _run_dbt

    def run_dbt(cfg, db, args, quiet=True, **kwargs):
        if progress is None:
            return _run_dbt(cfg, db, args, quiet=quiet, **kwargs)
        with progress.stage("dbt docs generate") as stage:
            return _run_dbt(cfg, db, args, on_line=stage.dbt_line, **kwargs)

    cfg = cfg or settings()
    docs_dir = Path(out_dir or cfg.out_dir) / "docs"
    if built_in is None and cfg.target == "spark":
        # dbt only reads the Spark catalog; its own target dir keeps the build's intact
        run_dbt(cfg, cfg.db_path, ["docs", "generate", "--static"], quiet=quiet, target_dir="dbt_target_docs")
        built_in = cfg.work_dir / "dbt_target_docs"
    if built_in is not None and (built_in / "index.html").exists():
        _copy_docs(built_in, docs_dir)
        return docs_dir
    if not cfg.db_path.exists():
        raise QSafetyError(f"{cfg.db_path}: warehouse not found (run `qsafety build` first)")
    with tempfile.TemporaryDirectory(prefix="qsafety_docs_") as tmp:
        scratch_db = Path(tmp) / cfg.db_path.name
        shutil.copy2(cfg.db_path, scratch_db)
        # the scratch Settings keep raw dir and manifest; work_dir (dbt target, logs) lives in tmp
        scratch = Settings(raw_dir=cfg.raw_dir, db_path=scratch_db, manifest_dir=cfg.manifest_dir,
                           out_dir=cfg.out_dir, target=cfg.target)
        scratch.work_dir.mkdir(parents=True, exist_ok=True)
        audit = cfg.work_dir / "source_audit.csv"
        if audit.exists():
            shutil.copy2(audit, scratch.work_dir / "source_audit.csv")
        # --static also writes static_index.html (manifest and catalog inlined: opens from file://)
        run_dbt(scratch, scratch_db, ["docs", "generate", "--static"], quiet=quiet)
        _copy_docs(scratch.work_dir / "dbt_target", docs_dir)
    if not (docs_dir / "index.html").exists():
        raise QSafetyError(f"{docs_dir}: dbt docs generate wrote no index.html")
    return docs_dir


def _copy_docs(src_dir: Path, docs_dir: Path) -> None:
    """The docs site written to a new directory beside docs_dir, then swapped in whole."""
    import shutil

    from .atomic import replace_dir

    docs_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = docs_dir.with_name(f".{docs_dir.name}.new-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        for name in DOCS_FILES:
            if (src_dir / name).exists():
                shutil.copy2(src_dir / name, stage / name)
        replace_dir(stage, docs_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
