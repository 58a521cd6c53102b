"""Where things are: the project, the raw data, the warehouse file, the lockfile.

Environment variables (all optional):
  QSAFETY_RAW_DIR       raw JSONL directory            (default data/raw)
  QSAFETY_DB            warehouse DuckDB file          (default data/warehouse.duckdb)
  QSAFETY_MANIFEST_DIR  the lock dir: source_manifest.csv and the registry additions
                        (default: <raw dir>.qsafety beside the raw dir; see resolve_manifest_dir)
  QSAFETY_OUT           export bundle directory        (default data/bundle)
  QSAFETY_TARGET        dbt target: duckdb or spark    (default duckdb)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
# the shipped lock dir of the synthetic demo data (`qsafety demo --seed 42` into data/raw);
# `qsafety lock` never writes it
DEMO_LOCK_DIR = PROJECT_DIR / "seeds" / "manifest"
DEFAULT_RAW_DIR = PROJECT_DIR / "data" / "raw"
LOCK_DIR_SUFFIX = ".qsafety"


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


def lock_dir_beside(raw_dir: Path) -> Path:
    """The default lock dir of a raw dir: `<raw dir>.qsafety` next to it (`/data/lab/raw`
    -> `/data/lab/raw.qsafety`), so that the lock travels with the data it locks."""
    raw_dir = Path(raw_dir).resolve()
    return raw_dir.with_name(raw_dir.name + LOCK_DIR_SUFFIX)


def resolve_manifest_dir(raw_dir: Path, for_lock: bool = False) -> Path:
    """The lock dir of `raw_dir`, the same for `qsafety lock` and `qsafety build`:

    1. QSAFETY_MANIFEST_DIR when set;
    2. else `<raw dir>.qsafety` beside the raw dir (lock always writes there; build reads
       it when it holds a source_manifest.csv);
    3. else, for the project's default raw dir (data/raw, where `make run` writes the demo),
       the shipped demo lock dir seeds/manifest.
    """
    value = os.environ.get("QSAFETY_MANIFEST_DIR")
    if value:
        return _path("QSAFETY_MANIFEST_DIR", "").resolve()
    beside = lock_dir_beside(raw_dir)
    if for_lock or (beside / "source_manifest.csv").exists():
        return beside
    if Path(raw_dir).resolve() == DEFAULT_RAW_DIR.resolve():
        return DEMO_LOCK_DIR
    return beside


def settings(for_lock: bool = False) -> Settings:
    raw_dir = _path("QSAFETY_RAW_DIR", "data/raw").resolve()
    return Settings(
        raw_dir=raw_dir,
        db_path=_path("QSAFETY_DB", "data/warehouse.duckdb").resolve(),
        manifest_dir=resolve_manifest_dir(raw_dir, for_lock=for_lock),
        out_dir=_path("QSAFETY_OUT", "data/bundle").resolve(),
        target=os.environ.get("QSAFETY_TARGET", "duckdb"),
    )
