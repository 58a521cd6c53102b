"""`qsafety`: the command line of the quant-safety warehouse.

  qsafety demo [--out DIR] [--seed N] [--scale K]   write the synthetic demo raw data
  qsafety lock                                      refresh the source manifest (lockfile)
  qsafety build [--full-refresh] [--var k=v]        audit, dbt build, gate, atomic swap
  qsafety query "<SQL>"                             read-only query, printed as a table

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
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        out[key.strip()] = value.strip()
    return out


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
    for note in lock(cfg):
        print(f"  {note}")
    return 0


def cmd_build(args) -> int:
    from .build import build

    cfg = settings()
    report = build(cfg, dbt_vars=_vars(args.var), full_refresh=args.full_refresh)
    print(f"warehouse:  {report.db_path}")
    if report.data_docs_index:
        print(f"data docs:  {report.data_docs_index}")
    print("timings:    " + ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items()))
    return 0


def cmd_query(args) -> int:
    import duckdb

    cfg = settings()
    if not cfg.db_path.exists():
        raise QSafetyError(f"{cfg.db_path}: warehouse not found (run `make run` first)")
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        frame = con.execute(args.sql).df()
    import pandas as pd

    with pd.option_context("display.max_rows", args.max_rows, "display.max_columns", 50, "display.width", 200):
        print(frame.to_string(index=False) if len(frame) else "(no rows)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qsafety", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="write the synthetic demo raw data")
    p.add_argument("--out")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scale", type=int, default=1)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("lock", help="refresh the source manifest for the raw directory")
    p.set_defaults(func=cmd_lock)
    p = sub.add_parser("build", help="build the warehouse (audit, dbt build, gate, swap)")
    p.add_argument("--full-refresh", action="store_true", help="rebuild incremental staging from scratch")
    p.add_argument("--var", action="append", help="dbt var override, key=value (repeatable)")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("query", help="run a read-only SQL query against the warehouse")
    p.add_argument("sql")
    p.add_argument("--max-rows", type=int, default=200)
    p.set_defaults(func=cmd_query)
    args = parser.parse_args(argv)
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
