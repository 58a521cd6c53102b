"""The engine interface: what the build, the bundle and the CLI ask of the
engine that holds the built tables."""
from __future__ import annotations

from pathlib import Path


class Engine:
    """One dbt target's engine, for one Settings (`cfg`)."""

    name: str = ""      # the dbt target
    label: str = ""     # for people: "DuckDB", "Spark"
    # dbt writes the tables where they live (no file to copy, build into and swap)
    builds_in_place: bool = False
    # dbt runs the dbt Python models of models/stats on this engine
    runs_python_models: bool = True
    # the largest raw file the engine's staging reads (None: no limit)
    max_raw_file_bytes: int | None = None

    def __init__(self, cfg):
        self.cfg = cfg

    # -- where the tables are -------------------------------------------------------------
    def building_path(self) -> Path:
        """The database path dbt builds into."""
        raise NotImplementedError

    def location(self) -> str:
        """Where the tables are (a file, or the dir holding them), for people."""
        raise NotImplementedError

    def build_label(self, building: Path) -> str:
        """What the build stage line says dbt builds into."""
        raise NotImplementedError

    def warehouse_mtime(self) -> float:
        """When the built tables were last written (run_timings.json)."""
        raise NotImplementedError

    def require_warehouse(self, hint: str = "run `qsafety build` first") -> None:
        """Raise QSafetyError when there is nothing built to read."""

    # -- reading --------------------------------------------------------------------------
    def reader(self, db_path: Path | None = None):
        """A reader (engine/readers.py) of the tables dbt built into `db_path`
        (default: the warehouse)."""
        from .readers import open_reader

        return open_reader(self.name, Path(db_path or self.cfg.db_path), self.cfg.spark_dir)

    def query_read_only(self, sql: str):
        """`qsafety query`: one read-only statement, its result as a pyarrow Table."""
        from .query import query_read_only

        return query_read_only(self.name, self.cfg.db_path, sql, self.cfg.spark_dir)

    def duckdb_connection(self, tables) -> object:
        """A DuckDB connection holding (at least) `tables` of the built
        warehouse, for the bundle writer and the report: they are written by one
        code path whatever the engine."""
        raise NotImplementedError

    # -- dbt docs -------------------------------------------------------------------------
    def generate_docs(self, docs_dir: Path, built_in: Path | None = None, quiet: bool = True,
                      progress=None) -> Path:
        """The dbt docs site in `docs_dir` (engine/docs.py)."""
        raise NotImplementedError
