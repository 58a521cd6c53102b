"""Issue 6: bad input never crashes the build and never loses a line.

Every fault class of corrupt.py has a decided behaviour (README "Data quality").
CI runs a stratified sample (>= 100 variants covering every class); the full
set (>= 500) runs with `-m slow`.
"""
from __future__ import annotations

import collections
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from quant_safety import manifest
from quant_safety.build import build, preflight
from quant_safety.errors import InputError

from ..conftest import make_settings
from . import corrupt

SMALL_LINES = 400          # lines kept per file for the fault builds
CI_SAMPLE_PER_CLASS = 5


@pytest.fixture(scope="session")
def small_raw(demo_raw_dir, tmp_path_factory) -> Path:
    return corrupt.truncated_copy(demo_raw_dir, tmp_path_factory.mktemp("faults") / "raw", SMALL_LINES)


@pytest.fixture(scope="session")
def clean_manifest_rows(small_raw) -> list[dict]:
    rows, _ = manifest.refresh_rows(small_raw, manifest.default_manifest_rows())
    return rows


@pytest.fixture(scope="session")
def all_variants(small_raw) -> list[corrupt.Variant]:
    return corrupt.variants(small_raw)


def stratified(variants, per_class, seed=1):
    rng = random.Random(seed)
    by_class = collections.defaultdict(list)
    for v in variants:
        by_class[v.fault].append(v)
    return [v for fault in sorted(by_class) for v in rng.sample(by_class[fault], min(per_class, len(by_class[fault])))]


def test_generator_covers_every_class_with_500_variants(all_variants):
    assert len(all_variants) >= 500
    classes = {v.fault for v in all_variants}
    assert classes == set(corrupt.LINE_FAULTS) | set(corrupt.FILE_FAULTS) | set(corrupt.CROSS_FAULTS)
    sample = stratified(all_variants, CI_SAMPLE_PER_CLASS)
    assert len(sample) >= 100 and {v.fault for v in sample} == classes


def _prepare(small_raw, rows, tmp: Path, v: corrupt.Variant):
    raw = corrupt.copy_raw(small_raw, tmp / "raw")
    corrupt.apply_variant(raw, v)
    cfg = make_settings(tmp, raw)
    cfg.manifest_dir.mkdir(parents=True, exist_ok=True)
    new_rows = rows
    if v.relock:
        new_rows, _ = manifest.refresh_rows(raw, rows)   # may itself raise InputError (not UTF-8)
    manifest.write_manifest(new_rows, cfg.manifest_path)
    return cfg


def _check_failing(small_raw, rows, tmp, v):
    try:
        cfg = _prepare(small_raw, rows, tmp, v)
        preflight(cfg)
    except InputError as err:
        message = str(err)
    else:
        pytest.fail(f"{v.key}: expected the build to stop")
    assert "\n" not in message
    assert corrupt.SOURCES[v.label][1] in message, message
    assert v.reason in message, message


def _run_batches(small_raw, rows, tmp_root: Path, batch_variants, capsys):
    """Apply non-failing variants, as many per file as fit (corrupt.fits_batch), build
    staging, check every line."""
    pending = list(batch_variants)
    n = 0
    while pending:
        batch = []
        for v in list(pending):
            if corrupt.fits_batch(v, batch):
                batch.append(v)
                pending.remove(v)
        n += 1
        tmp = tmp_root / f"batch{n}"
        raw = corrupt.copy_raw(small_raw, tmp / "raw")
        where = corrupt.apply_batch(raw, batch)
        cfg = make_settings(tmp, raw)
        cfg.manifest_dir.mkdir(parents=True)
        new_rows, _ = manifest.refresh_rows(raw, rows)
        known = {r["source_label"] for r in rows}
        # re-lock the changed files only; an extra file stays unlisted (the `note` behaviour)
        manifest.write_manifest([r for r in new_rows if r["source_label"] in known], cfg.manifest_path)
        build(cfg, quiet=True, select="resource_type:seed staging audit")
        out = capsys.readouterr().out
        with duckdb.connect(str(cfg.db_path), read_only=True) as con:
            recon = con.execute("select source_label, raw_lines, loaded_rows, excluded_rows, quarantined_rows, "
                                "balanced from audit_reconciliation").fetchall()
            for label, raw_lines, loaded, excluded, quarantined, balanced in recon:
                assert balanced and raw_lines == loaded + excluded + quarantined, label
            status = {}
            for kind in ("quality", "safety", "judge", "text", "second_judge"):
                for label, line, st, reason in con.execute(
                        f"select source_label, source_line, load_status, status_reason from audit_{kind}__lines"
                ).fetchall():
                    status[(label, line)] = (st, reason or "")
        for v in batch:
            line = where[v.key]
            if v.behaviour == "note":
                assert "not in the manifest" in out
                continue
            if v.fault == "duplicate_across_files":
                src_label = v.params[0]
                pair = [status[(v.label, line)], status[(src_label, where[v.key + "#source"])]]
                assert sorted(s for s, _ in pair) == ["loaded", "quarantined"], (v.key, pair)
                assert any(r.startswith("duplicate_across_sources") for _, r in pair), (v.key, pair)
                continue
            st, reason = status[(v.label, line)]
            if v.behaviour == "load":
                assert st in ("loaded", "excluded"), (v.key, st, reason)
                if v.fault == "crlf_endings":
                    assert all(status[(v.label, i)][0] != "quarantined" or not status[(v.label, i)][1].startswith(
                        "invalid_json") for i in range(1, line + 1))
            else:
                expected_status = "quarantined" if v.behaviour == "quarantine" else "excluded"
                assert (st, reason.split(":")[0]) == (expected_status, v.reason), (v.key, st, reason)
    return n


def test_failing_classes_name_the_file(small_raw, clean_manifest_rows, all_variants, tmp_path):
    failing = [v for v in stratified(all_variants, CI_SAMPLE_PER_CLASS) if v.behaviour == "fail"]
    assert failing
    for i, v in enumerate(failing):
        _check_failing(small_raw, clean_manifest_rows, tmp_path / f"v{i}", v)


def test_continuing_classes_quarantine_and_reconcile(small_raw, clean_manifest_rows, all_variants, tmp_path, capsys):
    continuing = [v for v in stratified(all_variants, CI_SAMPLE_PER_CLASS) if v.behaviour != "fail"]
    assert _run_batches(small_raw, clean_manifest_rows, tmp_path, continuing, capsys) >= 1


@pytest.mark.slow
def test_all_variants(small_raw, clean_manifest_rows, all_variants, tmp_path, capsys):
    failing = [v for v in all_variants if v.behaviour == "fail"]
    for i, v in enumerate(failing):
        _check_failing(small_raw, clean_manifest_rows, tmp_path / f"f{i}", v)
    _run_batches(small_raw, clean_manifest_rows, tmp_path, [v for v in all_variants if v.behaviour != "fail"], capsys)


@pytest.mark.parametrize("fault", ["hash_drift", "file_missing", "not_utf8", "changed_row_count"])
def test_cli_failure_is_one_line_without_traceback(small_raw, clean_manifest_rows, tmp_path, fault):
    v = corrupt.Variant(fault, "v3_awq_gptq_safety", 0, "fail", "", relock=(fault == "not_utf8"))
    raw = corrupt.copy_raw(small_raw, tmp_path / "raw")
    corrupt.apply_variant(raw, v)
    cfg = make_settings(tmp_path, raw)
    cfg.manifest_dir.mkdir(parents=True)
    manifest.write_manifest(clean_manifest_rows, cfg.manifest_path)
    env = {"QSAFETY_RAW_DIR": str(raw), "QSAFETY_DB": str(cfg.db_path), "QSAFETY_MANIFEST_DIR": str(cfg.manifest_dir)}
    proc = subprocess.run([sys.executable, "-m", "quant_safety.cli", "build"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "v3_safety/20260331_125319/phase3_scored.jsonl" in error_lines[0]
    assert not cfg.db_path.exists()


@pytest.mark.slow   # CI: tests/oracle generates models without their baseline cell
def test_cell_missing_its_baseline(warehouse, tmp_path):
    """Every phi-2 FP16 row removed: the build continues, phi-2's cells get NULL
    deltas, regime no_baseline and action manual_review; the gate warns."""
    import json
    import shutil

    raw = corrupt.copy_raw(warehouse.raw_dir, tmp_path / "raw")
    removed = 0
    for _label, (_kind, rel) in corrupt.SOURCES.items():
        path = raw / rel
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line.replace("NaN", "null"))
            name = (rec.get("model") or rec.get("model_name") or "").lower()
            if name == "phi-2-fp16":
                removed += 1
                continue
            kept.append(line)
        if len(kept) != sum(1 for _ in path.open(encoding="utf-8")):
            path.unlink()
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    assert removed > 0
    cfg = make_settings(tmp_path, raw)
    cfg.manifest_dir.mkdir()
    rows, _ = manifest.refresh_rows(raw, manifest.read_manifest(warehouse.manifest_path))
    manifest.write_manifest(rows, cfg.manifest_path)
    shutil.copy(warehouse.db_path, cfg.db_path)          # incremental: only the changed files are re-read
    report = build(cfg, quiet=True)
    assert any("baseline" in w for w in report.gate_warnings)
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        phi = con.execute("""select quant, regime, deployment_action, safety_refusal_rate_delta_pp
                             from matrix where base_model = 'phi-2'""").fetchall()
        others = con.execute(
            "select count(*) from matrix where base_model <> 'phi-2' and regime = 'no_baseline'"
        ).fetchone()[0]
    assert phi and all(r[1] == "no_baseline" and r[2] == "manual_review" and r[3] is None for r in phi)
    assert "FP16" not in {r[0] for r in phi}
    assert others == 0
