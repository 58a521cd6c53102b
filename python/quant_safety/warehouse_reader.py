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
from pathlib import Path


class DuckDBReader:
    def __init__(self, db_path: Path):
        import duckdb
        self._con = duckdb.connect(str(db_path), read_only=True)

    def tables(self) -> set[str]:
        return {r[0] for r in self._con.execute("select table_name from information_schema.tables").fetchall()}

    def df(self, sql: str):
        return self._con.execute(sql).df()

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

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self._spark.sql(sql).collect()]

    def close(self) -> None:
        self._spark.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_reader(target: str, db_path: Path, spark_dir: Path | None = None):
    """A reader of the warehouse dbt just built: DuckDB file or Spark metastore."""
    if target == "spark":
        if spark_dir is None:
            raise ValueError("spark target: spark_dir (QSAFETY_SPARK_DIR) is required")
        return SparkReader(spark_dir)
    return DuckDBReader(db_path)
