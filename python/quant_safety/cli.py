"""`qsafety`: the command line of the quant-safety warehouse.

  qsafety demo [--out DIR] [--seed N] [--scale K]   write the synthetic demo raw data
  qsafety lock [--wait]                             refresh the source manifest (lockfile)
  qsafety build [--full-refresh] [--rehash]         audit, dbt build, gate, atomic swap
                [--var k=v] [--wait]
                [--export] [--target duckdb|spark]  (lock/query/export/report/docs take --target too)
  qsafety query "<SQL>"                             read-only query, printed as a table
  qsafety export [--out DIR] [--no-parquet]         analysis bundle: CSV + Parquet per table, run_manifest.json
  qsafety report [--out DIR]                        analysis_report.md + self-contained analysis_report.html
  qsafety docs [--out DIR]                          dbt docs site (index.html, catalog.json, manifest.json)
  qsafety screen --raw DIR [--wait]                 verdicts for new quantized variants (scratch warehouse)

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


def cmd_demo(args) -> int:
    from .demo.generate import generate_demo

    out = Path(args.out) if args.out else settings().raw_dir
    start = time.monotonic()
    written = generate_demo(out, seed=args.seed, scale=args.scale)
    print(f"wrote {len(written)} synthetic demo files (calibrated to published cell values; not the "
          f"original samples) to {out} in {time.monotonic() - start:.1f}s")
    return 0


def cmd_lock(args) -> int:
    from .build import lock

    cfg = settings()
    print(f"locking {cfg.raw_dir} -> {cfg.manifest_path}")
    for note in lock(cfg, new_wave=args.new_wave, wait=args.wait):
        print(f"  {note}")
    return 0


def cmd_build(args) -> int:
    from .build import build, built_docs_dir

    cfg = settings()
    with_docs = getattr(args, "export", False) and not args.no_docs
    report = build(cfg, dbt_vars=_vars(args.var), full_refresh=args.full_refresh, docs=with_docs,
                   rehash=args.rehash, wait=args.wait)
    print(f"warehouse:  {cfg.spark_dir} (Spark)" if cfg.target == "spark" else f"warehouse:  {report.db_path}")
    if report.data_docs_index:
        print(f"data docs:  {report.data_docs_index}")
    print("timings:    " + ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items()))
    if getattr(args, "export", False):
        docs_built_in = built_docs_dir(cfg) if "dbt_docs_s" in report.timings else None
        return _write_bundle(cfg, _vars(args.var), docs=not args.no_docs, docs_built_in=docs_built_in)
    return 0


def _write_bundle(cfg, dbt_vars: dict | None, docs: bool = True, out: str | None = None,
                  docs_built_in: Path | None = None) -> int:
    from .export import bundle_stage, export, export_dbt_docs, open_warehouse
    from .report import build_report

    start = time.monotonic()
    final = Path(out) if out else cfg.out_dir
    # the whole bundle (tables, report, docs) is written to a new directory and swapped in at once
    with open_warehouse(cfg) as con, bundle_stage(final) as stage:   # Spark: the tables are read once
        result = export(cfg, out_dir=stage, dbt_vars=dbt_vars, con=con, staged=True)
        rep = build_report(cfg, out_dir=stage, dbt_vars=dbt_vars, con=con)
        if docs:
            export_dbt_docs(cfg, out_dir=stage, built_in=docs_built_in)
    print(f"bundle:     {final} ({len(result.rows)} tables as CSV + Parquet, run_manifest.json)")
    if result.missing:
        print(f"  note: tables not in the warehouse, not exported: {', '.join(result.missing)}")
    print(f"report:     {final / rep.html.name}")
    if docs:
        print(f"dbt docs:   {final / 'docs' / 'index.html'}")
    print(f"bundle written in {time.monotonic() - start:.1f}s")
    return 0


def cmd_export(args) -> int:
    from .export import export

    result = export(settings(), out_dir=Path(args.out) if args.out else None, parquet=not args.no_parquet)
    print(f"wrote {len(result.files)} files to {result.out_dir}")
    if result.missing:
        print(f"  note: tables not in the warehouse, not exported: {', '.join(result.missing)}")
    return 0


def cmd_report(args) -> int:
    from .export import bundle_stage
    from .report import build_report

    cfg = settings()
    final = Path(args.out) if args.out else cfg.out_dir
    with bundle_stage(final, owns=lambda name: False) as stage:   # the rest of the bundle is kept as it is
        rep = build_report(cfg, out_dir=stage)
    print(f"report: {final / rep.markdown.name}\n        {final / rep.html.name}")
    return 0


def cmd_docs(args) -> int:
    from .export import export_dbt_docs

    print(f"dbt docs: {export_dbt_docs(settings(), out_dir=Path(args.out) if args.out else None) / 'index.html'}")
    return 0


def cmd_screen(args) -> int:
    from .screen import render, screen

    cfg = settings()
    print(f"screening {args.raw} against {cfg.db_path} (scratch copy; the warehouse is not modified)", flush=True)
    result = screen(args.raw, cfg, quiet=not args.verbose, wait=args.wait)
    print(render(result))
    print(f"(scratch build {result.timings.get('total_s', 0):.0f}s)")
    return 0


def cmd_query(args) -> int:
    import pandas as pd

    from .warehouse_reader import query_read_only

    cfg = settings()
    if cfg.target != "spark" and not cfg.db_path.exists():
        raise QSafetyError(f"{cfg.db_path}: warehouse not found (run `make run` first)")
    frame = query_read_only(cfg.target, cfg.db_path, args.sql, cfg.spark_dir)

    with pd.option_context("display.max_rows", args.max_rows, "display.max_columns", 50, "display.width", 200):
        print(frame.to_string(index=False) if len(frame) else "(no rows)")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .dbt_runner import SINGLE_THREAD_BLAS

    for name, value in SINGLE_THREAD_BLAS.items():   # children (dbt, the Spark stats step) inherit it
        os.environ.setdefault(name, value)
    parser = argparse.ArgumentParser(prog="qsafety", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    # the dbt target of the commands that build or read the warehouse (default QSAFETY_TARGET or duckdb)
    on_target = argparse.ArgumentParser(add_help=False)
    on_target.add_argument("--target", choices=["duckdb", "spark"],
                           help="dbt target: duckdb (default, or QSAFETY_TARGET) or spark (needs the spark extra)")
    # the commands that take the warehouse lock (one build, lock or screen at a time per warehouse)
    waits = argparse.ArgumentParser(add_help=False)
    waits.add_argument("--wait", action="store_true",
                       help="wait for another build, lock or screen of this warehouse to finish instead of refusing")
    p = sub.add_parser("demo", help="write the synthetic demo raw data")
    p.add_argument("--out")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scale", type=int, default=1)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("lock", parents=[on_target, waits], help="refresh the source manifest for the raw directory")
    p.add_argument("--new-wave", action="store_true",
                   help="put new files in a new release wave (the stats then also report the cells without them)")
    p.set_defaults(func=cmd_lock)
    p = sub.add_parser("build", parents=[on_target, waits], help="build the warehouse (audit, dbt build, gate, swap)")
    p.add_argument("--full-refresh", action="store_true",
                   help="rebuild incremental staging from scratch (implies --rehash)")
    p.add_argument("--rehash", action="store_true",
                   help="re-read every raw file in the pre-flight audit, also those unchanged since the last build")
    p.add_argument("--var", action="append", help="dbt var override, key=value (repeatable)")
    p.add_argument("--export", action="store_true", help="then write the bundle (export, report, dbt docs) to QSAFETY_OUT")
    p.add_argument("--no-docs", action="store_true", help="with --export: skip the dbt docs site")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("query", parents=[on_target], help="run a read-only SQL query against the warehouse")
    p.add_argument("sql")
    p.add_argument("--max-rows", type=int, default=200)
    p.set_defaults(func=cmd_query)
    p = sub.add_parser("export", parents=[on_target], help="write the analysis bundle (CSV + Parquet per table, run_manifest.json)")
    p.add_argument("--out", help="bundle directory (default QSAFETY_OUT)")
    p.add_argument("--no-parquet", action="store_true")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("report", parents=[on_target], help="write analysis_report.md and analysis_report.html into the bundle")
    p.add_argument("--out", help="bundle directory (default QSAFETY_OUT)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("docs", parents=[on_target], help="dbt docs generate into <bundle>/docs")
    p.add_argument("--out", help="bundle directory (default QSAFETY_OUT)")
    p.set_defaults(func=cmd_docs)
    p = sub.add_parser("screen", parents=[waits], help="deltas, regime, taxonomy and action of new quantized variants")
    p.add_argument("--raw", required=True, help="directory of the new variants' raw JSONL logs")
    p.add_argument("--verbose", action="store_true", help="show dbt progress")
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
