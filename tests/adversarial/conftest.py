"""Shared pieces of the adversarial suite (issue 16).

Every case runs in a directory of its own:
    <case>/raw        the raw files (input: never written)
    <case>/manifest   the lockfile (input: never written, except by `lock`)
    <case>/wh/        the warehouse file, its lock, build dir and Data Docs
    <case>/out        the bundle (export cases)
`Sandbox` snapshots the case directory and the project checkout and checks
afterwards that nothing changed outside the directories the command may write
(the warehouse dir; the bundle for exports), and that the files a payload
aims at do not exist.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from quant_safety import manifest
from quant_safety.config import PROJECT_DIR, Settings

from ..faults import corrupt

SMALL_LINES = 400
# project paths that tests, caches and the venv write; anything else appearing is a finding
LOCK_SEEDS = os.path.join("target", "lock_seeds")
_PROJECT_SKIP = {".git", ".venv", ".pytest_cache", "__pycache__", "data", "tests", ".ruff_cache"}


def case_settings(root: Path, raw: Path | None = None) -> Settings:
    root = Path(root)
    return Settings(raw_dir=raw or root / "raw", db_path=root / "wh" / "warehouse.duckdb",
                    manifest_dir=root / "manifest", out_dir=root / "out", target="duckdb")


def new_case(root: Path, small_raw: Path, relock: bool = True, tiny_warehouse: bool = True) -> Settings:
    """A case directory: a hard-link copy of the small raw dir, its lockfile, and
    (tiny_warehouse) a previous warehouse file to check for byte-identity."""
    cfg = case_settings(root)
    corrupt.copy_raw(small_raw, cfg.raw_dir)
    cfg.manifest_dir.mkdir(parents=True)
    if relock:
        rows, _ = manifest.refresh_rows(cfg.raw_dir, manifest.default_manifest_rows())
        manifest.write_manifest(rows, cfg.manifest_path)
    if tiny_warehouse:
        import duckdb

        cfg.db_path.parent.mkdir(parents=True)
        with duckdb.connect(str(cfg.db_path)) as con:
            con.execute("create table previous_build as select 42 as answer")
    return cfg


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree(root: Path, skip: set | None = None) -> dict:
    out = {}
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if skip is not None:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            out[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return out


class Sandbox:
    """Nothing written outside `writable` (under `root`), the project checkout unchanged,
    and no payload target created."""

    def __init__(self, root: Path, writable: list[Path], canaries: list[Path] = ()):
        self.root = Path(root)
        self.writable = [Path(w) for w in writable]
        self.canaries = [Path(c) for c in canaries]
        self.before = _tree(self.root)
        self.project_before = _tree(PROJECT_DIR, _PROJECT_SKIP)

    def _allowed(self, rel: str) -> bool:
        path = self.root / rel
        return any(path == w or w in path.parents for w in self.writable)

    def check(self) -> None:
        after = _tree(self.root)
        changed = sorted(p for p in set(self.before) | set(after)
                         if self.before.get(p) != after.get(p) and not self._allowed(p))
        assert not changed, f"written outside the build's directories: {changed[:10]}"
        project_after = _tree(PROJECT_DIR, _PROJECT_SKIP)
        # the one place a build writes in the checkout: dbt's seed copies of the lock dir
        # (quant_safety.lockdir: dbt seeds must sit under the project), keyed by lock dir
        new = sorted(p for p in set(project_after) - set(self.project_before)
                     if not (p == "target" or p.startswith(LOCK_SEEDS)))
        assert not new, f"written into the project checkout: {new[:10]}"
        for canary in self.canaries:
            assert not os.path.lexists(canary), f"payload target written: {canary}"


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-2000:]
    return lines[0]


def run_cli(args: list[str], cfg: Settings, monkeypatch, capsys) -> tuple[int, str, str]:
    from quant_safety.cli import main

    monkeypatch.setenv("QSAFETY_RAW_DIR", str(cfg.raw_dir))
    monkeypatch.setenv("QSAFETY_DB", str(cfg.db_path))
    monkeypatch.setenv("QSAFETY_MANIFEST_DIR", str(cfg.manifest_dir))
    monkeypatch.setenv("QSAFETY_OUT", str(cfg.out_dir))
    monkeypatch.delenv("QSAFETY_DEBUG", raising=False)
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="session")
def adv_small_raw(demo_raw_dir, tmp_path_factory) -> Path:
    """The first 400 lines of every demo file (synthetic data; a small raw dir for many builds)."""
    return corrupt.truncated_copy(demo_raw_dir, tmp_path_factory.mktemp("adversarial") / "raw", SMALL_LINES)


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)


@pytest.fixture(scope="session")
def adv_built(adv_small_raw, tmp_path_factory) -> dict:
    """The suite's one full staging build: the small raw dir plus every hostile
    file (hostile.py), built with 64 KiB load chunks. test_hostile_files checks
    it; the cases that need a previous warehouse copy it (`copy_built`) before
    changing anything. {"cfg": Settings, "expected": ..., "rows": lockfile rows, ...}"""
    from .hostile import build_hostile

    return build_hostile(tmp_path_factory.mktemp("adv_built"), adv_small_raw)


def copy_built(built: Settings, root: Path) -> Settings:
    """A copy of the built case (raw dir as hard links, warehouse dir copied)."""
    cfg = case_settings(root)
    corrupt.copy_raw(built.raw_dir, cfg.raw_dir)
    shutil.copytree(built.manifest_dir, cfg.manifest_dir)
    shutil.copytree(built.db_path.parent, cfg.db_path.parent, symlinks=True)
    return cfg
