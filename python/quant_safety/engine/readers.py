"""Read warehouse tables after a dbt run, whatever the dbt target.

DuckDB: the warehouse file, read-only. Spark (dbt-spark `method: session`):
the dbt subprocess's SparkSession is gone when dbt exits, so this opens a new
local SparkSession on the same warehouse dir and Derby metastore
(QSAFETY_SPARK_DIR, see profiles.yml) and reads the tables by name from the
schema dbt wrote (QSAFETY_SPARK_SCHEMA, default qsafety). The embedded Derby
metastore admits one process at a time: open it only after dbt has exited.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import QSafetyError


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


# `qsafety query`: what may run. DuckDB's own checks stand behind these (external
# access off, configuration locked, read-only file), so a statement that slips
# past the type check still cannot write or read anything outside the warehouse.
QUERY_STATEMENT_TYPES = ("SELECT", "EXPLAIN")
QUERY_DUCKDB_CONFIG = {
    "enable_external_access": False,      # no COPY TO, ATTACH, INSTALL/LOAD, read_csv('/any/file'), glob
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,           # SET / PRAGMA cannot turn any of it back on
}
# Spark SQL functions that call arbitrary Java methods
_SPARK_REFUSED_FUNCTIONS = re.compile(r"(?i)(?<![\w.])`?(reflect|java_method|try_reflect)`?\s*\(")


class QueryRefused(QSafetyError):
    """A statement `qsafety query` does not run (it would change or read something else)."""


def query_read_only(target: str, db_path: Path, sql: str, spark_dir: Path | None = None):
    """Run one read-only SQL statement against the warehouse: its result as a
    pyarrow Table (types kept), None for a statement without a result set.

    DuckDB: the file opened read-only with external access disabled and the
    configuration locked; exactly one statement, a SELECT (WITH, FROM-first,
    DESCRIBE, SHOW, SUMMARIZE, VALUES, TABLE) or an EXPLAIN. Spark: one
    statement whose parsed plan is a query (no command, no INSERT), with
    datasource.`path` queries off and no reflect / java_method. Anything else
    raises QueryRefused with one line saying why."""
    if target == "spark":
        return _spark_query_read_only(Path(spark_dir), sql)
    import duckdb

    with duckdb.connect(str(db_path), read_only=True, config=dict(QUERY_DUCKDB_CONFIG)) as con:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryRefused(f"query does not parse: {str(exc).splitlines()[0]}") from None
        if len(statements) != 1:
            raise QueryRefused(f"one statement at a time: the query holds {len(statements)}")
        kind = statements[0].type.name
        if kind not in QUERY_STATEMENT_TYPES:
            word = (sql.strip().split(None, 1) or ["?"])[0].upper()
            raise QueryRefused(f"qsafety query runs a single SELECT or EXPLAIN; this is {word} (statement type {kind}; "
                               f"the warehouse is read-only here)")
        try:
            relation = con.sql(sql)
            if relation is None:
                return None
            return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.fetch_arrow_table()
        except duckdb.PermissionException as exc:
            raise QueryRefused(f"refused: {str(exc).splitlines()[0]} (qsafety query reads the warehouse only)") \
                from None


def _spark_query_read_only(spark_dir: Path, sql: str):
    if _SPARK_REFUSED_FUNCTIONS.search(sql):
        raise QueryRefused("refused: reflect / java_method call Java methods (qsafety query reads the warehouse only)")
    with SparkReader(spark_dir) as reader:
        spark = reader._spark
        spark.conf.set("spark.sql.runSQLOnFiles", "false")     # no csv.`/any/path` in a query
        try:
            plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(sql)
        except Exception as exc:  # noqa: BLE001 - a py4j ParseException (also: several statements)
            raise QueryRefused(f"query does not parse as one statement: {str(exc).splitlines()[0][:200]}") from None
        command = spark._jvm.java.lang.Class.forName("org.apache.spark.sql.catalyst.plans.logical.Command")
        name = plan.getClass().getSimpleName()
        if command.isInstance(plan) or name.endswith(("Statement", "Command")) or name.startswith(
                ("Create", "Drop", "Alter", "Insert", "Delete", "Update", "Merge", "Replace", "Set", "Reset",
                 "Add", "Cache", "Uncache", "Refresh", "Truncate", "Load", "Use", "Repair", "Analyze")):
            raise QueryRefused(f"qsafety query runs a single query; this is a {name} (the warehouse is read-only here)")
        return reader.arrow(sql)


def open_reader(target: str, db_path: Path, spark_dir: Path | None = None):
    """A reader of the warehouse dbt just built: DuckDB file or Spark metastore."""
    if target == "spark":
        if spark_dir is None:
            raise ValueError("spark target: spark_dir (QSAFETY_SPARK_DIR) is required")
        return SparkReader(spark_dir)
    return DuckDBReader(db_path)
