"""sha256 of bytes and of files, as lower-case hex: the one implementation the
lockfile audit (manifest.py), the bundle's output hashes (bundle/export.py),
the demo fingerprint and the build fingerprint (uptodate.py) share.

Standard library only: uptodate.py imports it before dbt, GX or pandas are
imported (the "warehouse up to date" check)."""
from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK_BYTES = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path | str, block_bytes: int = BLOCK_BYTES) -> str:
    """The file's sha256, read in blocks (any size of file, bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_bytes):
            digest.update(block)
    return digest.hexdigest()


def new_digest(data: bytes = b""):
    """A streaming sha256 (update(...), hexdigest()), started on `data`, for
    callers that hash while they read for another purpose (manifest.audit_file
    counts lines and cuts load chunks in the same pass)."""
    return hashlib.sha256(data)
