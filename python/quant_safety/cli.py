"""`qsafety`: the command line of the quant-safety warehouse.

  qsafety demo [--out DIR] [--seed N] [--scale K]   write the synthetic demo raw data
  qsafety lock [--wait]                             refresh the source manifest (lockfile)
  qsafety build [--full-refresh] [--rehash]         audit, dbt build, gate, atomic swap; "warehouse up to
                [--var k=v] [--wait] [--force]      date" without dbt when no input changed (--force builds)
                [--export] [--target duckdb|spark]  (lock/query/export/report/docs take --target too)
  qsafety query "<SQL>"                             read-only query (one SELECT), printed as a table
  qsafety export [--out DIR] [--no-parquet]         analysis bundle: CSV + Parquet per table, run_manifest.json
  qsafety report [--out DIR]                        analysis_report.md + self-contained analysis_report.html
  qsafety docs [--out DIR]                          dbt docs site (index.html, catalog.json, manifest.json)
  qsafety screen --raw DIR [--quiet] [--wait]       verdicts for new quantized variants (scratch warehouse);
                                                    exit 1 when no cell results or a screened line is not loaded

One build, lock or screen at a time per warehouse file (a lock beside it): a
second one refuses at once naming the holder, or waits with --wait.

Errors are printed as one line naming the file and the problem (exit code 2);
no traceback unless QSAFETY_DEBUG=1.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .config import settings
from .errors import QSafetyError


def _vars(pairs: list[str] | None) -> dict:
    """`--var k=v` pairs, each checked against its rule (one-line error naming the var)."""
    from .validate import parse_var_pairs

    return parse_var_pairs(pairs)


def _warehouse_lock(cfg, command: str, args):
    """The warehouse lock, taken before the command writes anything (its log included)."""
    from .buildlock import warehouse_lock

    return warehouse_lock(cfg, command, wait=getattr(args, "wait", False), say=lambda msg: print(msg, flush=True))


def cmd_demo(args) -> int:
    from .config import DEMO_LOCK_DIR, resolve_manifest_dir
    from .demo.generate import generate_demo, write_replica_registry

    out = Path(args.out) if args.out else settings().raw_dir
    start = time.monotonic()
    written = generate_demo(out, seed=args.seed, scale=args.scale)
    print(f"wrote {len(written)} synthetic demo files (calibrated to published cell values; not the "
          f"original samples) to {out} in {time.monotonic() - start:.1f}s")
    if args.scale > 1:
        # the replicas' registry rows go where `qsafety lock` will lock this raw dir
        lock_dir = resolve_manifest_dir(out.resolve(), for_lock=True)
        if lock_dir.resolve() == DEMO_LOCK_DIR.resolve():
            print(f"  note: not writing the replicas' registry rows into the shipped demo lock dir {lock_dir}")
        else:
            print(f"  registry rows of the synthetic replicas: {write_replica_registry(lock_dir)} "
                  f"(then `qsafety lock`, with QSAFETY_RAW_DIR={out})")
    return 0


def _progress(args, log_name: str):
    from .progress import Progress

    return Progress(verbose=getattr(args, "verbose", False), quiet=getattr(args, "quiet", False),
                    log_path=settings().work_dir / "dbt_logs" / log_name)


def cmd_lock(args) -> int:
    from .build import lock

    cfg = settings(for_lock=True)
    print(f"locking {cfg.raw_dir} -> {cfg.manifest_path}")
    with _warehouse_lock(cfg, "qsafety lock", args), _progress(args, "lock_output.log") as progress:
        notes = lock(cfg, new_wave=args.new_wave, progress=progress)
    for note in notes:
        print(f"  {note}")
    return 0


def cmd_build(args) -> int:
    cfg = settings()
    with_docs = getattr(args, "export", False) and not args.no_docs
    dbt_vars = _vars(args.var)
    with _warehouse_lock(cfg, "qsafety build", args):
        if not (args.force or args.full_refresh):
            # decided before dbt, Great Expectations or the build module are imported
            # (uptodate.py): an unchanged warehouse is confirmed in about a second
            from .buildlock import remove_leftovers
            from .uptodate import bundle_fingerprint, decide

            decision = decide(cfg, dbt_vars, rehash=args.rehash)
            if decision.up_to_date:
                remove_leftovers(cfg)
                print(f"warehouse up to date: {cfg.db_path} ({decision.reason}; fingerprint "
                      f"{decision.fingerprint.digest[:12]}, checked in {decision.seconds:.1f}s; "
                      f"--force rebuilds)")
                if not getattr(args, "export", False):
                    return 0
                has_docs = args.no_docs or (cfg.out_dir / "docs" / "static_index.html").exists()
                if bundle_fingerprint(cfg.out_dir) == decision.fingerprint.digest and has_docs:
                    print(f"bundle up to date: {cfg.out_dir}")
                    return 0
                with _progress(args, "export_output.log") as progress:
                    return _write_bundle(cfg, dbt_vars, docs=not args.no_docs, progress=progress)
            reason = decision.reason if len(decision.reason) <= 150 else decision.reason[:147] + "..."
            print(f"building: {reason}", flush=True)
        else:
            print("building: " + ("--full-refresh" if args.full_refresh else "--force") + " given", flush=True)
        return _build_and_export(cfg, args, dbt_vars, with_docs)


def _build_and_export(cfg, args, dbt_vars: dict, with_docs: bool) -> int:
    from .build import build, build_summary, built_docs_dir

    with _warehouse_lock(cfg, "qsafety build", args), _progress(args, "build_output.log") as progress:
        report = build(cfg, dbt_vars=dbt_vars, full_refresh=args.full_refresh, docs=with_docs,
                       rehash=args.rehash, progress=progress)
        for line in build_summary(cfg, report):
            print(line)
        if getattr(args, "export", False):
            docs_built_in = built_docs_dir(cfg) if "dbt_docs_s" in report.timings else None
            return _write_bundle(cfg, dbt_vars, docs=not args.no_docs, docs_built_in=docs_built_in,
                                 progress=progress)
    return 0


def _write_bundle(cfg, dbt_vars: dict | None, docs: bool = True, out: str | None = None,
                  docs_built_in: Path | None = None, progress=None) -> int:
    from .bundle.export import bundle_stage, export, open_bundle_connection
    from .bundle.report import build_report
    from .engine import engine_for

    start = time.monotonic()
    final = Path(out) if out else cfg.out_dir
    # the whole bundle (tables, report, docs) is written to a new directory and swapped in at once
    with open_bundle_connection(cfg) as con, bundle_stage(final) as stage:   # Spark: the tables are read once
        result = export(cfg, out_dir=stage, dbt_vars=dbt_vars, con=con, staged=True)
        rep = build_report(cfg, out_dir=stage, dbt_vars=dbt_vars, con=con)
        if docs:
            engine_for(cfg).generate_docs(stage / "docs", built_in=docs_built_in, progress=progress)
    print(f"bundle:     {final} ({len(result.rows)} tables as CSV + Parquet, run_manifest.json)")
    if result.missing:
        print(f"  note: tables not in the warehouse, not exported: {', '.join(result.missing)}")
    print(f"report:     {final / rep.html.name}")
    if docs:
        print(
            f"dbt docs:   {final / 'docs' / 'static_index.html'} (opens from disk; index.html needs `dbt docs serve`)"
        )
    print(f"bundle written in {time.monotonic() - start:.1f}s")
    return 0


def cmd_export(args) -> int:
    from .bundle.export import export

    result = export(settings(), out_dir=Path(args.out) if args.out else None, parquet=not args.no_parquet)
    print(f"wrote {len(result.files)} files to {result.out_dir}")
    if result.missing:
        print(f"  note: tables not in the warehouse, not exported: {', '.join(result.missing)}")
    return 0


def cmd_report(args) -> int:
    from .bundle.export import bundle_stage
    from .bundle.report import build_report

    cfg = settings()
    final = Path(args.out) if args.out else cfg.out_dir
    with bundle_stage(final, owns=lambda name: False) as stage:   # the rest of the bundle is kept as it is
        rep = build_report(cfg, out_dir=stage)
    print(f"report: {final / rep.markdown.name}\n        {final / rep.html.name}")
    return 0


def cmd_docs(args) -> int:
    from .engine import engine_for

    cfg = settings()
    with _progress(args, "docs_output.log") as progress:
        docs = engine_for(cfg).generate_docs(Path(args.out or cfg.out_dir) / "docs", progress=progress)
    print(f"dbt docs: {docs / 'static_index.html'} (opens from disk; index.html needs `dbt docs serve`)")
    return 0


def cmd_screen(args) -> int:
    from .screen import render, screen

    cfg = settings()
    print(f"screening {args.raw} against {cfg.db_path} (scratch copy; the warehouse is not modified)", flush=True)
    with _progress(args, "screen_output.log") as progress:
        result = screen(args.raw, cfg, progress=progress, say=progress.print, wait=args.wait)
    print(render(result))
    print(f"(scratch build {result.timings.get('total_s', 0):.0f}s)")
    return result.exit_code


def cmd_query(args) -> int:
    from . import query_output
    from .engine import engine_for

    engine = engine_for(settings())
    sql = query_output.read_sql(args.sql, args.file)
    engine.require_warehouse("run `make run` first")
    try:   # read-only: external access off, configuration locked, one SELECT (engine/query.py)
        table = engine.query_read_only(sql)
    except QSafetyError:
        raise
    except Exception as exc:  # noqa: BLE001 - the database's message, DuckDB's hints kept
        raise QSafetyError(query_output.one_line_error(exc)) from exc

    if table is None:
        print("(the statement returned no result set)", file=sys.stderr)
        return 0
    query_output.write_result(table, args.format, args.max_rows, width=args.width)
    return 0


def _version() -> str:
    from importlib import metadata

    def v(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"qsafety {v('quant-safety-warehouse')} (dbt-core {v('dbt-core')}, dbt-duckdb {v('dbt-duckdb')}, "
            f"duckdb {v('duckdb')}, great-expectations {v('great-expectations')})")


ENVIRONMENT = """environment (all optional):
  QSAFETY_RAW_DIR       raw JSONL directory              (default data/raw)
  QSAFETY_DB            warehouse DuckDB file            (default data/warehouse.duckdb)
  QSAFETY_MANIFEST_DIR  folder of source_manifest.csv    (default seeds/manifest)
  QSAFETY_OUT           export bundle directory          (default data/bundle)
  QSAFETY_TARGET        dbt target: duckdb or spark      (default duckdb)
  QSAFETY_DUCKDB_THREADS, QSAFETY_DUCKDB_MEMORY_LIMIT    DuckDB threads (cores) and memory limit (1GB)
  QSAFETY_DUCKDB_STORAGE_VERSION  storage format of a new warehouse file (default v1.0.0: DuckDB 1.x reads it)
  QSAFETY_GX_HISTORY    gate runs kept in a warehouse's validation history (default 30)
  QSAFETY_STATS_WORKERS worker processes of the mixed-model fits (default: cores)
  QSAFETY_LOAD_CHUNK_BYTES  bytes staging reads at once, each range checked against its audited sha256 (64 MiB)
  QSAFETY_DEBUG=1       show the traceback of an error
relative paths are taken from the current directory."""


def main(argv: list[str] | None = None) -> int:
    from .engine.dbt_runner import SINGLE_THREAD_BLAS

    for name, value in SINGLE_THREAD_BLAS.items():   # children (dbt, the Spark stats step) inherit it
        os.environ.setdefault(name, value)
    parser = argparse.ArgumentParser(prog="qsafety", description=__doc__.split("\n")[0], epilog=ENVIRONMENT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # the dbt target of the commands that build or read the warehouse (default QSAFETY_TARGET or duckdb)
    on_target = argparse.ArgumentParser(add_help=False)
    on_target.add_argument("--target", choices=["duckdb", "spark"],
                           help="dbt target (default: $QSAFETY_TARGET, else duckdb; spark needs the spark extra)")
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="print dbt's full output as it runs (default: one progress line per stage; "
                                "the full output is always in <build dir>/dbt_logs/)")
    # the commands that take the warehouse lock (one build, lock or screen at a time per warehouse)
    waits = argparse.ArgumentParser(add_help=False)
    waits.add_argument("--wait", action="store_true",
                       help="wait for another build, lock or screen of this warehouse to finish (default: refuse "
                            "at once, naming it)")

    def command(name, help_text, parents=()):
        return sub.add_parser(name, parents=list(parents), help=help_text, description=help_text, epilog=ENVIRONMENT,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = command("demo", "write the synthetic demo raw data (calibrated to the published cell values)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: $QSAFETY_RAW_DIR, else data/raw)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: %(default)s, the committed lockfile's)")
    p.add_argument(
        "--scale", type=int, default=1, help="copies of the demo's cells, for benchmarks (default: %(default)s)"
    )
    p.set_defaults(func=cmd_demo)
    p = command("lock", "refresh the source manifest (lockfile) for the raw directory", [on_target, verbosity, waits])
    p.add_argument("--new-wave", action="store_true",
                   help="put new files in a new release wave (the stats then also report the cells without them)")
    p.set_defaults(func=cmd_lock)
    p = command("build", "build the warehouse: pre-flight audit, dbt build, data-quality gate, atomic swap",
                [on_target, verbosity, waits])
    p.add_argument("--full-refresh", action="store_true",
                   help="rebuild incremental staging from scratch (implies --rehash)")
    p.add_argument("--rehash", action="store_true",
                   help="re-read every raw file in the pre-flight audit, also those unchanged since the last build")
    p.add_argument("--force", action="store_true",
                   help="build even when the warehouse is up to date (its inputs' fingerprint unchanged since "
                        "the last successful build: raw files, lock dir, project code and seeds, vars, packages)")
    p.add_argument("--var", action="append", metavar="KEY=VALUE",
                   help="dbt var override (repeatable; defaults and the rule each is checked against in "
                        "dbt_project.yml)")
    p.add_argument("--export", action="store_true",
                   help="then write the bundle (export, report, dbt docs) to $QSAFETY_OUT (default data/bundle)")
    p.add_argument("--no-docs", action="store_true", help="with --export: skip the dbt docs site")
    p.set_defaults(func=cmd_build)
    p = command("query", "run one read-only SQL query (SELECT, EXPLAIN) against the warehouse ($QSAFETY_DB)",
                [on_target])
    p.add_argument("sql", nargs="?", help="the SQL (or use -f FILE)")
    p.add_argument("-f", "--file", metavar="FILE", help="read the SQL from FILE ('-' = stdin)")
    p.add_argument("--format", choices=["table", "csv", "json", "markdown"], default="table",
                   help="output format (default: %(default)s; table = DuckDB's box renderer)")
    p.add_argument("--max-rows", type=int, default=None, metavar="N",
                   help="print the first N rows, 0 = all (default: 200 for table/markdown, all for csv/json); "
                        "a note on stderr says when rows were cut")
    p.add_argument("--width", type=int, default=None, metavar="COLUMNS",
                   help="table width (default: the terminal's, else 160); wider results elide middle columns")
    p.set_defaults(func=cmd_query)
    p = command("export", "write the analysis bundle (CSV + Parquet per table, run_manifest.json)", [on_target])
    p.add_argument("--out", metavar="DIR", help="bundle directory (default: $QSAFETY_OUT, else data/bundle)")
    p.add_argument("--no-parquet", action="store_true", help="CSV only")
    p.set_defaults(func=cmd_export)
    p = command("report", "write analysis_report.md and analysis_report.html into the bundle", [on_target])
    p.add_argument("--out", metavar="DIR", help="bundle directory (default: $QSAFETY_OUT, else data/bundle)")
    p.set_defaults(func=cmd_report)
    p = command("docs", "dbt docs site into <bundle>/docs (static_index.html opens from disk)", [on_target, verbosity])
    p.add_argument("--out", metavar="DIR", help="bundle directory (default: $QSAFETY_OUT, else data/bundle)")
    p.set_defaults(func=cmd_docs)
    p = command("screen", "deltas, regime, taxonomy and action of new quantized variants (scratch warehouse)",
                [verbosity, waits])
    p.add_argument("--raw", required=True, metavar="DIR", help="directory of the new variants' raw JSONL logs")
    p.add_argument("--quiet", action="store_true", help="no progress lines (stages, dbt nodes); default: off")
    p.set_defaults(func=cmd_screen)
    args = parser.parse_args(argv)
    if getattr(args, "target", None):
        os.environ["QSAFETY_TARGET"] = args.target   # settings() and the dbt subprocesses read it
    try:
        return args.func(args)
    except QSafetyError as exc:
        if os.environ.get("QSAFETY_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # database errors etc.: still one line
        if os.environ.get("QSAFETY_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
