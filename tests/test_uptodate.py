"""`qsafety build` on a warehouse whose inputs have not changed: "warehouse up to
date" without starting dbt; any changed input (a raw byte, a seed, a model's SQL,
a var, the lock dir) builds; `--force` builds (quant_safety.uptodate).

Everything runs on a copy of the session warehouse (its file, its stat cache, an
index of its Data Docs) beside the same raw dir and lock dir: the session
warehouse is never written, and only the `--force` case starts dbt (killed as
soon as dbt has written its first log line)."""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from quant_safety import manifest, uptodate
from quant_safety.config import PROJECT_DIR, Settings

from .conftest import make_settings


@pytest.fixture()
def copy(warehouse, tmp_path) -> Settings:
    """The session warehouse copied to tmp_path (file, stat cache, Data Docs index)."""
    cfg = make_settings(tmp_path, warehouse.raw_dir, warehouse.manifest_dir)
    shutil.copy2(warehouse.db_path, cfg.db_path)
    cfg.work_dir.mkdir()
    shutil.copy2(warehouse.work_dir / "file_hashes.json", cfg.work_dir / "file_hashes.json")
    cfg.data_docs_dir.mkdir()
    shutil.copy2(warehouse.data_docs_dir / "index.html", cfg.data_docs_dir / "index.html")
    return cfg


def _env(cfg: Settings) -> dict:
    return dict(os.environ, QSAFETY_DB=str(cfg.db_path), QSAFETY_RAW_DIR=str(cfg.raw_dir),
                QSAFETY_MANIFEST_DIR=str(cfg.manifest_dir), QSAFETY_OUT=str(cfg.out_dir))


def _qsafety(cfg: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quant_safety.cli", "build", *args], env=_env(cfg),
                          capture_output=True, text=True, timeout=120)


def test_the_session_warehouse_is_up_to_date_from_its_build_dir_copy(warehouse):
    """Right after its build the warehouse file has the stat the build dir's copy of the
    fingerprint recorded: the check reads that copy and does not open the warehouse."""
    decision = uptodate.decide(warehouse)
    assert decision.up_to_date and decision.via == "sidecar", decision.reason
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        assert decision.fingerprint.digest == con.execute("select fingerprint from build_fingerprint").fetchone()[0]


def test_unchanged_inputs_skip_the_build_without_dbt(copy):
    before = copy.db_path.stat()
    start = time.monotonic()
    proc = _qsafety(copy)
    wall = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("warehouse up to date: "), proc.stdout
    assert uptodate.decide(copy).via == "warehouse"   # a copied file: its own row is read
    # dbt never started: no dbt log, no run results, no build output log in the copy's build dir
    assert not (copy.work_dir / "dbt_logs").exists()
    assert not (copy.work_dir / "dbt_target").exists()
    assert not copy.building_db_path.exists()
    after = copy.db_path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert wall < 60   # not a timing test (bench/ measures it): a dbt build would not be this fast


def test_a_changed_var_builds(copy):
    proc = subprocess.Popen([sys.executable, "-m", "quant_safety.cli", "build", "--var", "judge_dedupe_mode=pool"],
                            env=_env(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)   # our own child; dbt (if started) dies with it
        proc.wait(timeout=60)
    assert first.startswith("building: changed since the last build: vars (judge_dedupe_mode)"), first


def test_force_builds_and_starts_dbt(copy):
    proc = subprocess.Popen([sys.executable, "-m", "quant_safety.cli", "build", "--force"], env=_env(copy),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dbt_log = copy.work_dir / "dbt_logs" / "dbt.log"
    try:
        first = proc.stdout.readline()
        deadline = time.monotonic() + 180
        while not (dbt_log.exists() and dbt_log.stat().st_size) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        started = dbt_log.exists() and dbt_log.stat().st_size > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert first.startswith("building: --force given"), first
    assert started, "dbt did not start under --force"


# ---- what the decision sees (no dbt): each kind of input change, one at a time ----

def _project_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in uptodate.PROJECT_FILES:
        if (PROJECT_DIR / name).is_file():
            shutil.copy2(PROJECT_DIR / name, dest / name)
    for tree in uptodate.PROJECT_TREES:
        if (PROJECT_DIR / tree).is_dir():
            shutil.copytree(PROJECT_DIR / tree, dest / tree,
                            ignore=shutil.ignore_patterns("__pycache__", "uncommitted"))
    return dest


def test_a_changed_model_sql_seed_or_lock_dir_file_builds(copy, tmp_path):
    project = _project_copy(tmp_path / "project")
    same = uptodate.decide(copy, project_dir=project)
    assert same.up_to_date, same.reason   # the same bytes elsewhere: the same fingerprint

    model = project / "models" / "marts" / "matrix.sql"
    model.write_text(model.read_text() + "\n-- a comment is a change\n")
    changed = uptodate.decide(copy, project_dir=project)
    assert not changed.up_to_date and "project (models/marts/matrix.sql)" in changed.reason, changed.reason

    project = _project_copy(tmp_path / "project2")
    seed = project / "seeds" / "reference" / "metric_ranges.csv"
    seed.write_text(seed.read_text().replace("B,score,0.0,1.0", "B,score,0.0,1.00"))
    changed = uptodate.decide(copy, project_dir=project)
    assert not changed.up_to_date and "seeds/reference/metric_ranges.csv" in changed.reason, changed.reason

    lock_dir = tmp_path / "lock"
    shutil.copytree(copy.manifest_dir, lock_dir)
    moved = Settings(copy.raw_dir, copy.db_path, lock_dir, copy.out_dir, copy.target)
    assert uptodate.decide(moved).up_to_date
    (lock_dir / "model_registry_additions.csv").write_text(
        "base_model,name_pattern,family,params_b,architecture,baseline_quant,in_scope,scope_note\n"
        "lab-1b,lab-1b,lab,1.0,dense,FP16,true,a lab's own model\n")
    changed = uptodate.decide(moved)
    assert not changed.up_to_date and "lockdir (model_registry_additions.csv)" in changed.reason, changed.reason


def test_a_changed_raw_byte_builds_even_with_size_and_mtime_restored(copy, tmp_path):
    """A raw dir copy with the same bytes is up to date (relative paths only); one
    byte changed in place, size kept and mtime set back, is still seen: the ctime
    moved, so the stat cache does not vouch for the file and it is hashed again."""
    raw = tmp_path / "raw"
    shutil.copytree(copy.raw_dir, raw)
    moved = Settings(raw, copy.db_path, copy.manifest_dir, copy.out_dir, copy.target)
    time.sleep(manifest.RACY_NS / 1e9 + 0.1)   # older than the racy window: the stat cache keeps them
    first = uptodate.decide(moved)
    assert first.up_to_date, first.reason
    again = uptodate.decide(moved)   # now from the stat cache: nothing re-read
    assert again.up_to_date

    row = manifest.read_manifest(copy.manifest_path)[0]
    path = raw / row["relative_path"]
    st = path.stat()
    data = bytearray(path.read_bytes())
    i = data.index(b'"model"')
    data[i + 1] = ord("M")          # "Model": same size, a different byte
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    changed = uptodate.decide(moved)
    assert not changed.up_to_date
    assert changed.reason == "the raw files do not match the lockfile", changed.reason
    # and the build itself stops on the hash drift, naming the file, before dbt
    proc = _qsafety(moved)
    assert proc.returncode == 2 and "hash drift" in proc.stderr and row["relative_path"] in proc.stderr, proc.stderr
    assert not (moved.work_dir / "dbt_logs" / "dbt.log").exists()


# ---- dbt unit tests: rerun only when the code they test changed ----

def _yaml_unit_tests() -> int:
    import yaml

    return sum(len((yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("unit_tests") or [])
               for p in Path(PROJECT_DIR, "models").rglob("*.yml"))


def _run_results_kinds(cfg: Settings) -> dict:
    import collections
    import json

    results = json.loads((cfg.work_dir / "dbt_target" / "run_results.json").read_text())["results"]
    return dict(collections.Counter(r["unique_id"].split(".", 1)[0] for r in results))


def test_the_session_build_ran_the_unit_tests_and_recorded_them(warehouse):
    assert _run_results_kinds(warehouse).get("unit_test") == _yaml_unit_tests() > 0
    fp = uptodate.decide(warehouse).fingerprint
    assert uptodate.unit_tests_passed_at(warehouse.work_dir, uptodate.code_key(fp))


def test_the_code_key_follows_code_vars_and_lock_dir_not_raw_files(copy):
    rows = manifest.read_manifest(copy.manifest_path)
    audits = manifest.audit_sources(copy.raw_dir, rows, stat_cache=copy.work_dir / "file_hashes.json")
    base = uptodate.compute(copy, None, audits)
    other_raw = uptodate.compute(copy, None, audits[1:])
    assert other_raw.digest != base.digest and uptodate.code_key(other_raw) == uptodate.code_key(base)
    other_var = uptodate.compute(copy, {"judge_dedupe_mode": "pool"}, audits)
    assert uptodate.code_key(other_var) != uptodate.code_key(base)
    # new lockfile rows (new raw files) keep the key; a registry addition changes it
    # (on a copy of the lock dir: the session's is shared)
    lock = dataclasses.replace(copy, manifest_dir=copy.db_path.parent / "lock")
    shutil.copytree(copy.manifest_dir, lock.manifest_dir)
    assert uptodate.code_key(uptodate.compute(lock, None, audits)) == uptodate.code_key(base)
    lock.manifest_path.write_text(lock.manifest_path.read_text() + "\n")
    other_lockfile = uptodate.compute(lock, None, audits)
    assert other_lockfile.components["lockdir"] != base.components["lockdir"]
    assert uptodate.code_key(other_lockfile) == uptodate.code_key(base)
    (lock.manifest_dir / "model_registry_additions.csv").write_text("base_model,name_pattern\n")
    assert uptodate.code_key(uptodate.compute(lock, None, audits)) != uptodate.code_key(base)
    uptodate.record_unit_tests_passed(copy.work_dir, uptodate.code_key(base), 6)
    assert uptodate.unit_tests_passed_at(copy.work_dir, uptodate.code_key(base))
    assert uptodate.unit_tests_passed_at(copy.work_dir, uptodate.code_key(other_var)) is None


def test_a_rebuild_with_unchanged_code_does_not_rerun_the_unit_tests(copy, warehouse):
    """The record of the session build's passing unit tests, copied beside the copy:
    `--force` rebuilds everything else (every data test) and says why the unit tests
    did not run; `--full-refresh` would run them."""
    shutil.copy2(warehouse.work_dir / uptodate.UNIT_TESTS_RECORD, copy.work_dir / uptodate.UNIT_TESTS_RECORD)
    proc = subprocess.run([sys.executable, "-m", "quant_safety.cli", "build", "--force"], env=_env(copy),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "unit tests not rerun (code unchanged since they passed" in proc.stdout
    kinds = _run_results_kinds(copy)
    assert "unit_test" not in kinds
    assert kinds["test"] == _run_results_kinds(warehouse)["test"]
