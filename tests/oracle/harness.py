"""Building generated labs the way a user does, and comparing tables with the oracle.

`fresh_checkout` copies this checkout's tracked and untracked-but-not-ignored
files into a new directory: what `git clone` gives once the work is committed
(no .venv, no data/, no target/, no dbt state), including uncommitted edits. The
commands then run as a user runs them: `python -m quant_safety.cli lock` and
`build --export` with this venv's interpreter and PYTHONPATH pointing at the
copy's python/, so the copy's code is what runs.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from quant_safety.config import PROJECT_DIR

from . import generate, oracle


def fresh_checkout(dest: Path) -> Path:
    dest = Path(dest)
    listed = subprocess.run(["git", "-C", str(PROJECT_DIR), "ls-files", "-co", "--exclude-standard", "-z"],
                            capture_output=True, check=False)
    if listed.returncode != 0:       # not a git work tree: copy without the usual local state
        shutil.copytree(PROJECT_DIR, dest, ignore=shutil.ignore_patterns(
            ".git", ".venv*", "data", "target", "logs", "__pycache__", "*.egg-info", "bench/out"))
        return dest
    for rel in filter(None, listed.stdout.decode().split("\0")):
        src = PROJECT_DIR / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def user_env(checkout: Path, raw: Path, db: Path, out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QSAFETY_") and not k.startswith("DBT_")}
    env.update({"QSAFETY_RAW_DIR": str(raw), "QSAFETY_DB": str(db), "QSAFETY_OUT": str(out),
                "PYTHONPATH": str(checkout / "python"), "QSAFETY_STATS_WORKERS": "1"})
    return env


def run_cli(checkout: Path, env: dict, *args: str, timeout: float = 1800) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "quant_safety.cli", *args], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


@dataclass
class LabBuild:
    root: Path
    checkout: Path
    raw: Path
    lock_dir: Path
    db: Path
    out: Path
    lab: generate.Lab
    timings: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    lock_dir_after_lock: dict = field(default_factory=dict)
    lock_dir_after_build: dict = field(default_factory=dict)
    demo_lock_before: dict = field(default_factory=dict)
    demo_lock_after: dict = field(default_factory=dict)

    def df(self, sql: str) -> pd.DataFrame:
        import duckdb

        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).df()


def _dir_state(path: Path) -> dict:
    return {p.relative_to(path).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(Path(path).rglob("*")) if p.is_file()}


def build_generated_lab(root: Path, n_cases: int, seed: int, export: bool = True, n_files: int = 3,
                        max_models: int = 3, lab: generate.Lab | None = None) -> LabBuild:
    """Generate a lab's raw logs and registry additions, then `lock` and `build` it from a
    fresh checkout, as a user does (lock dir: the default, beside the raw dir)."""
    root = Path(root)
    checkout = fresh_checkout(root / "checkout")
    raw = root / "lab" / "raw"
    lock_dir = raw.with_name(raw.name + ".qsafety")        # the documented default lock dir
    t0 = time.monotonic()
    lab = generate.generate(raw, lock_dir, n_cases=n_cases, seed=seed, project_dir=checkout, n_files=n_files,
                            max_models=max_models, lab=lab)
    b = LabBuild(root, checkout, raw, lock_dir, root / "warehouse" / "warehouse.duckdb", root / "bundle", lab)
    b.timings["generate_s"] = time.monotonic() - t0
    b.demo_lock_before = _dir_state(checkout / "seeds" / "manifest")
    env = user_env(checkout, raw, b.db, b.out)
    proc, b.timings["lock_s"] = run_cli(checkout, env, "lock")
    b.outputs["lock"] = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"qsafety lock failed:\n{b.outputs['lock'][-3000:]}"
    generate.set_waves(lab, lock_dir / "source_manifest.csv")
    b.lock_dir_after_lock = _dir_state(lock_dir)
    proc, b.timings["build_s"] = run_cli(checkout, env, "build", *(["--export"] if export else []))
    b.outputs["build"] = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"qsafety build failed:\n{b.outputs['build'][-3000:]}"
    b.lock_dir_after_build = _dir_state(lock_dir)
    b.demo_lock_after = _dir_state(checkout / "seeds" / "manifest")
    return b


def expected(b: LabBuild) -> oracle.Loaded:
    return oracle.load(b.raw, b.lock_dir, b.checkout)


# ---------------------------------------------------------------- comparing tables
def _is_null(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def _num(v):
    return float(v) if not isinstance(v, (bool, str)) and not _is_null(v) else v


def compare(actual: pd.DataFrame, expect: pd.DataFrame, keys: list[str], tol: float = 1e-9,
            label=lambda key: str(key)) -> list[str]:
    """Every column of every row: NULLs where expected, labels/flags/counts exactly,
    numbers to `tol` (absolute, relative above 1). Returns the differences."""
    problems = []
    a = {tuple(r[k] for k in keys): r for r in actual.to_dict("records")}
    e = {tuple(r[k] for k in keys): r for r in expect.to_dict("records")}
    for key in sorted(set(a) ^ set(e), key=str):
        problems.append(f"{label(key)}: {'only in the warehouse' if key in a else 'missing from the warehouse'}")
    columns = [c for c in expect.columns if c not in keys]
    for key in sorted(set(a) & set(e), key=str):
        ra, re_ = a[key], e[key]
        for c in columns:
            va, ve = ra.get(c), re_.get(c)
            if _is_null(ve) or _is_null(va):
                if not (_is_null(ve) and _is_null(va)):
                    problems.append(f"{label(key)} {c}: warehouse {va!r}, oracle {ve!r}")
                continue
            if isinstance(ve, (bool, str)):
                boolish = isinstance(va, bool) or type(va).__name__ == "bool_"
                same = (boolish and bool(va) == ve) if isinstance(ve, bool) else (va == ve)
                if not same:
                    problems.append(f"{label(key)} {c}: warehouse {va!r}, oracle {ve!r}")
                continue
            x, y = _num(va), _num(ve)
            if math.isinf(y) or math.isinf(x):
                ok = x == y
            else:
                ok = abs(x - y) <= tol * max(1.0, abs(y))
            if not ok:
                problems.append(f"{label(key)} {c}: warehouse {va!r}, oracle {ve!r}")
    return problems
