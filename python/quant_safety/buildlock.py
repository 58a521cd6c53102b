"""One build at a time per warehouse file, and the clean-up after a killed one.

`warehouse_lock` takes an exclusive fcntl lock (flock) on `<warehouse>.lock`,
beside the warehouse file, for the whole of a `qsafety build`, `lock` or the
snapshot step of `screen`. The holder writes its pid, start time and command
into the lock file; a second command on the same warehouse refuses at once with
a message naming them (exit code 2), or waits for the lock with `--wait`. The
kernel drops the lock when the holder exits, however it exits (kill -9
included), so a lock is never stale: a leftover lock file without a holder is
simply taken. The lock file itself is never removed (removing it would let two
processes lock two different files of the same name).

Holding the lock, a build removes what a killed build left behind
(`leftovers`): `<db>.building`, its WAL and spill dir, the scratch files of
`qsafety lock`, the gate's unfinished Data Docs staging dir and temp files.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from .config import Settings
from .errors import QSafetyError


class WarehouseBusy(QSafetyError):
    """Another qsafety command holds the warehouse lock."""


def lock_path(cfg: Settings) -> Path:
    return cfg.db_path.with_name(cfg.db_path.name + ".lock")


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 65536, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another qsafety process (holder not recorded yet)"
    host = f" on {info['host']}" if info.get("host") and info.get("host") != socket.gethostname() else ""
    return (f"`{info.get('command', 'qsafety')}` (pid {info.get('pid', '?')}{host}, "
            f"started {info.get('started', '?')})")


_HELD: dict[str, int] = {}     # lock files this process holds -> depth (the lock is re-entrant)


@contextmanager
def warehouse_lock(cfg: Settings, command: str, wait: bool = False, say=lambda msg: None):
    """Hold the warehouse's build lock for the duration of the block. Re-entrant
    in one process (the CLI takes it before opening its log, build() again)."""
    path = lock_path(cfg)
    key = str(path.resolve()) if path.parent.exists() else str(path)
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise WarehouseBusy(f"{cfg.db_path}: the warehouse is in use by {holder}; "
                                    f"run again when it has finished, or pass --wait") from None
            say(f"waiting for {holder} to finish with {cfg.db_path} ...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        record = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "command": command,
                  "host": socket.gethostname()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        _HELD[key] = 1
        try:
            yield
        finally:
            _HELD.pop(key, None)
    finally:
        os.close(fd)     # releases the lock


def leftovers(cfg: Settings) -> list[Path]:
    """What an interrupted build of this warehouse can leave behind (call with the lock held)."""
    building = cfg.building_db_path
    scratch = cfg.work_dir / "lock_scratch.duckdb"
    found = []
    for base in (building, scratch):
        for path in (base, base.with_name(base.name + ".wal"), base.with_name(base.name + ".tmp")):
            if os.path.lexists(path):
                found.append(path)
    if cfg.work_dir.is_dir():
        for pattern in ("qsafety_gx_*", "*.tmp", "gx/uncommitted/data_docs/staging"):
            found += sorted(cfg.work_dir.glob(pattern))
    return found


def remove_leftovers(cfg: Settings) -> list[Path]:
    removed = []
    for path in leftovers(cfg):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
