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

The path comes from the audit as data (a resolved path inside the raw dir); it
is opened without following a symlink at its last step and only if it is a
regular file. This is byte I/O only: splitting into lines and parsing happen
in DuckDB SQL.
"""
from __future__ import annotations

import hashlib
import os
import stat

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


def _types():
    try:
        from duckdb.sqltypes import BIGINT, BLOB, VARCHAR   # duckdb >= 1.4 names
    except ImportError:  # pragma: no cover - older duckdb
        from duckdb.typing import BIGINT, BLOB, VARCHAR
    return VARCHAR, BIGINT, BLOB


def register(conn) -> None:
    """Register qsafety_read_chunk on a DuckDB connection (its cursors see it too)."""
    VARCHAR, BIGINT, BLOB = _types()
    try:
        conn.remove_function("qsafety_read_chunk")
    except Exception:  # noqa: BLE001 - not registered yet
        pass
    # side_effects: never constant-folded at plan time (every chunk read when its row runs)
    conn.create_function("qsafety_read_chunk", read_chunk, [VARCHAR, BIGINT, BIGINT, VARCHAR, BIGINT], BLOB,
                         side_effects=True)


class Plugin(BasePlugin):
    def configure_connection(self, conn):
        register(conn)
