"""The tools analysts already have: the DuckDB 1.x CLI opens the warehouse file,
pandas and polars read the bundle (issue 17)."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

from quant_safety.bundle.tables import TABLES

# DuckDB's file header: 8-byte checksum, b"DUCK", uint64 storage version number.
# 64 is the format every DuckDB 1.x reads (v1.0.0); 1.5 reads 64..68, 2.x writes 69.
HEADER = struct.Struct("<8x4sQ")


def _duckdb_cli() -> Path:
    cli = Path(sys.executable).with_name("duckdb")   # the duckdb-cli package (pyproject dependency)
    assert cli.exists(), f"{cli}: the DuckDB CLI is missing (pip install duckdb-cli)"
    return cli


def test_warehouse_file_is_in_the_1x_storage_format(warehouse):
    magic, version = HEADER.unpack(warehouse.db_path.read_bytes()[:HEADER.size])
    assert magic == b"DUCK"
    assert version == 64, f"storage version {version}: DuckDB 1.x clients cannot read it"


def test_duckdb_cli_1x_opens_the_warehouse(warehouse):
    cli = _duckdb_cli()
    proc = subprocess.run(
        [str(cli), "-readonly", "-csv", "-noheader", str(warehouse.db_path), "-c",
         "select version(); select count(*) from matrix; "
         "select count(*) from information_schema.tables where table_schema = 'main'"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    version, cells, tables = proc.stdout.split()
    assert version.startswith("v1."), version
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        assert int(cells) == con.execute("select count(*) from matrix").fetchone()[0]
        assert int(tables) == con.execute(
            "select count(*) from information_schema.tables where table_schema = 'main'").fetchone()[0]


def test_pandas_and_polars_read_every_bundle_table(bundle, warehouse):
    out = bundle["dir"]
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        for name, (table, _keys) in TABLES.items():
            n, columns = con.execute(
                f"select (select count(*) from \"{table}\"), "
                "(select list(column_name order by ordinal_position) from information_schema.columns "
                " where table_name = ?)", [table]).fetchone()
            for frame in (pd.read_parquet(out / f"{name}.parquet"), pl.read_parquet(out / f"{name}.parquet"),
                          pd.read_csv(out / f"{name}.csv"), pl.read_csv(out / f"{name}.csv",
                                                                        infer_schema_length=None)):
                assert frame.shape == (n, len(columns)), (name, type(frame))
                assert list(frame.columns) == columns, name
    # integer counts stay integers in Parquet (not float64 through a NaN)
    matrix = pl.read_parquet(out / "matrix.parquet")
    assert matrix.schema["quality_n"].is_integer() and matrix.schema["safety_refusal_rate_n"].is_integer()
