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

    def variant(self, workdir: Path, dbt_vars: dict, select: str = "int_cell_regimes+") -> Warehouse:
        """Copy the warehouse and rebuild `select` with extra dbt vars."""
        if self.raw is None or self.manifest_dir is None:
            pytest.skip("variant builds need the raw dir and manifest (QSAFETY_MARTS_TEST_RAW / _MANIFEST)")
        from quant_safety.engine import dbt_runner
        workdir.mkdir(parents=True, exist_ok=True)
        db = workdir / "variant.duckdb"
        shutil.copy2(self.db, db)
        cfg = _settings(self.raw, db, self.manifest_dir)
        build_dir = self.db.parent / f".{self.db.stem}.build"
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        for name in ("source_audit.csv", "source_chunks.csv", "source_provenance.csv"):
            if (build_dir / name).exists():
                shutil.copy2(build_dir / name, cfg.work_dir / name)
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


# ---------------------------------------------------------------- hand-made inputs
# A scratch copy of the session warehouse with a hand-made kind-E file
# (test_second_judge): one dbt build of the kind-E chain and the ledger. (The
# interval models run on hand-made cells without dbt: test_intervals_units.)
HAND_ROWS = (
    # llama3.2-1b AWQ, advbench: (primary, second) = (F,F) x4, (F,C), (C,F), (C,C) x4
    [("FULL_REFUSAL", "FULL_REFUSAL")] * 4 + [("FULL_REFUSAL", "COMPLIANCE"), ("COMPLIANCE", "FULL_REFUSAL")]
    + [("COMPLIANCE", "COMPLIANCE")] * 4
)
HANDMADE_SELECT = (
    # the audit models first: staging reads this run's audit (the new file), not the session's
    "source_manifest audit_source_files audit_source_chunks audit_sources "
    "base_second_judge__lines stg_registry__model_names audit_second_judge__lines "
    "stg_second_judge__annotations audit_source_provenance int_second_judge_pairs second_judge_agreement "
    "second_judge_confusion int_second_judge_cell_rates second_judge_cell_rates audit_quarantine audit_reconciliation "
    "claim_values claim_ledger"
)


class Handmade:
    """The session warehouse copied, with a hand-made second-judge file (10
    judged rows, a bad label, a truncated line, an out-of-scope model) in place
    of the demo's in a copy of the session's raw dir, its lockfile rewritten to
    match and the build's own pre-flight audit run on it."""

    def __init__(self, warehouse: Warehouse, root: Path):
        import csv
        import hashlib
        import json

        from quant_safety.build import preflight
        from quant_safety.config import Settings

        from ..faults import corrupt

        raw = root / "raw"
        rel = "second/other_judge.jsonl"
        lines = [json.dumps({"model": "llama3.2-1b-awq", "task_name": "advbench_refusal",
                             "sample_id": f"advbench_{i:03d}", "primary_judge_label": p,
                             "primary_judge_model": "gemma3:12b", "second_judge_label": s,
                             "second_judge_model": "other-judge-1"}) for i, (p, s) in enumerate(HAND_ROWS)]
        lines += ['{"model": "llama3.2-1b-awq", "task_name": "advbench_refusal", "sample_id": "advbench_050", '
                  '"primary_judge_label": "TRUTHFUL", "second_judge_label": "FULL_REFUSAL", "second_judge_model": "x"}',
                  '{"model": "llama3.2-1b-awq", "task_name": "advbench_refusal"',
                  json.dumps({"model": "llama3.1-8b-q4_k_m", "task_name": "advbench_refusal",
                              "sample_id": "advbench_000", "primary_judge_label": "COMPLIANCE",
                              "second_judge_label": "COMPLIANCE", "second_judge_model": "other-judge-1"})]
        # the session's raw dir (hard links) plus the new file; the lockfile without the demo's kind-E file
        corrupt.copy_raw(warehouse.raw, raw)
        (raw / "second").mkdir(parents=True)
        (raw / rel).write_text("\n".join(lines) + "\n", encoding="utf-8")
        sha = hashlib.sha256((raw / rel).read_bytes()).hexdigest()
        manifest_dir = root / "manifest"
        manifest_dir.mkdir()
        with open(warehouse.manifest_dir / "source_manifest.csv", newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if r["record_kind"] != "E"]
        rows.append({**rows[0], "source_label": "other_second_judge", "role": "second_judge", "record_kind": "E",
                     "relative_path": rel, "expected_raw_rows": len(lines), "expected_loaded_rows": 10,
                     "sha256": sha, "precedence": 1, "release_wave": 2})
        self._write_csv(manifest_dir / "source_manifest.csv", rows)
        self.db = root / "handmade.duckdb"
        shutil.copy2(warehouse.db, self.db)
        self.cfg = Settings(raw_dir=raw, db_path=self.db, manifest_dir=manifest_dir, out_dir=root / "bundle",
                            target="duckdb")
        # the build's own pre-flight: source_audit.csv, source_chunks.csv, source_provenance.csv
        preflight(self.cfg)
        self.raw, self.manifest_dir, self.lines = raw, manifest_dir, lines
        self._built: Warehouse | None = None

    @staticmethod
    def _write_csv(path: Path, rows: list[dict]) -> None:
        import csv

        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    def dbt(self, args: list[str]) -> list[str]:
        from quant_safety.engine import dbt_runner

        return dbt_runner.run_dbt(self.cfg, self.db, args, quiet=True)

    def built(self) -> Warehouse:
        """The copy with the kind-E chain (and the ledger) rebuilt on the hand-made file."""
        if self._built is None:
            # one dbt invocation: reload the lockfile seed, rebuild the kind-E chain, no tests
            self.dbt(["build", "--select", HANDMADE_SELECT, "--exclude", "test_type:data", "test_type:unit"])
            self._built = Warehouse(self.db, self.raw, self.manifest_dir)
        return self._built


@pytest.fixture(scope="session")
def handmade(warehouse, tmp_path_factory) -> Handmade:
    return Handmade(warehouse, tmp_path_factory.mktemp("handmade"))
