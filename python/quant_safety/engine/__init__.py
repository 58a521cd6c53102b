"""The engine that holds the built tables: DuckDB (the warehouse file) or Spark
(dbt-spark `method: session`: a warehouse dir and a Derby metastore).

What the build, the bundle and the CLI need from it is one interface
(`Engine`, engine/base.py), with one implementation per engine; the rest of the
package asks `engine_for(cfg)` instead of branching on the target:

  readers.py        read tables after a dbt run (DuckDBReader, SparkReader, open_reader)
  query.py          `qsafety query`: one read-only statement
  dbt_runner.py     run dbt as a subprocess (environment, work dirs, failure summary)
  docs.py           the dbt docs site
  duckdb_engine.py  DuckDBEngine
  spark_engine.py   SparkEngine (its tables copied into an in-memory DuckDB for the bundle)

Importing this package imports neither duckdb, pyspark nor dbt.
"""
from __future__ import annotations

from .base import Engine
from .duckdb_engine import DuckDBEngine
from .spark_engine import SparkEngine

ENGINES: dict[str, type[Engine]] = {"duckdb": DuckDBEngine, "spark": SparkEngine}


def engine_for(cfg) -> Engine:
    """The engine of `cfg.target` (validated: duckdb or spark)."""
    try:
        return ENGINES[cfg.target](cfg)
    except KeyError:
        raise ValueError(f"unknown target {cfg.target!r} (one of {', '.join(ENGINES)})") from None


__all__ = ["ENGINES", "DuckDBEngine", "Engine", "SparkEngine", "engine_for"]
