"""Atomic outputs: an export that fails half way leaves the previous bundle
whole (every file byte-identical, run_manifest.json's hashes matching the files
beside it); a successful export swaps in a whole new bundle and keeps the
report and docs of the old one; a killed export's new directory is removed by
the next one."""
from __future__ import annotations

import json
import os

import pytest

from quant_safety.bundle import export as export_module
from quant_safety.bundle.export import export

from .conftest import Sandbox, copy_built, sha


def _state(out):
    return {str(p.relative_to(out)): sha(p) for p in sorted(out.rglob("*")) if p.is_file()}


def _hashes_match(out) -> int:
    run = json.loads((out / "run_manifest.json").read_text())
    checked = 0
    for name, entry in run["outputs"].items():
        for ext in ("csv", "parquet"):
            if f"{ext}_sha256" in entry:
                assert sha(out / f"{name}.{ext}") == entry[f"{ext}_sha256"], name
                checked += 1
    return checked


def test_failed_export_leaves_the_previous_bundle_whole(adv_built, tmp_path, monkeypatch):
    cfg = copy_built(adv_built["cfg"], tmp_path)
    first = export(cfg)
    (cfg.out_dir / "analysis_report.md").write_text("the report of the previous bundle\n")
    before = _state(cfg.out_dir)
    assert _hashes_match(cfg.out_dir) >= 4
    real = export_module.ordered_select
    calls = {"n": 0}

    def fail_on_third(con, table, keys):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated half way through the export)")
        return real(con, table, keys)

    monkeypatch.setattr(export_module, "ordered_select", fail_on_third)
    box = Sandbox(tmp_path, writable=[cfg.out_dir.parent / f".{cfg.out_dir.name}.new-{os.getpid()}"])
    with pytest.raises(OSError, match="disk full"):
        export(cfg)
    assert _state(cfg.out_dir) == before
    assert _hashes_match(cfg.out_dir) >= 4
    assert not list(cfg.out_dir.parent.glob(f".{cfg.out_dir.name}.new-*"))
    box.check()

    monkeypatch.setattr(export_module, "ordered_select", real)
    second = export(cfg)
    assert second.out_dir == cfg.out_dir and all(p.parent == cfg.out_dir for p in second.files)
    assert (cfg.out_dir / "analysis_report.md").read_text() == "the report of the previous bundle\n"   # kept
    assert _hashes_match(cfg.out_dir) >= 4
    assert sorted(p.name for p in second.files) == sorted(p.name for p in first.files)


def test_killed_exports_stage_is_removed_by_the_next(adv_built, tmp_path):
    cfg = copy_built(adv_built["cfg"], tmp_path)
    dead = subprocess_pid_that_is_gone()
    stale = cfg.out_dir.parent / f".{cfg.out_dir.name}.new-{dead}"
    stale.mkdir(parents=True)
    (stale / "matrix.csv").write_text("half written\n")
    export(cfg)
    assert not stale.exists()
    assert _hashes_match(cfg.out_dir) >= 4


def subprocess_pid_that_is_gone() -> int:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)
