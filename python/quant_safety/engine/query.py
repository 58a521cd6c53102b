"""`qsafety query`: one read-only statement against the warehouse, per engine.

DuckDB: the file opened read-only with external access disabled and the
configuration locked. Spark: a parsed plan that is a query, datasource paths
off, no reflect / java_method.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import QSafetyError
from .readers import SparkReader

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
