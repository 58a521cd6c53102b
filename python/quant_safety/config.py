"""Where things are: the project, the raw data, the warehouse file, the lockfile.

Environment variables (all optional):
  QSAFETY_RAW_DIR       raw JSONL directory            (default data/raw)
  QSAFETY_DB            warehouse DuckDB file          (default data/warehouse.duckdb)
  QSAFETY_MANIFEST_DIR  folder of source_manifest.csv  (default seeds/manifest)
  QSAFETY_OUT           export bundle directory        (default data/bundle)
  QSAFETY_TARGET        dbt target: duckdb or spark    (default duckdb)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _path(env: str, default: str) -> Path:
    value = os.environ.get(env)
    path = Path(value) if value else PROJECT_DIR / default
    return path if path.is_absolute() else (Path.cwd() / path)


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    db_path: Path
    manifest_dir: Path
    out_dir: Path
    target: str

    @property
    def manifest_path(self) -> Path:
        return self.manifest_dir / "source_manifest.csv"

    @property
    def work_dir(self) -> Path:
        """Build artefacts of this warehouse file (dbt target, logs, source audit, Data Docs)."""
        return self.db_path.parent / f".{self.db_path.stem}.build"

    @property
    def spark_dir(self) -> Path:
        """Spark target: warehouse dir and Derby metastore (profiles.yml, QSAFETY_SPARK_DIR)."""
        value = os.environ.get("QSAFETY_SPARK_DIR")
        return Path(value).resolve() if value else self.work_dir / "spark"

    @property
    def building_db_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".building")

    @property
    def data_docs_dir(self) -> Path:
        return self.db_path.parent / f"{self.db_path.stem}_data_docs"


def settings() -> Settings:
    return Settings(
        raw_dir=_path("QSAFETY_RAW_DIR", "data/raw").resolve(),
        db_path=_path("QSAFETY_DB", "data/warehouse.duckdb").resolve(),
        manifest_dir=_path("QSAFETY_MANIFEST_DIR", "seeds/manifest").resolve(),
        out_dir=_path("QSAFETY_OUT", "data/bundle").resolve(),
        target=os.environ.get("QSAFETY_TARGET", "duckdb"),
    )
