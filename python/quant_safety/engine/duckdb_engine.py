"""DuckDB: the warehouse is one file, built into `<db>.building` and swapped in."""
from __future__ import annotations

from pathlib import Path

from ..errors import QSafetyError
from .base import Engine


class DuckDBEngine(Engine):
    name = "duckdb"
    label = "DuckDB"

    def building_path(self) -> Path:
        return self.cfg.building_db_path

    def location(self) -> str:
        return str(self.cfg.db_path)

    def build_label(self, building: Path) -> str:
        return building.name

    def warehouse_mtime(self) -> float:
        return self.cfg.db_path.stat().st_mtime

    def require_warehouse(self, hint: str = "run `qsafety build` first") -> None:
        if not self.cfg.db_path.exists():
            raise QSafetyError(f"{self.cfg.db_path}: warehouse not found ({hint})")

    def duckdb_connection(self, tables=()):
        """The warehouse file, read-only (every table of it)."""
        import duckdb

        self.require_warehouse()
        return duckdb.connect(str(self.cfg.db_path), read_only=True)

    def generate_docs(self, docs_dir: Path, built_in: Path | None = None, quiet: bool = True,
                      progress=None) -> Path:
        """`built_in`: a dbt target dir where the build just generated the site,
        copied as it is. Otherwise `dbt docs generate --static` runs on a scratch
        copy of the warehouse file (dbt opens its database read-write), with its
        own target dir, so the real warehouse is never touched."""
        from .docs import copy_docs_site, generate_on_scratch_copy

        if built_in is not None and (built_in / "index.html").exists():
            copy_docs_site(built_in, docs_dir)
            return docs_dir
        self.require_warehouse()
        return generate_on_scratch_copy(self.cfg, docs_dir, quiet=quiet, progress=progress)
