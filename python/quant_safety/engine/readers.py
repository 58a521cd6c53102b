"""Readers of the warehouse tables after a dbt run, one per engine.

DuckDB: the warehouse file, read-only. Spark (dbt-spark `method: session`):
the dbt subprocess's SparkSession is gone when dbt exits, so this opens a new
local SparkSession on the same warehouse dir and Derby metastore
(QSAFETY_SPARK_DIR, see profiles.yml) and reads the tables by name from the
schema dbt wrote (QSAFETY_SPARK_SCHEMA, default qsafety). The embedded Derby
metastore admits one process at a time: open it only after dbt has exited.
"""
from __future__ import annotations

import os
from pathlib import Path


class DuckDBReader:
    def __init__(self, db_path: Path):
        import duckdb
        self._con = duckdb.connect(str(db_path), read_only=True)

    def tables(self) -> set[str]:
        return {r[0] for r in self._con.execute("select table_name from information_schema.tables").fetchall()}

    def df(self, sql: str):
        return self._con.execute(sql).df()

    def arrow(self, sql: str):
        """The result as a pyarrow Table (DuckDB's types kept: integers stay integers);
        None for a statement that returns no result set."""
        relation = self._con.sql(sql)
        if relation is None:
            return None
        return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.fetch_arrow_table()

    def columns_relation(self) -> str:
        """A relation of (table_name, column_name, data_type), DuckDB type names."""
        return "information_schema.columns"

    def rows(self, sql: str) -> list[tuple]:
        return self._con.execute(sql).fetchall()

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SparkReader:
    def __init__(self, spark_dir: Path, schema: str | None = None):
        from pyspark.sql import SparkSession
        spark_dir = Path(spark_dir).resolve()
        self.schema = schema or os.environ.get("QSAFETY_SPARK_SCHEMA", "qsafety")
        self._spark = (
            SparkSession.builder.master(f"local[{os.environ.get('QSAFETY_SPARK_CORES', '*')}]")
            .appName("qsafety-reader")
            .config("spark.sql.warehouse.dir", str(spark_dir / "warehouse"))
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true")
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={spark_dir}")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "false")   # pyarrow is optional
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("QSAFETY_SPARK_SHUFFLE_PARTITIONS", "8"))
            .enableHiveSupport()
            .getOrCreate()
        )
        self._spark.sparkContext.setLogLevel("ERROR")
        self._spark.catalog.setCurrentDatabase(self.schema)

    def tables(self) -> set[str]:
        return {t.name for t in self._spark.catalog.listTables(self.schema)}

    def df(self, sql: str):
        return self._spark.sql(sql).toPandas()

    def arrow(self, sql: str):
        """The result as a pyarrow Table, Spark's types kept (a nullable int stays an int)."""
        import pyarrow as pa

        columns, rows = self.typed_rows(sql)
        return pa.Table.from_pylist([dict(zip([c for c, _ in columns], r)) for r in rows]) if rows else \
            pa.table({c: pa.array([], type=pa.string()) for c, _ in columns})

    def columns_relation(self) -> str:
        """Spark has no information_schema: a temporary view of (table_name,
        column_name, data_type) over the schema's tables, with DuckDB type names
        (VARCHAR, BIGINT, DOUBLE, BOOLEAN, ...) so that the gate's type checks
        read the same on both engines."""
        names = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
                 "float": "FLOAT", "boolean": "BOOLEAN", "smallint": "SMALLINT", "tinyint": "TINYINT"}
        rows = []
        for table in sorted(self.tables()):
            for field in self._spark.table(f"{self.schema}.{table}").schema.fields:
                simple = field.dataType.simpleString()
                rows.append((table, field.name, names.get(simple, simple.upper())))
        self._spark.createDataFrame(rows, "table_name string, column_name string, data_type string") \
            .createOrReplaceTempView("qsafety_columns")
        return "qsafety_columns"

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self._spark.sql(sql).collect()]

    def typed_rows(self, sql: str) -> tuple[list[tuple[str, str]], list[tuple]]:
        """(column name, Spark SQL type) pairs and the rows (Python values; a
        nullable int stays an int, unlike in a pandas frame)."""
        frame = self._spark.sql(sql)
        return ([(f.name, f.dataType.simpleString()) for f in frame.schema.fields],
                [tuple(r) for r in frame.collect()])

    def write_table(self, name: str, frame) -> None:
        """Replace table `name` of the schema with a pandas DataFrame (parquet,
        like the dbt tables). NaN is stored as NULL, as dbt-duckdb does for a
        Python model's DataFrame; an all-NULL column is typed string."""
        from pyspark.sql import types as T

        fields, columns = [], []
        for col in frame.columns:
            series = frame[col]
            values = [None if _is_missing(v) else _plain(v) for v in series.tolist()]
            kinds = {type(v) for v in values if v is not None}
            if series.dtype.kind == "b" or kinds == {bool}:
                spark_type = T.BooleanType()
            elif series.dtype.kind in "iu" or kinds == {int}:
                spark_type = T.LongType()
            elif series.dtype.kind == "f" or kinds <= {int, float} and kinds:
                spark_type = T.DoubleType()
                values = [None if v is None else float(v) for v in values]
            else:
                spark_type = T.StringType()
                values = [None if v is None else str(v) for v in values]
            fields.append(T.StructField(str(col), spark_type, True))
            columns.append(values)
        schema = T.StructType(fields)
        rows = list(zip(*columns)) if columns else []
        (self._spark.createDataFrame(rows, schema).write.mode("overwrite").format("parquet")
         .saveAsTable(f"{self.schema}.{name}"))

    def close(self) -> None:
        self._spark.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _is_missing(value) -> bool:
    """None, NaN, pandas NA / NaT."""
    import pandas as pd
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):   # not a scalar
        return False


def _plain(value):
    """numpy scalars as Python values."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def open_reader(target: str, db_path: Path, spark_dir: Path | None = None):
    """A reader of the warehouse dbt just built: DuckDB file or Spark metastore."""
    if target == "spark":
        if spark_dir is None:
            raise ValueError("spark target: spark_dir (QSAFETY_SPARK_DIR) is required")
        return SparkReader(spark_dir)
    return DuckDBReader(db_path)
