"""Bad input behaves the same on Spark: on corrupted demo data the line
statuses agree row for row between DuckDB and Spark.

The raw dir is the fault tests' corrupted-input sample (tests/faults: the demo
data cut to 400 lines per file, the stratified sample of 5 variants per fault
class) with every non-fatal variant of the sample applied *at once* to one
copy: 95 faults of 19 classes (every quarantine, load and note class) in one
raw dir, several per file (line edits applied bottom-up so that earlier line
numbers stay put, then the file-level ones). The fatal classes stop the build
at the pre-flight audit, before any engine runs, so they need no engine
comparison. Then the seeds and staging models are built on both targets and
compared: audit_reconciliation, audit_quarantine (line numbers, reasons,
detail, preview) and audit_exclusions_by_rule, every column, every row.

Slow (two staging builds, one of them on a cold local Spark); needs Java and
the `spark` extra.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

pytest.importorskip("pyspark")
pytest.importorskip("dbt.adapters.spark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("java not found", allow_module_level=True)

from quant_safety import manifest  # noqa: E402
from quant_safety.config import Settings  # noqa: E402
from quant_safety.engine.readers import open_reader  # noqa: E402

from ..faults import corrupt  # noqa: E402
from ..faults.test_faults import CI_SAMPLE_PER_CLASS, SMALL_LINES, stratified  # noqa: E402
from .pipeline import fast_local_env  # noqa: E402
from .test_spark_staging import build_staging  # noqa: E402

# file-level variants after the line edits, in this order (a BOM last: it only prefixes bytes)
FILE_LEVEL_ORDER = ["truncated_last_line", "duplicate_across_files", "extra_unknown_file", "crlf_endings", "utf8_bom"]


def corrupted_raw(demo_raw_dir: Path, root: Path) -> tuple[Path, list[corrupt.Variant]]:
    """One copy of the fault tests' small raw dir carrying every non-fatal
    variant of their stratified CI sample."""
    small = corrupt.truncated_copy(demo_raw_dir, root / "small", SMALL_LINES)
    sample = [v for v in stratified(corrupt.variants(small), CI_SAMPLE_PER_CLASS) if v.behaviour != "fail"]
    raw = corrupt.copy_raw(small, root / "raw")
    line_level = sorted((v for v in sample if v.line > 0), key=lambda v: (v.label, -v.line))
    file_level = sorted((v for v in sample if v.line == 0), key=lambda v: (FILE_LEVEL_ORDER.index(v.fault), v.label))
    for v in line_level + file_level:
        corrupt.apply_variant(raw, v)
    return raw, sample


TABLES = {
    "audit_reconciliation": "source_label",
    "audit_quarantine": "source_label, source_line, reason",
    "audit_exclusions_by_rule": "source_label, load_status, rule",
}


def read_all(cfg: Settings) -> dict[str, tuple[list[str], list[tuple]]]:
    out = {}
    with open_reader(cfg.target, cfg.db_path, cfg.spark_dir) as reader:
        for table, order in TABLES.items():
            columns = list(reader.df(f"select * from {table} limit 0").columns)
            rows = [tuple(None if v != v else v for v in row)          # NaN as NULL
                    for row in reader.rows(f"select * from {table} order by {order}")]
            out[table] = (columns, rows)
    return out


def test_spark_quarantine_and_reconciliation_match_duckdb_on_corrupted_input(
        demo_raw_dir, tmp_path, monkeypatch):
    raw, sample = corrupted_raw(demo_raw_dir, tmp_path)
    classes = {v.fault for v in sample}
    assert len(sample) >= 60 and len(classes) >= 17, (len(sample), sorted(classes))

    # the user re-locks after the changes; the extra file stays unlisted (the `note` behaviour)
    clean_rows, _ = manifest.refresh_rows(tmp_path / "small", manifest.default_manifest_rows())
    new_rows, _ = manifest.refresh_rows(raw, clean_rows)
    known = {r["source_label"] for r in clean_rows}
    manifest_dir = tmp_path / "manifest"
    manifest.write_manifest([r for r in new_rows if r["source_label"] in known], manifest_dir / "source_manifest.csv")

    for key, value in fast_local_env({}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("QSAFETY_SPARK_DIR", str(tmp_path / "spark" / "spark"))
    duck = read_all(build_staging(tmp_path, raw, manifest_dir, "duckdb"))
    spark = read_all(build_staging(tmp_path, raw, manifest_dir, "spark", spark_dbt_tests=False))

    for table in TABLES:
        d_cols, d_rows = duck[table]
        s_cols, s_rows = spark[table]
        assert s_cols == d_cols, table
        assert len(s_rows) == len(d_rows), (table, len(d_rows), len(s_rows))
        diff = [(d, s) for d, s in zip(d_rows, s_rows) if d != s]
        assert not diff, f"{table}: {len(diff)} rows differ, first: duckdb {diff[0][0]} / spark {diff[0][1]}"

    cols, rec = duck["audit_reconciliation"]
    quarantined = sum(r[cols.index("quarantined_rows")] for r in rec)
    reasons = {r[duck["audit_quarantine"][0].index("reason")] for r in duck["audit_quarantine"][1]}
    print(f"\n{len(sample)} faults of {len(classes)} classes in one raw dir: {quarantined} quarantined lines, "
          f"reasons {sorted(reasons)}")
    expected = {v.reason for v in sample if v.behaviour == "quarantine"}
    assert expected <= reasons, sorted(expected - reasons)
    assert all(r[cols.index("balanced")] for r in rec)
