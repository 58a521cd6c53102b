"""Output of `qsafety query`: one query result as a table, CSV, JSON or Markdown.

The result is fetched once, as an Arrow table (types kept: a BIGINT count
stays an integer, NULL stays NULL), and rendered from there:

  table     DuckDB's own box renderer (column types in the header, wide results
            fitted to the terminal width by eliding middle columns)
  csv       RFC 4180 CSV with a header; floats written with repr (shortest text
            that reads back to the same double), NULL as an empty field
  json      a JSON array of objects, one row per line; NULL as null
  markdown  a pipe table (numbers right-aligned)

`--max-rows N` keeps the first N rows in every format (0 = all); when rows are
cut, a note naming the total goes to stderr, so that stdout stays parseable.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import decimal
import json
import math
import re
import shutil
import sys
from pathlib import Path

from .errors import QSafetyError

FORMATS = ("table", "csv", "json", "markdown")
DEFAULT_MAX_ROWS = {"table": 200, "markdown": 200, "csv": 0, "json": 0}


def read_sql(sql: str | None, file: str | None) -> str:
    """The query text: the positional SQL or the file given with -f ('-' = stdin)."""
    if sql is not None and file is not None:
        raise QSafetyError("give the query either as an argument or with -f FILE, not both")
    if file is not None:
        if file == "-":
            text = sys.stdin.read()
        else:
            path = Path(file)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise QSafetyError(f"{path}: cannot read the query file ({exc.__class__.__name__}: "
                                   f"{exc.strerror if isinstance(exc, OSError) else exc})") from exc
        where = "stdin" if file == "-" else file
    else:
        text, where = sql, "the query argument"
    if text is None or not _strip_sql_comments(text).strip().strip(";").strip():
        raise QSafetyError(f"empty query in {where}: give a SQL statement, e.g. "
                           "qsafety query \"select * from matrix limit 5\" (or -f query.sql)")
    return text


def _strip_sql_comments(text: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", text, flags=re.S)


def one_line_error(exc: BaseException) -> str:
    """A database error on one line with DuckDB's hints kept ("Did you mean ...",
    "Candidate bindings: ...") and the echo of the query text (LINE 1: ... ^) dropped."""
    lines = [line.strip() for line in str(exc).splitlines()]
    kept = []
    for line in lines:
        if not line:
            continue
        if line.startswith("LINE ") or set(line) <= {"^", " "}:
            break   # DuckDB's caret display of the query: the rest is the echo
        kept.append(line)
    message = " ".join(kept) or exc.__class__.__name__
    return message if re.match(r"[A-Za-z ]*Error:", message) else f"{exc.__class__.__name__}: {message}"


# ------------------------------------------------------------------ values
def _plain(value):
    """Arrow/DuckDB Python values as JSON-ready values."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _text(value) -> str:
    """One field as text (CSV, Markdown): NULL empty, floats round-trip exactly
    (inf, -inf and nan as Python and DuckDB read them back)."""
    if isinstance(value, float):
        return repr(value)
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# ------------------------------------------------------------------ writers
def write_result(table, fmt: str = "table", max_rows: int | None = None, out=None, err=None,
                 width: int | None = None) -> int:
    """Write an Arrow table in `fmt`; returns the number of rows written."""
    out = out or sys.stdout
    err = err or sys.stderr
    if fmt not in FORMATS:
        raise QSafetyError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    limit = DEFAULT_MAX_ROWS[fmt] if max_rows is None else max_rows
    if limit < 0:
        raise QSafetyError(f"--max-rows {limit}: must be >= 0 (0 = all rows)")
    total = table.num_rows
    shown = table if not limit or total <= limit else table.slice(0, limit)
    if fmt == "table":
        _write_box(shown, out, width)
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(shown.column_names)
        for row in _rows(shown):
            writer.writerow([_text(v) for v in row])
    elif fmt == "json":
        records = [dict(zip(shown.column_names, (_plain(v) for v in row))) for row in _rows(shown)]
        out.write("[" + ",\n ".join(json.dumps(r, ensure_ascii=False, allow_nan=False) for r in records) + "]\n")
    else:
        _write_markdown(shown, out)
    if shown.num_rows < total:
        err.write(f"({shown.num_rows} of {total} rows shown; --max-rows 0 shows all)\n")
    return shown.num_rows


def _rows(table):
    columns = [col.to_pylist() for col in table.columns]
    return zip(*columns) if columns else iter(())


def _write_box(table, out, width: int | None) -> None:
    import duckdb

    if width is None:
        width = shutil.get_terminal_size(fallback=(160, 24)).columns
    with duckdb.connect() as mem:
        mem.register("query_result", table)
        relation = mem.sql("select * from query_result")
        with contextlib.redirect_stdout(out):
            relation.show(max_width=max(width, 40), max_rows=max(table.num_rows, 1))


def _write_markdown(table, out) -> None:
    import pyarrow.types as pat

    numeric = [pat.is_integer(f.type) or pat.is_floating(f.type) or pat.is_decimal(f.type) for f in table.schema]
    esc = lambda s: s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")  # noqa: E731
    out.write("| " + " | ".join(esc(c) for c in table.column_names) + " |\n")
    out.write("|" + "|".join("---:" if n else "---" for n in numeric) + "|\n")
    for row in _rows(table):
        out.write("| " + " | ".join(esc(_text(v)) for v in row) + " |\n")
