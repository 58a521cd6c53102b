"""Where the lock dir is, and how dbt reads it without writing into it (no dbt run here)."""
from __future__ import annotations

import pytest

from quant_safety import config, lockdir
from quant_safety.build import lock
from quant_safety.errors import InputError


def test_lock_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("QSAFETY_MANIFEST_DIR", raising=False)
    raw = tmp_path / "lab" / "raw"
    beside = tmp_path / "lab" / "raw.qsafety"
    assert config.lock_dir_beside(raw) == beside
    assert config.resolve_manifest_dir(raw, for_lock=True) == beside
    assert config.resolve_manifest_dir(raw) == beside                       # build: same place (lockfile missing)
    # the project's default raw dir: the shipped demo lock, until a lock of its own exists
    assert config.resolve_manifest_dir(config.DEFAULT_RAW_DIR) == config.DEMO_LOCK_DIR \
        or (config.lock_dir_beside(config.DEFAULT_RAW_DIR) / "source_manifest.csv").exists()
    assert config.resolve_manifest_dir(config.DEFAULT_RAW_DIR, for_lock=True) == \
        config.lock_dir_beside(config.DEFAULT_RAW_DIR)
    monkeypatch.setenv("QSAFETY_MANIFEST_DIR", str(tmp_path / "elsewhere"))
    assert config.resolve_manifest_dir(raw, for_lock=True) == tmp_path / "elsewhere"


def test_lock_never_writes_the_shipped_demo_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("QSAFETY_MANIFEST_DIR", str(config.DEMO_LOCK_DIR))
    monkeypatch.setenv("QSAFETY_RAW_DIR", str(tmp_path))
    before = {p.name: p.read_bytes() for p in config.DEMO_LOCK_DIR.iterdir()}
    with pytest.raises(InputError, match="never writes"):
        lock(config.settings(for_lock=True), quiet=True)
    assert {p.name: p.read_bytes() for p in config.DEMO_LOCK_DIR.iterdir()} == before


def test_dbt_reads_a_copy_of_the_lock_dir(tmp_path):
    lock_dir = tmp_path / "raw.qsafety"
    lock_dir.mkdir()
    (lock_dir / "source_manifest.csv").write_text("source_label\nx\n")
    before = {p.name: p.stat().st_mtime_ns for p in lock_dir.iterdir()}
    rel = lockdir.dbt_seed_dir(lock_dir)
    snapshot = config.PROJECT_DIR / rel
    assert not rel.startswith("..") and snapshot.is_relative_to(config.PROJECT_DIR / "target")
    assert (snapshot / "source_manifest.csv").read_text() == "source_label\nx\n"
    for name, header in lockdir.ADDITIONS.items():     # header-only where the lock dir has none
        assert (snapshot / name).read_text() == header
    assert {p.name: p.stat().st_mtime_ns for p in lock_dir.iterdir()} == before   # only read
    (lock_dir / "model_registry_additions.csv").write_text(lockdir.ADDITIONS["model_registry_additions.csv"]
                                                           + ",mine,Fam,1,GQA,FP16,true,\n")
    assert lockdir.dbt_seed_dir(lock_dir) == rel
    assert "mine" in (snapshot / "model_registry_additions.csv").read_text()
    written = lockdir.ensure_additions(lock_dir)
    assert [p.name for p in written] == ["quant_levels_additions.csv"]           # never overwrites


def test_copies_of_vanished_lock_dirs_are_pruned(tmp_path):
    import os
    import shutil
    import time

    gone, kept = tmp_path / "gone.qsafety", tmp_path / "kept.qsafety"
    for d in (gone, kept):
        d.mkdir()
        (d / "source_manifest.csv").write_text("source_label\n")
    gone_copy = config.PROJECT_DIR / lockdir.dbt_seed_dir(gone)
    shutil.rmtree(gone)
    lockdir.dbt_seed_dir(kept)
    assert gone_copy.is_dir()                    # recent: a dbt run may still read it
    old = time.time() - lockdir.PRUNE_AFTER_S - 60
    os.utime(gone_copy / lockdir.SOURCE_NOTE, (old, old))
    kept_copy = config.PROJECT_DIR / lockdir.dbt_seed_dir(kept)
    assert kept_copy.is_dir() and not gone_copy.exists()
