"""dbt-duckdb plugin (profiles.yml `plugins:`): the function staging reads raw bytes with.

`qsafety_read_chunk(path, byte_offset, byte_length, sha256, keep_bytes)` reads
one load chunk of a raw file (a byte range the pre-flight audit recorded in
source_chunks.csv, see manifest.audit_file), computes the sha256 of exactly the
bytes it read and returns them only if it equals the audited one; otherwise the
query fails with one line naming the file ("changed while the build ran"). So
the bytes dbt ingests are the bytes whose hash the audit and the lockfile hold,
whatever happens to the file between the pre-flight and the read: a file being
rewritten is refused, never loaded under the old hash. `keep_bytes` smaller
than the range (a line over raw_line_max_bytes) hashes the whole range and
returns only its first bytes, cut at a UTF-8 character boundary, for the
quarantine preview.

`qsafety_source_files(record_kind)` is the relation behind each raw source
(models/staging/_raw__sources.yml): the audit of the lockfile's files of that
kind, as a list of structs (one per file: label, paths, size, sha256, line
count, mtime and its load chunks). Under `qsafety build` (QSAFETY_AUDIT_DIR set) it is
the pre-flight's audit read back; under a plain `dbt build` it is computed here,
inside the dbt run, by the same function (manifest.audit_lockfile: lockfile
validated, paths resolved inside the raw dir, every file hashed, counted and
chunked in one streaming pass, a difference from the lockfile one line naming
the file). `qsafety_configure_audit(raw_line_max_bytes, full_refresh)` (the
project's on-run-start) sets the chunking of that audit and drops a previous
invocation's result. The audit runs once per dbt invocation (memoised).

The path comes from the audit as data (a resolved path inside the raw dir); it
is opened without following a symlink at its last step and only if it is a
regular file. This is byte I/O only: splitting into lines and parsing happen
in DuckDB SQL.
"""
from __future__ import annotations

import hashlib
import os
import stat
import threading
from datetime import datetime, timezone
from pathlib import Path

from dbt.adapters.duckdb.plugins import BasePlugin

# run_dbt turns a dbt failure carrying this marker into the one-line input error after it
ERROR_MARKER = "qsafety-input-error: "
_BLOCK = 8 * 1024 * 1024


def _changed(path: str, offset: int, length: int, why: str) -> ValueError:
    return ValueError(f"{ERROR_MARKER}{path}: changed while the build ran (bytes {offset}-{offset + length} {why}; "
                      f"nothing of it was loaded): rerun the build once the file is complete")


def read_chunk(path: str, byte_offset: int, byte_length: int, sha256: str, keep_bytes: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ValueError(f"{ERROR_MARKER}{path}: cannot be read while the build runs ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{ERROR_MARKER}{path}: no longer a regular file")
        if keep_bytes >= byte_length:
            data = os.pread(fd, byte_length, byte_offset)
            if len(data) != byte_length:
                raise _changed(path, byte_offset, byte_length, "are no longer all there")
            if hashlib.sha256(data).hexdigest() != sha256:
                raise _changed(path, byte_offset, byte_length, "no longer have the audited sha256")
            return data
        digest = hashlib.sha256()
        kept = b""
        done = 0
        while done < byte_length:
            block = os.pread(fd, min(_BLOCK, byte_length - done), byte_offset + done)
            if not block:
                raise _changed(path, byte_offset, byte_length, "are no longer all there")
            digest.update(block)
            if len(kept) < keep_bytes:
                kept += block[:keep_bytes - len(kept)]
            done += len(block)
        if digest.hexdigest() != sha256:
            raise _changed(path, byte_offset, byte_length, "no longer have the audited sha256")
        return kept.decode("utf-8", "ignore").encode("utf-8")
    finally:
        os.close(fd)


_AUDIT_LOCK = threading.Lock()
_AUDIT: dict = {"max_line_bytes": None, "rehash": False, "result": None}


def configure_audit(max_line_bytes: int, full_refresh: bool) -> bool:
    """on-run-start of every dbt invocation: the audit's chunking (the dbt var
    raw_line_max_bytes), whether to re-read every file, and a fresh audit."""
    with _AUDIT_LOCK:
        _AUDIT.update(max_line_bytes=int(max_line_bytes), rehash=bool(full_refresh), result=None)
    return True


def _compute_audit() -> tuple[list[dict], list]:
    from . import manifest, validate
    from .errors import InputError

    raw_dir = Path(os.environ.get("QSAFETY_RAW_DIR") or "data/raw")
    lock_dir = Path(os.environ.get("QSAFETY_MANIFEST_DIR") or "seeds/manifest")
    audit_dir = os.environ.get("QSAFETY_AUDIT_DIR")
    try:
        if audit_dir:   # `qsafety build`: its pre-flight already ran audit_lockfile and checked the result
            return manifest.read_manifest(lock_dir / "source_manifest.csv"), manifest.read_audit(Path(audit_dir))
        max_line = _AUDIT["max_line_bytes"] or int(validate.effective_var("raw_line_max_bytes"))
        # the stat cache of a plain dbt run lives in its target dir (dbt clean removes it)
        cache = Path(os.environ.get("DBT_TARGET_PATH") or "target") / "qsafety_file_hashes.json"
        rows, audits = manifest.audit_lockfile(raw_dir, lock_dir / "source_manifest.csv", max_line_bytes=max_line,
                                               stat_cache=cache, rehash=_AUDIT["rehash"])
        problem = manifest.first_problem(raw_dir, rows, audits)
        if problem:
            raise InputError(problem)
        return rows, audits
    except InputError as exc:
        raise ValueError(f"{ERROR_MARKER}{exc}") from None


def source_provenance() -> dict:
    """Whether this run's inputs are the synthetic demo data, by content
    (quant_safety.demo.fingerprint, the same decision the pre-flight writes to
    source_provenance.csv): {inputs_are_demo, input_files, demo_files}."""
    from .demo import fingerprint

    with _AUDIT_LOCK:
        if _AUDIT["result"] is None:
            _AUDIT["result"] = _compute_audit()
        _rows, audits = _AUDIT["result"]
    raw_dir = Path(os.environ.get("QSAFETY_RAW_DIR") or "data/raw")
    return fingerprint.provenance([{"sha256": a.sha256} for a in audits], raw_dir)


def _mtime(path: str) -> datetime | None:
    """The file's mtime, UTC (the only timestamp a raw file has: its records carry none)."""
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc).replace(tzinfo=None)
    except OSError:
        return None


FILE_FIELDS = {"source_label": "VARCHAR", "relative_path": "VARCHAR", "real_path": "VARCHAR",
               "file_exists": "BOOLEAN", "size_bytes": "BIGINT", "sha256": "VARCHAR", "raw_lines": "BIGINT",
               "last_modified": "TIMESTAMP"}
CHUNK_FIELDS = {"chunk_no": "BIGINT", "byte_offset": "BIGINT", "byte_length": "BIGINT", "first_line": "BIGINT",
                "line_count": "BIGINT", "sha256": "VARCHAR", "chunk_kind": "VARCHAR", "line_bytes": "BIGINT"}


def source_files(record_kind: str) -> list:
    """The audited files of one record kind (see the module doc)."""
    with _AUDIT_LOCK:
        if _AUDIT["result"] is None:
            _AUDIT["result"] = _compute_audit()
        rows, audits = _AUDIT["result"]
    kinds = {r["source_label"]: r["record_kind"] for r in rows}
    files = []
    for a in audits:
        if kinds.get(a.source_label) != record_kind:
            continue
        files.append({
            "source_label": a.source_label, "relative_path": a.relative_path, "real_path": a.real_path or None,
            "file_exists": a.file_exists, "size_bytes": a.size_bytes, "sha256": a.sha256,
            "raw_lines": a.raw_lines, "last_modified": _mtime(a.real_path) if a.real_path else None,
            "chunks": [{"chunk_no": n, "byte_offset": c.byte_offset, "byte_length": c.byte_length,
                        "first_line": c.first_line, "line_count": c.line_count, "sha256": c.sha256,
                        "chunk_kind": c.kind, "line_bytes": c.line_bytes} for n, c in enumerate(a.chunks)],
        })
    return files


def _types():
    try:
        from duckdb.sqltypes import BIGINT, BLOB, BOOLEAN, VARCHAR  # duckdb >= 1.4 names
    except ImportError:  # pragma: no cover - older duckdb
        from duckdb.typing import BIGINT, BLOB, BOOLEAN, VARCHAR
    return VARCHAR, BIGINT, BLOB, BOOLEAN


def register(conn) -> None:
    """Register qsafety_read_chunk on a DuckDB connection (its cursors see it too)."""
    VARCHAR, BIGINT, BLOB, BOOLEAN = _types()
    try:
        conn.remove_function("qsafety_read_chunk")
    except Exception:  # noqa: BLE001 - not registered yet
        pass
    # side_effects: never constant-folded at plan time (every chunk read when its row runs)
    conn.create_function("qsafety_read_chunk", read_chunk, [VARCHAR, BIGINT, BIGINT, VARCHAR, BIGINT], BLOB,
                         side_effects=True)
    import duckdb

    files = duckdb.list_type(duckdb.struct_type(
        {**FILE_FIELDS, "chunks": duckdb.list_type(duckdb.struct_type(CHUNK_FIELDS))}))
    for name, function, params, result in (
            ("qsafety_source_files", source_files, [VARCHAR], files),
            ("qsafety_configure_audit", configure_audit, [BIGINT, BOOLEAN], BOOLEAN),
            ("qsafety_source_provenance", source_provenance, [],
             duckdb.struct_type({"inputs_are_demo": BOOLEAN, "input_files": BIGINT, "demo_files": BIGINT}))):
        try:
            conn.remove_function(name)
        except Exception:  # noqa: BLE001 - not registered yet
            pass
        conn.create_function(name, function, params, result, side_effects=True)


class Plugin(BasePlugin):
    def update_connection_config(self, creds, config):
        """Before dbt-duckdb opens the warehouse: create the directory of a file path (a
        plain `dbt build` in a fresh clone writes data/warehouse.duckdb, and data/ is not
        in the repository)."""
        path = str(getattr(creds, "path", "") or "")
        if path and path != ":memory:" and ":" not in path.split("/", 1)[0]:
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def configure_connection(self, conn):
        register(conn)
