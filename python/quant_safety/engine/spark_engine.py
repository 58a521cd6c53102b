"""Spark (dbt-spark `method: session`): dbt writes the tables in place, under a
warehouse dir and a Derby metastore (cfg.spark_dir)."""
from __future__ import annotations

from pathlib import Path

from .base import Engine

# Spark SQL simple type names -> DuckDB (decimal(p,s) and the rest pass through)
SPARK_TO_DUCKDB = {"string": "varchar", "int": "integer", "bigint": "bigint", "smallint": "smallint",
                   "tinyint": "tinyint", "double": "double", "float": "float", "boolean": "boolean",
                   "date": "date", "timestamp": "timestamp", "void": "varchar"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SparkEngine(Engine):
    name = "spark"
    label = "Spark"
    builds_in_place = True
    # dbt-spark runs dbt Python models only on Databricks: quant_safety.stats_step computes them
    runs_python_models = False
    # Spark reads a raw file whole into one BINARY value (binaryFile), at most 2 GiB - 1
    max_raw_file_bytes = 2**31 - 1

    def building_path(self) -> Path:
        return self.cfg.db_path

    def location(self) -> str:
        return str(self.cfg.spark_dir)

    def build_label(self, building: Path) -> str:
        return "the Spark target"

    def warehouse_mtime(self) -> float:
        return (self.cfg.spark_dir / "warehouse").stat().st_mtime

    def duckdb_connection(self, tables=()):
        """An in-memory DuckDB holding `tables` (those present) read through the
        Spark reader (one Spark session; types kept), so that the bundle is
        written by the same code (ordering, float rounding, CSV/Parquet writer)
        as from a DuckDB warehouse, and the report reads the same tables. Every
        bundle table is a few thousand rows at most, except the quarantine
        (bounded by the bad lines of the raw files)."""
        import duckdb

        con = duckdb.connect()
        with self.reader() as reader:
            present = reader.tables()
            for table in sorted(set(tables) & present):
                columns, rows = reader.typed_rows(f"select * from {table}")
                con.execute(f"create table {_quote(table)} ("
                            + ", ".join(f"{_quote(c)} {SPARK_TO_DUCKDB.get(t, t)}" for c, t in columns) + ")")
                if rows:
                    con.executemany(f"insert into {_quote(table)} values ({', '.join('?' for _ in columns)})",
                                    rows)
        return con

    def generate_docs(self, docs_dir: Path, built_in: Path | None = None, quiet: bool = True,
                      progress=None) -> Path:
        """dbt only reads the Spark catalog: `dbt docs generate --static` runs
        against it with a target dir of its own (the build's stays intact),
        unless the build just generated the site in `built_in`."""
        from ..errors import QSafetyError
        from .docs import copy_docs_site, run_docs_generate

        if built_in is None or not (built_in / "index.html").exists():
            run_docs_generate(self.cfg, self.cfg.db_path, quiet=quiet, progress=progress,
                              target_dir="dbt_target_docs")
            built_in = self.cfg.work_dir / "dbt_target_docs"
        if not (built_in / "index.html").exists():
            raise QSafetyError(f"{built_in}: dbt docs generate wrote no index.html")
        copy_docs_site(built_in, docs_dir)
        return docs_dir
