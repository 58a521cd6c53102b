"""Fixtures of the cell-mart tests.

The demo warehouse is built once per session (tests/conftest.py: generate the
demo raw data, build with the committed lockfile); var-variant tests copy it and
rebuild only the models downstream of the var.

Reference checks read the shared reference data located via env
QSAFETY_SHARED_DIR (default ``<repo>/../shared``) and skip when it is absent;
the build itself never reads it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_reference_dir() -> Path:
    root = Path(os.environ.get("QSAFETY_SHARED_DIR", REPO.parent / "shared"))
    return root / "reference"


class Warehouse:
    """A built warehouse file plus what is needed to rebuild variants of it."""

    def __init__(self, db: Path, raw: Path | None, manifest_dir: Path | None):
        self.db, self.raw, self.manifest_dir = db, raw, manifest_dir

    def df(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).df()

    def variant(self, workdir: Path, dbt_vars: dict, select: str = "regimes+") -> "Warehouse":
        """Copy the warehouse and rebuild `select` with extra dbt vars."""
        if self.raw is None or self.manifest_dir is None:
            pytest.skip("variant builds need the raw dir and manifest (QSAFETY_MARTS_TEST_RAW / _MANIFEST)")
        from quant_safety import config, dbt_runner
        workdir.mkdir(parents=True, exist_ok=True)
        db = workdir / "variant.duckdb"
        shutil.copy2(self.db, db)
        cfg = _settings(self.raw, db, self.manifest_dir)
        audit = self.db.parent / f".{self.db.stem}.build" / "source_audit.csv"
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        if audit.exists():
            shutil.copy2(audit, cfg.work_dir / "source_audit.csv")
        dbt_runner.run_dbt(cfg, db, ["run", "--select", select], dbt_vars=dbt_vars, quiet=True)
        return Warehouse(db, self.raw, self.manifest_dir)


def _settings(raw: Path, db: Path, manifest_dir: Path):
    from quant_safety.config import Settings
    return Settings(raw_dir=raw, db_path=db, manifest_dir=manifest_dir, out_dir=db.parent / "bundle",
                    target=os.environ.get("QSAFETY_TARGET", "duckdb"))


@pytest.fixture(scope="session")
def warehouse(warehouse) -> Warehouse:
    """The session's demo warehouse (tests/conftest.py builds it once for all
    test folders), wrapped with helpers for queries and var-variant rebuilds."""
    return Warehouse(warehouse.db_path, warehouse.raw_dir, warehouse.manifest_dir)


@pytest.fixture(scope="session")
def matrix(warehouse) -> pd.DataFrame:
    return warehouse.df("select * from matrix")


@pytest.fixture(scope="session")
def published() -> pd.DataFrame:
    ref = shared_reference_dir()
    if not (ref / "published_cells.csv").exists():
        pytest.skip(f"shared reference data absent at {ref} (set QSAFETY_SHARED_DIR)")
    return pd.read_csv(ref / "published_cells.csv")


@pytest.fixture(scope="session")
def rtsi() -> pd.DataFrame:
    ref = shared_reference_dir()
    if not (ref / "rtsi_table.csv").exists():
        pytest.skip(f"shared reference data absent at {ref} (set QSAFETY_SHARED_DIR)")
    return pd.read_csv(ref / "rtsi_table.csv")


@pytest.fixture(scope="session")
def with_published(matrix, published) -> pd.DataFrame:
    return matrix.merge(published, on=["base_model", "quant"], how="left", suffixes=("", "_pub"))
