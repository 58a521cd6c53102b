"""`qsafety query` is scriptable (issue 17): formats, -f FILE, --max-rows, types, errors."""
from __future__ import annotations

import csv
import io
import json
import math

import duckdb
import pytest

from quant_safety.cli import main

ORDERED = "select * from matrix order by base_model, quant"


def _run(capsys, *argv):
    code = main(["query", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _warehouse_rows(cfg, sql):
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return names, cursor.fetchall()


def test_csv_round_trips_the_matrix(cli_env, capsys):
    code, out, err = _run(capsys, "--format", "csv", ORDERED)
    assert code == 0 and err == ""
    names, rows = _warehouse_rows(cli_env, ORDERED)
    parsed = list(csv.reader(io.StringIO(out)))
    assert parsed[0] == names and len(parsed) == len(rows) + 1
    for text_row, row in zip(parsed[1:], rows):
        for name, text, value in zip(names, text_row, row):
            if value is None:
                assert text == "", name
            elif isinstance(value, float) and math.isnan(value):
                assert text == "nan", name
            elif isinstance(value, bool):
                assert text == ("true" if value else "false"), name
            elif isinstance(value, int):
                assert text == str(value), name            # 250, never 250.0
            elif isinstance(value, float):
                assert float(text) == value, name          # exact: the shortest repr reads back the same double
            else:
                assert text == str(value), name


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_max_rows_5_prints_5(cli_env, capsys, fmt):
    code, out, err = _run(capsys, "--format", fmt, "--max-rows", "5", ORDERED)
    assert code == 0
    _, rows = _warehouse_rows(cli_env, ORDERED)
    if fmt == "table":
        body = [line for line in out.splitlines() if line.startswith("│")]
        assert len(body) == 2 + 5          # column names, column types, 5 rows
    elif fmt == "csv":
        assert len(list(csv.reader(io.StringIO(out)))) == 1 + 5
    elif fmt == "json":
        assert len(json.loads(out)) == 5
    else:
        assert len(out.strip().splitlines()) == 2 + 5
    assert f"5 of {len(rows)} rows shown" in err


def test_table_keeps_integer_types_and_fits_the_width(cli_env, capsys):
    code, out, _ = _run(capsys, "--width", "100", "select base_model, quant, quality_n, safety_refusal_rate_n, "
                        "count(*) over () as cells from matrix order by 1, 2")
    assert code == 0
    assert ".0 " not in out and "int64" in out
    code, out, _ = _run(capsys, "--width", "100", ORDERED)
    assert all(len(line) <= 100 for line in out.splitlines())
    assert "…" in out and "columns" in out          # middle columns elided, DuckDB's footer says how many


def test_json_types(cli_env, capsys):
    code, out, _ = _run(capsys, "--format", "json", "select base_model, quant, quality_n, is_baseline, "
                        "judge_bias_resistance from matrix order by judge_bias_resistance nulls first limit 1")
    record = json.loads(out)[0]
    assert isinstance(record["quality_n"], int) and isinstance(record["is_baseline"], bool)
    assert record["judge_bias_resistance"] is None or isinstance(record["judge_bias_resistance"], float)


def test_query_from_file_and_stdin(cli_env, capsys, tmp_path, monkeypatch):
    sql = tmp_path / "cells.sql"
    sql.write_text("-- how many cells\nselect count(*) as cells from matrix;\n", encoding="utf-8")
    code, out, _ = _run(capsys, "-f", str(sql), "--format", "csv")
    assert code == 0 and out.splitlines()[1] == str(_warehouse_rows(cli_env, "select count(*) from matrix")[1][0][0])
    monkeypatch.setattr("sys.stdin", io.StringIO("select 7 as seven"))
    code, out, _ = _run(capsys, "-f", "-", "--format", "csv")
    assert out.splitlines() == ["seven", "7"]


def test_errors_are_one_line_with_duckdb_hints(cli_env, capsys):
    code, out, err = _run(capsys, "select * from matrx")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and 'Did you mean "matrix"' in err
    code, _, err = _run(capsys, "select quantt from matrix")
    assert code == 2 and err.count("\n") == 1 and "Candidate bindings" in err and '"quant"' in err
    for empty in ("", "   ", "-- only a comment\n;"):
        code, _, err = _run(capsys, empty)
        assert code == 2 and err.startswith("error: empty query") and "Traceback" not in err
    code, _, err = _run(capsys, "-f", "/nonexistent/q.sql")
    assert code == 2 and "/nonexistent/q.sql" in err and err.count("\n") == 1
