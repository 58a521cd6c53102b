"""One build at a time; what a killed build, a killed DuckDB session and a file
rewritten mid-build leave behind. One chain on a copy of the suite's build:

  1. build A runs (a real build process, dbt running under it);
  2. a second build, `qsafety lock` and `qsafety screen` of the same warehouse
     refuse at once, naming A's pid and start time;
  3. A is killed with SIGKILL: its dbt process dies with it; A's `.building`
     file (and a WAL, a spill dir, a GX temp dir) stay behind;
  4. an analyst's DuckDB session dies while writing to the warehouse: a stale
     `<db>.wal` with an uncheckpointed table stays beside it;
  5. build R: a source file is changed and re-locked, then rewritten again after
     the pre-flight hashed it (an rsync or an eval job still writing): the build
     refuses it in one line naming the file; the previous warehouse (and its
     WAL) is byte-identical; R removed A's leftovers;
  6. build G fails the data-quality gate: warehouse, WAL and Data Docs untouched;
  7. the file is restored to its locked bytes; build W, started with --wait while
     this test holds the lock, waits, then builds without --full-refresh: the
     file loads with its true hash, the warehouse opens, has no WAL and kept the
     analyst's table, the new Data Docs are in place.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from quant_safety import build as build_module
from quant_safety import manifest
from quant_safety.build import build
from quant_safety.buildlock import lock_path, warehouse_lock
from quant_safety.errors import GateError, InputError

from .conftest import Sandbox, copy_built, sha
from .hostile import record, write_file

BUILD = """
import sys
from pathlib import Path
from quant_safety.build import build
from quant_safety.config import Settings
raw, db, man, out, wait, select = sys.argv[1:7]
cfg = Settings(raw_dir=Path(raw), db_path=Path(db), manifest_dir=Path(man), out_dir=Path(out), target="duckdb")
build(cfg, select=select, wait=wait == "wait")
print("BUILD DONE", flush=True)
"""
ANALYST = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table analyst_notes as select 'keep me' as note")
os._exit(0)     # killed: no close, no checkpoint
"""
REWRITTEN = "v3_7b_awq_safety"
# the lockfile seed and the source audit: enough for the gate to see a changed expected row count
GATE_SELECT = "source_manifest audit_sources"
RELOAD_SELECT = "source_manifest audit_sources base_safety__lines audit_safety__lines audit_reconciliation"


def _env(cfg) -> dict:
    return {**os.environ, "QSAFETY_RAW_DIR": str(cfg.raw_dir), "QSAFETY_DB": str(cfg.db_path),
            "QSAFETY_MANIFEST_DIR": str(cfg.manifest_dir), "QSAFETY_OUT": str(cfg.out_dir)}


def _start_build(cfg, log: Path, select: str, wait: bool = False) -> subprocess.Popen:
    # a script file, not `python -c`: with pyspark installed, Great Expectations imports
    # pyspark.sql.connect, which calls sys.exit(0) in a process whose __main__ has no file
    script = log.with_suffix(".py")
    script.write_text(BUILD)
    return subprocess.Popen([sys.executable, str(script), str(cfg.raw_dir), str(cfg.db_path), str(cfg.manifest_dir),
                             str(cfg.out_dir), "wait" if wait else "no", select], env=_env(cfg),
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _cli(cfg, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quant_safety.cli", *args], env=_env(cfg), capture_output=True,
                          text=True, timeout=300)


def _dbt_child(proc: subprocess.Popen, log: Path, timeout: float = 240) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before dbt started: " + log.read_text()[-2000:]
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                if any(part.endswith("/dbt") for part in child.cmdline()[:3]) and child.create_time() < time.time() - 2:
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise AssertionError("dbt did not start")


def _tree_state(path: Path) -> dict:
    return {str(p.relative_to(path)): sha(p) for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def chain(adv_built, tmp_path_factory):
    root = tmp_path_factory.mktemp("lock_chain")
    cfg = copy_built(adv_built["cfg"], root)
    wal = cfg.db_path.with_name(cfg.db_path.name + ".wal")
    screened = root / "screen_in"
    screened.mkdir()
    (screened / "new.jsonl").write_bytes(record().encode() + b"\n")
    logs = root / "logs"
    logs.mkdir()
    rewritten = cfg.raw_dir / next(r["relative_path"] for r in manifest.read_manifest(cfg.manifest_path)
                                   if r["source_label"] == REWRITTEN)
    # what this test itself writes: its logs, the lockfile and the file it rewrites
    box = Sandbox(root, writable=[cfg.db_path.parent, logs, cfg.manifest_dir, rewritten.parent])
    seen: dict = {}

    # 1-3: a build running; three refusals; SIGKILL
    a = _start_build(cfg, logs / "a.log", "resource_type:seed staging audit")
    dbt = _dbt_child(a, logs / "a.log")
    seen["a_pid"] = a.pid
    seen["refusals"] = {name: _cli(cfg, *args) for name, args in
                        {"build": ["build"], "lock": ["lock"], "screen": ["screen", "--raw", str(screened)]}.items()}
    os.kill(a.pid, signal.SIGKILL)
    a.wait(timeout=30)
    try:
        dbt.wait(timeout=20)
        seen["dbt_survived"] = False
    except psutil.TimeoutExpired:
        seen["dbt_survived"] = True
        dbt.kill()
    seen["building_left"] = cfg.building_db_path.exists()
    leftovers = [cfg.building_db_path.with_name(cfg.building_db_path.name + ".wal"),
                 cfg.building_db_path.with_name(cfg.building_db_path.name + ".tmp"),
                 cfg.work_dir / "qsafety_gx_killed", cfg.building_db_path]
    leftovers[0].write_bytes(b"wal of a killed build")
    leftovers[1].mkdir(exist_ok=True)
    (leftovers[1] / "spill.block").write_bytes(b"x")
    leftovers[2].mkdir()

    # 4: an analyst's session killed while writing
    subprocess.run([sys.executable, "-c", ANALYST, str(cfg.db_path)], check=True, timeout=120)
    seen["wal_written"] = wal.exists()
    state = lambda: (sha(cfg.db_path), sha(wal) if wal.exists() else None, _tree_state(cfg.data_docs_dir))  # noqa: E731
    before = state()

    # 5: a legitimate change (3 lines appended, re-locked), then rewritten after the pre-flight
    rows = manifest.read_manifest(cfg.manifest_path)
    row = next(r for r in rows if r["source_label"] == REWRITTEN)
    path = cfg.raw_dir / row["relative_path"]
    locked = path.read_bytes() + b"".join(record(model="llama3.2-1b-q4_k_m").encode() + b"\n" for _ in range(3))
    write_file(path, locked)
    sha_locked, lines_locked, _size = manifest.hash_and_count(path)
    row.update(sha256=sha_locked, expected_raw_rows=lines_locked)
    manifest.write_manifest(rows, cfg.manifest_path)
    real_run_dbt = build_module.run_dbt

    def rewrite_then_run(*args, **kwargs):
        changed = bytearray(locked)
        changed[len(locked) // 2] ^= 0x01                   # one bit, same size
        write_file(path, bytes(changed))
        return real_run_dbt(*args, **kwargs)

    build_module.run_dbt = rewrite_then_run
    try:
        with pytest.raises(InputError) as refused:
            build(cfg, quiet=True, select="base_safety__lines")
    finally:
        build_module.run_dbt = real_run_dbt
    seen["rewrite_error"] = str(refused.value)
    seen["after_rewrite"] = state()
    seen["leftovers_after"] = [p for p in leftovers if os.path.lexists(p)]
    write_file(path, locked)                                    # the complete file is back

    # 6: a build that fails the gate
    bad = [dict(r) for r in rows]
    victim = next(r for r in bad if r["source_label"] != REWRITTEN and r["record_kind"] == "B")
    victim["expected_loaded_rows"] = str(int(victim["expected_loaded_rows"] or 0) + 1)
    manifest.write_manifest(bad, cfg.manifest_path)
    with pytest.raises(GateError) as failed:
        build(cfg, quiet=True, select=GATE_SELECT)
    seen["gate_error"] = str(failed.value)
    seen["after_gate_failure"] = state()
    seen["before"] = before
    manifest.write_manifest(rows, cfg.manifest_path)

    # 7: a build that waits for the lock, then loads the restored file beside the stale WAL
    with warehouse_lock(cfg, "test holding the lock"):
        w = _start_build(cfg, logs / "w.log", RELOAD_SELECT, wait=True)
        deadline = time.monotonic() + 120
        while "waiting for" not in (logs / "w.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        seen["w_waited"] = w.poll() is None and "waiting for `test holding the lock`" in (logs / "w.log").read_text()
    seen["w_code"] = w.wait(timeout=600)
    seen["w_log"] = (logs / "w.log").read_text()
    seen.update(path=path, sha_locked=sha_locked, lines_locked=lines_locked)
    box.check()
    return cfg, seen


@pytest.mark.parametrize("command", ["build", "lock", "screen"])
def test_second_command_refuses_naming_the_holder(chain, command):
    _cfg, seen = chain
    proc = seen["refusals"][command]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"pid {seen['a_pid']}" in errors[0] and "started 20" in errors[0] and "`qsafety build`" in errors[0]
    assert "--wait" in errors[0]


def test_killed_build_takes_dbt_with_it(chain):
    _cfg, seen = chain
    assert not seen["dbt_survived"]
    assert seen["building_left"]          # what the next build must clean up


def test_rewritten_file_is_refused_in_one_line(chain):
    _cfg, seen = chain
    error = seen["rewrite_error"]
    assert "changed while the build ran" in error and str(seen["path"]) in error and "\n" not in error
    assert seen["wal_written"]
    assert seen["after_rewrite"] == seen["before"]       # warehouse, its WAL, its Data Docs: byte-identical
    assert seen["leftovers_after"] == []                 # the killed build's leftovers are gone


def test_gate_failure_keeps_warehouse_wal_and_data_docs(chain):
    _cfg, seen = chain
    assert "data-quality gate failed" in seen["gate_error"]
    assert seen["after_gate_failure"] == seen["before"]
    assert seen["before"][2], "the previous Data Docs exist"


def test_waiting_build_then_loads_the_restored_file(chain):
    cfg, seen = chain
    assert seen["w_waited"], seen["w_log"]
    assert seen["w_code"] == 0 and "BUILD DONE" in seen["w_log"], seen["w_log"][-3000:]
    assert not cfg.db_path.with_name(cfg.db_path.name + ".wal").exists()
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        assert con.execute("select note from analyst_notes").fetchall() == [("keep me",)]   # the WAL was replayed
        hashes = con.execute("select distinct file_sha256 from base_safety__lines where source_label = ?",
                             [REWRITTEN]).fetchall()
        recon = con.execute("select balanced, raw_lines from audit_reconciliation where source_label = ?",
                            [REWRITTEN]).fetchone()
        assert con.execute("select bool_and(balanced) from audit_reconciliation").fetchone()[0]
    assert hashes == [(seen["sha_locked"],)] and seen["sha_locked"] == sha(seen["path"])
    assert recon == (True, seen["lines_locked"])
    assert _tree_state(cfg.data_docs_dir) != seen["before"][2] and (cfg.data_docs_dir / "index.html").exists()
    assert lock_path(cfg).exists()
