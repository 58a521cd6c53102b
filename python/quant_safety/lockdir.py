"""The lock dir: the files that describe a raw dir, kept with the data.

A lock dir holds `source_manifest.csv` (the lockfile `qsafety lock` writes) and
the lab's registry additions, `model_registry_additions.csv` (its own models)
and `quant_levels_additions.csv` (its own quant formats), same columns as the
project seeds model_registry / quant_levels. Where it is: config.resolve_manifest_dir
(QSAFETY_MANIFEST_DIR, else `<raw dir>.qsafety` beside the raw dir; the shipped
demo's is seeds/manifest).

dbt reads these files as seeds, from a seed path relative to the project. It
also writes each seed's SQL to `<target>/run/<project>/<seed path>/<file>`: an
absolute seed path would be written over the lockfile itself, and a relative
one climbing out of the project (`../../data/lab/raw.qsafety`) lands outside
the target dir. So dbt never sees the lock dir: every dbt call reads a copy of
its CSV files in `<project>/target/lock_seeds/<key>/` (`dbt_seed_dir`), with a
header-only registry-additions file where the lock dir has none. The lock dir
is only ever read by dbt runs; `qsafety lock` is what writes it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from .config import PROJECT_DIR

MANIFEST_FILE = "source_manifest.csv"
ADDITIONS = {
    "model_registry_additions.csv":
        "base_model,name_pattern,family,params_b,architecture,baseline_quant,in_scope,scope_note\n",
    "quant_levels_additions.csv":
        "quant,name_suffix,format,bpw,bpw_nominal,precision_order,format_group\n",
}
SNAPSHOT_ROOT = PROJECT_DIR / "target" / "lock_seeds"
SOURCE_NOTE = "LOCK_DIR.txt"


def ensure_additions(lock_dir: Path) -> list[Path]:
    """Header-only registry-additions files in `lock_dir` where there are none
    (never overwrites one); returns the files written."""
    written = []
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    for name, header in ADDITIONS.items():
        path = lock_dir / name
        if not path.exists():
            _write_if_changed(path, header.encode("utf-8"))
            written.append(path)
    return written


def dbt_seed_dir(lock_dir: Path) -> str:
    """The seed path (relative to the project) at which dbt reads `lock_dir`: a
    copy of its source_manifest.csv and registry additions (header-only where
    absent) in `<project>/target/lock_seeds/<key of lock_dir>/`, refreshed on
    every call. Files are replaced atomically and only when their bytes change."""
    lock_dir = Path(lock_dir).resolve()
    key = hashlib.sha256(str(lock_dir).encode("utf-8")).hexdigest()[:16]
    snapshot = SNAPSHOT_ROOT / key
    snapshot.mkdir(parents=True, exist_ok=True)
    wanted = {MANIFEST_FILE: None, **ADDITIONS}
    for name, default in wanted.items():
        source = lock_dir / name
        if source.is_file():
            data = source.read_bytes()
        elif default is not None:
            data = default.encode("utf-8")
        else:
            (snapshot / name).unlink(missing_ok=True)   # dbt then reports the missing lockfile
            continue
        _write_if_changed(snapshot / name, data)
    _write_if_changed(snapshot / SOURCE_NOTE, f"{lock_dir}\n(this dir is a copy of that lock dir, rewritten by "
                                              f"every dbt run)\n".encode())
    _prune(keep=snapshot)
    return os.path.relpath(snapshot, PROJECT_DIR)


PRUNE_AFTER_S = 6 * 3600


def _prune(keep: Path) -> None:
    """Drop the copies of lock dirs that no longer exist (scratch dirs of `screen`, tests),
    once they are PRUNE_AFTER_S old: a dbt run still reading one is never that long."""
    now = time.time()
    for snapshot in SNAPSHOT_ROOT.iterdir():
        if snapshot == keep or not snapshot.is_dir():
            continue
        note = snapshot / SOURCE_NOTE
        try:
            if now - note.stat().st_mtime < PRUNE_AFTER_S:
                continue
            source = Path(note.read_text(encoding="utf-8").splitlines()[0])
        except (OSError, IndexError):
            continue
        if source.is_absolute() and not source.exists():
            shutil.rmtree(snapshot, ignore_errors=True)


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
