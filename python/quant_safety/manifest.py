"""The source manifest: a lockfile of the raw inputs.

Columns: source_label, role, record_kind, relative_path, expected_raw_rows,
expected_loaded_rows, sha256, precedence, release_wave.

`audit_sources` hashes and counts the files a manifest names (streaming, no
per-row parsing; a file unchanged since it was last hashed is not re-read, see
`audit_sources`); `check_against_manifest` turns any difference into one-line
errors naming the file; `lock` refreshes the manifest for new raw data the way
a lockfile is refreshed, and reports what changed.

The same streaming pass cuts every file into load chunks (`audit_file`): runs
of whole `\n`-terminated lines of about LOAD_CHUNK_BYTES, each with its own
sha256, and every line longer than `raw_line_max_bytes` as a chunk of its own.
Staging reads exactly these byte ranges (the dbt-duckdb plugin's
qsafety_read_chunk), checks each one's sha256 as it reads it and refuses a
range whose bytes changed: the bytes loaded are provably the bytes audited,
and no range is larger than LOAD_CHUNK_BYTES + raw_line_max_bytes in memory.
"""
from __future__ import annotations

import codecs
import csv
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import validate
from .errors import InputError
from .hashing import new_digest
from .layout import DEFAULT_SOURCES, ROLE_OF_KIND

MANIFEST_COLUMNS = [
    "source_label", "role", "record_kind", "relative_path", "expected_raw_rows",
    "expected_loaded_rows", "sha256", "precedence", "release_wave",
]
AUDIT_COLUMNS = ["source_label", "relative_path", "file_exists", "size_bytes", "sha256", "raw_lines"]
CHUNK_COLUMNS = ["source_label", "chunk_no", "real_path", "byte_offset", "byte_length", "first_line",
                 "line_count", "sha256", "chunk_kind", "line_bytes"]
CHUNK = 8 * 1024 * 1024                  # read block of the streaming pass
# A load chunk: about this many bytes of whole lines (QSAFETY_LOAD_CHUNK_BYTES overrides it).
LOAD_CHUNK_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024  # dbt var raw_line_max_bytes


def load_chunk_bytes() -> int:
    value = os.environ.get("QSAFETY_LOAD_CHUNK_BYTES", "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise InputError(f"environment variable QSAFETY_LOAD_CHUNK_BYTES={value!r}: must be a positive integer")
        return int(value)
    return LOAD_CHUNK_BYTES


@dataclass
class Chunk:
    """A byte range of a raw file that staging reads in one piece."""
    byte_offset: int
    byte_length: int
    first_line: int           # 1-based number of its first line
    line_count: int
    sha256: str
    kind: str = "lines"       # lines: whole lines; long_line: one line over raw_line_max_bytes
    line_bytes: int = 0       # long_line: the line's length without its \n

    def as_list(self) -> list:
        return [self.byte_offset, self.byte_length, self.first_line, self.line_count, self.sha256,
                self.kind, self.line_bytes]


@dataclass
class FileAudit:
    source_label: str
    relative_path: str
    file_exists: bool
    size_bytes: int
    sha256: str
    raw_lines: int
    reused: bool = False      # hash and line count taken from the stat cache, file not re-read
    real_path: str = ""       # the resolved path that was read (inside the raw dir)
    chunks: list = field(default_factory=list)


class _Chunker:
    """Cuts a byte stream into load chunks while it is hashed (see the module
    doc). Fed blocks of at most max_line bytes, so a line that lies wholly
    inside one block is never over the limit: only the line still open at a
    block's end is measured, and per block the work is a few find() calls.

    It also keeps the whole file's sha256 (`file_digest`): every byte reaches
    exactly one chunk, in file order, so the file digest is updated with the
    same pieces. The first chunk starts at byte 0
    and its digest is the file digest until it closes (hexdigest() does not
    end a hashlib digest), so those bytes are hashed once, not twice; a file
    of one chunk (most files below the chunk target) is hashed once in all."""

    def __init__(self, target: int, max_line: int):
        self.target, self.max_line = target, max_line
        self.file_digest = new_digest()
        self.chunks: list[Chunk] = []
        self.cur = None             # [offset, hasher, length, first_line, lines]
        self.long = None            # [offset, hasher, length, line number]
        self.pending = bytearray()  # the open line (normal mode)
        self.pending_start = 0
        self.line_no = 1            # number of the line being read
        self.pos = 0                # absolute offset of the next block
        self.pos_hashed = 0         # bytes in the file digest so far

    def _digest(self):
        """The digest of a chunk that starts now: the file digest itself for the first one."""
        return self.file_digest if not self.chunks and self.pos_hashed == 0 else new_digest()

    def _hash(self, hasher, data) -> None:
        hasher.update(data)
        if hasher is not self.file_digest:
            self.file_digest.update(data)
        self.pos_hashed += len(data)

    def _lines(self, data, start: int, count: int) -> None:
        if self.cur is None:
            self.cur = [start, self._digest(), 0, self.line_no, 0]
        self._hash(self.cur[1], data)
        self.cur[2] += len(data)
        self.cur[4] += count
        self.line_no += count
        if self.cur[2] >= self.target:
            self._close()

    def _close(self) -> None:
        if self.cur is not None:
            offset, hasher, length, first, lines = self.cur
            self.chunks.append(Chunk(offset, length, first, lines, hasher.hexdigest()))
            self.cur = None

    def _start_long(self) -> None:
        self._close()
        self.long = [self.pending_start, self._digest(), len(self.pending), self.line_no]
        self._hash(self.long[1], bytes(self.pending))
        self.pending = bytearray()

    def _close_long(self, terminated: bool) -> None:
        offset, hasher, length, line = self.long
        self.chunks.append(Chunk(offset, length, line, 1, hasher.hexdigest(), "long_line",
                                 length - (1 if terminated else 0)))
        self.long = None
        self.line_no += 1

    def feed(self, block: bytes) -> None:
        view = memoryview(block)
        base, n, i = self.pos, len(block), 0
        self.pos += n
        if self.long is not None:
            j = block.find(b"\n")
            end = n if j < 0 else j + 1
            self._hash(self.long[1], view[:end])
            self.long[2] += end
            if j < 0:
                return
            self._close_long(True)
            i = end
        elif self.pending or i < n:
            j = block.find(b"\n")
            if j < 0:
                if not self.pending:
                    self.pending_start = base
                self.pending += block
                if len(self.pending) > self.max_line:
                    self._start_long()
                return
            if not self.pending:
                self.pending_start = base
            if len(self.pending) + j > self.max_line:       # the open line ends here, too long
                self._start_long()
                self._hash(self.long[1], view[:j + 1])
                self.long[2] += j + 1
                self._close_long(True)
            else:
                start = self.pending_start
                data = bytes(self.pending) + block[:j + 1] if self.pending else view[:j + 1]
                self.pending = bytearray()
                self._lines(data, start, 1)
            i = j + 1
        last = block.rfind(b"\n", i)
        if last >= 0:       # whole lines inside this block: each shorter than the block
            self._lines(view[i:last + 1], base + i, block.count(b"\n", i, last + 1))
            i = last + 1
        if i < n:
            self.pending_start = base + i
            self.pending = bytearray(view[i:])

    def finish(self) -> list[Chunk]:
        if self.long is not None:
            self._close_long(False)
        elif self.pending:
            if len(self.pending) > self.max_line:
                self._start_long()
                self._close_long(False)
            else:
                self._lines(bytes(self.pending), self.pending_start, 1)
                self.pending = bytearray()
        self._close()
        return self.chunks


def _open_regular(path: Path) -> int:
    """A read-only descriptor of a regular file: no symlink at the last step
    (the path is already resolved), no blocking open of a FIFO or device."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path}: not a regular file")
    return fd


UTF8_PIECE = 4096   # the UTF-8 check decodes only the pieces of this size that are not all ASCII


def _utf8_error_at(decoder, block: bytes) -> tuple[int, str] | None:
    """None if `block` continues valid UTF-8, else (offset in block of the bad
    sequence's first byte, reason). An
    all-ASCII piece is valid unless a multi-byte character of the bytes before it is
    still open (then the decoder must see it). Text that is mostly ASCII with a few
    other characters is decoded piece by piece: only the pieces that hold one
    (~1 in 6 of a demo safety file's 4 KiB pieces) are decoded, not its whole blocks."""
    if block.isascii() and not decoder.getstate()[0]:
        return None
    for start in range(0, len(block), UTF8_PIECE):
        piece = block[start:start + UTF8_PIECE]
        if decoder.getstate()[0] or not piece.isascii():
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                # exc.object is the decoder's open bytes + piece: the offset is negative
                # when the bad sequence began in an earlier block
                return start + exc.start - (len(exc.object) - len(piece)), exc.reason
    return None


def audit_file(path: Path, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
               chunk_bytes: int | None = None) -> tuple[str, int, int, list[Chunk]]:
    """sha256, number of lines (a last line without newline counts), size in
    bytes, and the load chunks, in one streaming pass.

    Also checks the bytes are UTF-8 (the contract's encoding): a file that is
    not raises InputError naming the file and the line.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    target = chunk_bytes or load_chunk_bytes()
    chunker = _Chunker(target, max_line_bytes)
    # a block is cut into whole lines at most once, so a chunk ends within a block of its target
    block_size = max(1, min(CHUNK, max_line_bytes, target))
    size = 0
    with os.fdopen(_open_regular(path), "rb", buffering=0) as handle:
        while chunk := handle.read(block_size):
            at = _utf8_error_at(decoder, chunk)
            if at is not None:
                bad, reason = at
                # the lines before this block: the chunker's line_no is the number of the one open
                line = chunker.line_no - 1 + chunk[:max(bad, 0)].count(b"\n") + 1
                raise InputError(f"{path}: line {line}: not UTF-8 ({reason} at byte {size + bad})")
            chunker.feed(chunk)
            size += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(f"{path}: line {chunker.line_no}: not UTF-8 (truncated multi-byte character "
                         f"at the end)") from None
    chunks = chunker.finish()
    # every line is closed by finish(): line_no is one past the last (a last line without \n counts)
    return chunker.file_digest.hexdigest(), chunker.line_no - 1, size, chunks


def hash_and_count(path: Path) -> tuple[str, int, int]:
    """sha256, number of lines (a last line without newline counts), size in bytes."""
    sha, lines, size, _chunks = audit_file(path)
    return sha, lines, size


def read_manifest(path: Path) -> list[dict]:
    if not Path(path).exists():
        raise InputError(f"{path}: source manifest not found (run `qsafety lock` to create it)")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable source manifest CSV ({exc})") from None
    missing = [c for c in MANIFEST_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise InputError(f"{path}: source manifest lacks columns {', '.join(missing)}")
    return validate.check_manifest_rows(rows, Path(path))


def write_manifest(rows: list[dict], path: Path) -> None:
    path = Path(path)
    validate.check_manifest_rows(rows, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: (r["record_kind"], r["source_label"]))
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in MANIFEST_COLUMNS})
    os.replace(tmp, path)


# A file whose inode, size, mtime and ctime are those recorded when it was last
# hashed is not re-read (what git's index does). ctime cannot be set from user
# space and changes with every write, so an edited file always misses; an entry
# is only kept when the file's ctime was at least RACY_NS older than the start of
# its hashing, so a write landing in the same timestamp tick is not missed.
STAT_CACHE_VERSION = 2
RACY_NS = 2_000_000_000


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def read_stat_cache(path: Path | None) -> dict:
    """{absolute path: {"stat": [...], "sha256": ..., "raw_lines": ..., "chunking": [...], "chunks": [...]}};
    {} when absent or unreadable."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != STAT_CACHE_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def write_stat_cache(path: Path, entries: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": STAT_CACHE_VERSION, "files": entries}, sort_keys=True),
                   encoding="utf-8")
    os.replace(tmp, path)


def _cached_chunks(hit: dict, chunking: list) -> list[Chunk] | None:
    if hit.get("chunking") != chunking:
        return None
    try:
        return [Chunk(*c) for c in hit["chunks"]]
    except (KeyError, TypeError):
        return None


def audit_sources(raw_dir: Path, manifest_rows: list[dict], stat_cache: Path | None = None,
                  rehash: bool = False, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                  trusted_roots: tuple = ()) -> list[FileAudit]:
    """Hash, count and chunk every manifest file, two files at a time (sha256 runs
    without the GIL). The first error in manifest order is raised, as in a
    sequential pass. Every path is checked first (validate.resolve_inside: a
    regular file inside the raw dir, or inside one of `trusted_roots`, once
    symlinks are resolved); a missing file gives file_exists = false.

    With ``stat_cache`` (a JSON file of this warehouse's build dir) a file whose
    inode, size, mtime and ctime match the entry written when it was last hashed
    keeps that hash, line count and chunks without being read (``FileAudit.reused``);
    ``rehash`` reads every file. The cache is rewritten with the files of this
    manifest only."""
    from concurrent.futures import ThreadPoolExecutor

    known = {} if rehash else read_stat_cache(stat_cache)
    entries: dict[str, dict] = {}
    chunking = [load_chunk_bytes(), int(max_line_bytes)]

    def audit(row: dict) -> FileAudit:
        path = Path(raw_dir) / row["relative_path"]
        if not os.path.lexists(path):
            return FileAudit(row["source_label"], row["relative_path"], False, 0, "", 0)
        real = validate.resolve_inside(raw_dir, row["relative_path"], f"source {row['source_label']}",
                                       trusted_roots)
        key = str(real)
        before = real.stat()
        hit = known.get(key)
        if hit and hit.get("stat") == _stat_key(before):
            chunks = _cached_chunks(hit, chunking)
            if chunks is not None:
                entries[key] = hit
                return FileAudit(row["source_label"], row["relative_path"], True, before.st_size,
                                 hit["sha256"], int(hit["raw_lines"]), reused=True, real_path=key, chunks=chunks)
        started = time.time_ns()
        sha, lines, size, chunks = audit_file(real, max_line_bytes=max_line_bytes, chunk_bytes=chunking[0])
        after = real.stat()
        if _stat_key(after) == _stat_key(before) and size == before.st_size \
                and after.st_ctime_ns < started - RACY_NS:
            entries[key] = {"stat": _stat_key(after), "sha256": sha, "raw_lines": lines,
                            "chunking": chunking, "chunks": [c.as_list() for c in chunks]}
        return FileAudit(row["source_label"], row["relative_path"], True, size, sha, lines,
                         real_path=key, chunks=chunks)

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        audits = list(pool.map(audit, manifest_rows))
    if stat_cache is not None:
        write_stat_cache(stat_cache, entries)
    return audits


def write_audit(audits: list[FileAudit], path: Path) -> None:
    """source_audit.csv (one row per manifest file) and, beside it,
    source_chunks.csv (the load chunks staging reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(AUDIT_COLUMNS)
        for a in audits:
            writer.writerow([a.source_label, a.relative_path, str(a.file_exists).lower(),
                             a.size_bytes, a.sha256, a.raw_lines])
    chunks_path = path.with_name("source_chunks.csv")
    chunks_tmp = chunks_path.with_name(chunks_path.name + ".tmp")
    with open(chunks_tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CHUNK_COLUMNS)
        for a in audits:
            for number, c in enumerate(a.chunks):
                writer.writerow([a.source_label, number, a.real_path, c.byte_offset, c.byte_length, c.first_line,
                                 c.line_count, c.sha256, c.kind, c.line_bytes])
    os.replace(chunks_tmp, chunks_path)
    os.replace(tmp, path)


def read_audit(audit_dir: Path) -> list[FileAudit]:
    """The audit `write_audit` wrote (source_audit.csv + source_chunks.csv in
    `audit_dir`) read back, in its order: what `qsafety build`'s pre-flight
    hands to the dbt run (dbt_plugin.source_files)."""
    audit_dir = Path(audit_dir)
    audits: dict[str, FileAudit] = {}
    try:
        with open(audit_dir / "source_audit.csv", newline="", encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                audits[r["source_label"]] = FileAudit(
                    r["source_label"], r["relative_path"], r["file_exists"] == "true", int(r["size_bytes"]),
                    r["sha256"], int(r["raw_lines"]))
        with open(audit_dir / "source_chunks.csv", newline="", encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                a = audits[r["source_label"]]
                a.real_path = r["real_path"]
                a.chunks.append(Chunk(int(r["byte_offset"]), int(r["byte_length"]), int(r["first_line"]),
                                      int(r["line_count"]), r["sha256"], r["chunk_kind"], int(r["line_bytes"])))
    except (OSError, KeyError, ValueError, csv.Error) as exc:
        raise InputError(f"{audit_dir}: the pre-flight audit (source_audit.csv, source_chunks.csv) is missing "
                         f"or unreadable ({exc}); rerun `qsafety build`") from None
    return list(audits.values())


def audit_lockfile(raw_dir: Path, manifest_path: Path, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                   stat_cache: Path | None = None, rehash: bool = False,
                   trusted_roots: tuple = ()) -> tuple[list[dict], list[FileAudit]]:
    """The source audit, one implementation for both ways of building: the
    lockfile read and validated, every file it names hashed, counted and
    chunked (audit_sources), and every difference from the lockfile an
    InputError (the first, one line naming the file, "(and N more problems)").
    `qsafety build`'s pre-flight calls it before dbt starts; a plain `dbt build`
    calls it inside the dbt run (dbt_plugin.source_files, the raw sources)."""
    validate.check_environment()
    rows = read_manifest(manifest_path)
    if not Path(raw_dir).is_dir():
        raise InputError(f"{raw_dir}: raw directory not found (set QSAFETY_RAW_DIR or run `make demo`)")
    audits = audit_sources(raw_dir, rows, stat_cache=stat_cache, rehash=rehash, max_line_bytes=max_line_bytes,
                           trusted_roots=trusted_roots)
    return rows, audits


def first_problem(raw_dir: Path, manifest_rows: list[dict], audits: list[FileAudit]) -> str | None:
    """The first difference from the lockfile as one line (with how many more), or None."""
    problems = check_against_manifest(raw_dir, manifest_rows, audits)
    if not problems:
        return None
    return problems[0] + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else "")


def check_against_manifest(raw_dir: Path, manifest_rows: list[dict], audits: list[FileAudit]) -> list[str]:
    """Every difference between the files and the lockfile, one line each."""
    problems = []
    by_label = {a.source_label: a for a in audits}
    for row in manifest_rows:
        audit = by_label[row["source_label"]]
        shown = Path(raw_dir) / row["relative_path"]
        if not audit.file_exists:
            problems.append(f"{shown}: file missing (source {row['source_label']} in the manifest)")
            continue
        if audit.size_bytes == 0:
            problems.append(f"{shown}: file is empty (source {row['source_label']})")
        expected_rows = (row.get("expected_raw_rows") or "").strip()
        if expected_rows and int(expected_rows) != audit.raw_lines:
            problems.append(
                f"{shown}: {audit.raw_lines} raw lines, the manifest expects {int(expected_rows)} "
                f"(source {row['source_label']})")
        expected_sha = (row.get("sha256") or "").strip()
        if expected_sha and audit.sha256 != expected_sha:
            problems.append(
                f"{shown}: sha256 {audit.sha256[:12]}... differs from the manifest's {expected_sha[:12]}... "
                f"(the file changed since `qsafety lock`; hash drift)")
    return problems


def unlisted_files(raw_dir: Path, manifest_rows: list[dict], skipped: list | None = None) -> list[str]:
    """The *.jsonl files of the raw dir the manifest does not list. A name that
    breaks the path rules (validate.py: a control character, a symlink leaving
    the raw dir, not a regular file such as a FIFO) is left out, and noted in
    `skipped` as (name, reason) when given."""
    listed = {r["relative_path"] for r in manifest_rows}
    found = []
    for path in sorted(Path(raw_dir).rglob("*.jsonl")):
        rel = path.relative_to(raw_dir).as_posix()
        if rel in listed:
            continue
        try:
            validate.resolve_inside(raw_dir, rel, "found in the raw dir")
        except InputError as exc:
            if skipped is not None:
                skipped.append((rel, str(exc)))
            continue
        found.append(rel)
    return found


def sniff_kind(path: Path) -> str | None:
    """Record kind of a JSONL file from its first parseable lines (A, B, C, D or E)."""
    safety_tasks = {"advbench_refusal", "jailbreak_amplification", "truthfulqa", "bbq_bias"}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for _, line in zip(range(50), handle):
            try:
                rec = json.loads(line.replace("NaN", "null"))
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            if "second_judge_label" in rec:
                return "E"
            if "judge_label" in rec:
                return "C"
            if "domain" in rec and "metric" in rec:
                return "B"
            if "metrics" in rec:
                if rec.get("task_name") in safety_tasks or rec.get("metrics") == {}:
                    return "D"
                return "A"
    return None


def default_manifest_rows() -> list[dict]:
    return [
        {"source_label": label, "role": role, "record_kind": kind, "relative_path": rel,
         "expected_raw_rows": "", "expected_loaded_rows": "", "sha256": "",
         "precedence": precedence, "release_wave": wave}
        for label, role, kind, rel, precedence, wave in DEFAULT_SOURCES
    ]


def label_for(relative_path: str, taken: set | None = None) -> str:
    """A safe source label (validate.LABEL_RE) for a file: its path with every
    character but ASCII letters and digits as `_`; a suffix keeps it unique
    among `taken`."""
    stem = relative_path.rsplit(".", 1)[0]
    label = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in stem).strip("_").lower()[:120] or "source"
    if taken is not None:
        base, n = label, 2
        while label in taken:
            label, n = f"{base}_{n}", n + 1
    return label


def refresh_rows(raw_dir: Path, template: list[dict], drop_missing: bool = True,
                 new_wave: bool = False) -> tuple[list[dict], list[str]]:
    """New manifest rows for the files in raw_dir (hash + raw counts), and notes on what changed.

    New files join the latest release wave, or open a new one with new_wave
    (a release the statistics should also report without: one more scope).
    """
    raw_dir = Path(raw_dir)
    notes: list[str] = []
    rows: list[dict] = []
    for row in template:
        path = raw_dir / row["relative_path"]
        if not path.is_file():
            if drop_missing:
                notes.append(f"removed {row['source_label']}: {row['relative_path']} not found")
                continue
            raise InputError(f"{path}: file missing (source {row['source_label']})")
        rows.append(dict(row))
    next_wave = max([int(r["release_wave"]) for r in rows] or [0]) + (1 if new_wave or not rows else 0)
    next_precedence = max([int(r["precedence"]) for r in rows] or [0]) + 1
    skipped: list = []
    taken = {r["source_label"] for r in rows}
    for rel in unlisted_files(raw_dir, rows, skipped):
        kind = sniff_kind(raw_dir / rel)
        if kind is None:
            notes.append(f"skipped {rel!r}: no record kind recognised in its first lines")
            continue
        label = label_for(rel, taken)
        taken.add(label)
        rows.append({"source_label": label, "role": ROLE_OF_KIND[kind], "record_kind": kind,
                     "relative_path": rel, "expected_raw_rows": "", "expected_loaded_rows": "",
                     "sha256": "", "precedence": next_precedence if kind == "C" else 1,
                     "release_wave": next_wave})
        notes.append(f"added {label} ({ROLE_OF_KIND[kind]}, kind {kind}): {rel}")
    notes += [f"skipped {rel!r}: {reason}" for rel, reason in skipped]
    audits = {a.source_label: a for a in audit_sources(raw_dir, rows)}
    old = {r["source_label"]: r for r in template}
    for row in rows:
        audit = audits[row["source_label"]]
        before = old.get(row["source_label"], {})
        if before and before.get("sha256") and before.get("sha256") != audit.sha256:
            notes.append(f"changed {row['source_label']}: sha256 {before['sha256'][:12]}... -> {audit.sha256[:12]}..., "
                         f"raw rows {before.get('expected_raw_rows')} -> {audit.raw_lines}")
        row["sha256"] = audit.sha256
        row["expected_raw_rows"] = audit.raw_lines
        row["expected_loaded_rows"] = ""
    return rows, notes
