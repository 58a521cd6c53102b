"""Shared fixtures: the synthetic demo raw data and a warehouse built from it,
once per test session, in a temporary directory (never in data/)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from quant_safety.config import PROJECT_DIR, Settings

SHARED_DIR = Path(os.environ.get("QSAFETY_SHARED_DIR", PROJECT_DIR.parent / "shared"))


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The published reference tables (tests only; the build never reads them)."""
    ref = SHARED_DIR / "reference"
    if not (ref / "published_cells.csv").exists():
        pytest.skip(f"reference tables not found in {ref} (set QSAFETY_SHARED_DIR)")
    return ref


@pytest.fixture(scope="session")
def demo_raw_dir(tmp_path_factory) -> Path:
    from quant_safety.demo.generate import generate_demo

    raw = tmp_path_factory.mktemp("demo") / "raw"
    generate_demo(raw, seed=42, scale=1)
    return raw


def make_settings(root: Path, raw_dir: Path, manifest_dir: Path | None = None) -> Settings:
    return Settings(raw_dir=raw_dir, db_path=root / "warehouse.duckdb",
                    manifest_dir=manifest_dir or (root / "manifest"), out_dir=root / "bundle",
                    target="duckdb")


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory, demo_raw_dir) -> Settings:
    """The demo warehouse, built with the committed lockfile (seeds/manifest)."""
    root = tmp_path_factory.mktemp("warehouse")
    manifest_dir = root / "manifest"
    manifest_dir.mkdir()
    shutil.copy(PROJECT_DIR / "seeds" / "manifest" / "source_manifest.csv", manifest_dir)
    cfg = make_settings(root, demo_raw_dir, manifest_dir)
    BUILD_OUTPUT["stdout"] = _build_through_cli(cfg)
    return cfg


# what `qsafety build` printed when the session warehouse was built (tests/test_progress.py)
BUILD_OUTPUT: dict[str, str] = {}


def _build_through_cli(cfg: Settings) -> str:
    """`qsafety build` (the CLI, as a user runs it) on cfg; returns its stdout."""
    import contextlib
    import io

    from quant_safety.cli import main

    env = {"QSAFETY_DB": str(cfg.db_path), "QSAFETY_RAW_DIR": str(cfg.raw_dir),
           "QSAFETY_MANIFEST_DIR": str(cfg.manifest_dir), "QSAFETY_OUT": str(cfg.out_dir)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main(["build"])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert code == 0, f"qsafety build failed (exit {code}); its output:\n{out.getvalue()[-3000:]}"
    return out.getvalue()


@pytest.fixture()
def query(warehouse):
    import duckdb

    def run(sql: str):
        with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
            return con.execute(sql).df()

    return run


STAGING_OF_KIND = {"quality": "stg_quality__samples", "safety": "stg_safety__scored_samples",
                   "judge": "stg_judge__annotations", "text": "stg_safety__generations",
                   "second_judge": "stg_second_judge__annotations"}


def staging_against_audit(db_path: Path) -> set[str]:
    """Asserts that each staging model holds one row per line its audit table loaded and
    none of the others, with the audit's cell and release wave (staging takes those from
    the small source and model-name tables, not from the audit's row of each line: macro
    loaded_lines). Returns the statuses the audit tables hold, for the caller to check
    that the build had lines of each."""
    import duckdb

    statuses: set[str] = set()
    with duckdb.connect(str(db_path), read_only=True) as con:
        for kind, staging in STAGING_OF_KIND.items():
            audit = con.execute(f"select load_status, source_label, source_line, base_model, quant, release_wave "
                                f"from audit_{kind}__lines").fetchall()
            loaded = sorted(row[1:] for row in audit if row[0] == "loaded")
            staged = sorted(con.execute(f"select source_label, source_line, base_model, quant, release_wave "
                                        f"from {staging}").fetchall())
            assert staged and staged == loaded, kind
            statuses |= {row[0] for row in audit}
    return statuses
