"""The source manifest: a lockfile of the raw inputs.

Columns: source_label, role, record_kind, relative_path, expected_raw_rows,
expected_loaded_rows, sha256, precedence, release_wave.

`audit_sources` hashes and counts the files a manifest names (streaming, no
per-row parsing; a file unchanged since it was last hashed is not re-read, see
`audit_sources`); `check_against_manifest` turns any difference into one-line
errors naming the file; `lock` refreshes the manifest for new raw data the way
a lockfile is refreshed, and reports what changed.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .layout import DEFAULT_SOURCES, ROLE_OF_KIND

MANIFEST_COLUMNS = [
    "source_label", "role", "record_kind", "relative_path", "expected_raw_rows",
    "expected_loaded_rows", "sha256", "precedence", "release_wave",
]
AUDIT_COLUMNS = ["source_label", "relative_path", "file_exists", "size_bytes", "sha256", "raw_lines"]
CHUNK = 8 * 1024 * 1024


@dataclass
class FileAudit:
    source_label: str
    relative_path: str
    file_exists: bool
    size_bytes: int
    sha256: str
    raw_lines: int
    reused: bool = False      # hash and line count taken from the stat cache, file not re-read


def hash_and_count(path: Path) -> tuple[str, int, int]:
    """sha256, number of lines (a last line without newline counts), size in bytes.

    Also checks the bytes are UTF-8 (the contract's encoding): a file that is
    not raises InputError naming the file and the line.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    size = 0
    last = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            try:
                # an all-ASCII chunk is valid UTF-8 unless a multi-byte character
                # of the previous chunk is still open (then the decoder must see it)
                if not (chunk.isascii() and not decoder.getstate()[0]):
                    decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines + chunk[:exc.start].count(b"\n") + 1
                raise InputError(f"{path}: line {line}: not UTF-8 ({exc.reason} at byte "
                                 f"{size + exc.start})") from None
            lines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk[-1:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(f"{path}: line {lines + 1}: not UTF-8 (truncated multi-byte character at the end)") from None
    if size and last != b"\n":
        lines += 1
    return digest.hexdigest(), lines, size


def read_manifest(path: Path) -> list[dict]:
    if not Path(path).exists():
        raise InputError(f"{path}: source manifest not found (run `qsafety lock` to create it)")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = [c for c in MANIFEST_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise InputError(f"{path}: source manifest lacks columns {', '.join(missing)}")
    return rows


def write_manifest(rows: list[dict], path: Path) -> None:
    path = Path(path)
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
STAT_CACHE_VERSION = 1
RACY_NS = 2_000_000_000


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def read_stat_cache(path: Path | None) -> dict:
    """{absolute path: {"stat": [...], "sha256": ..., "raw_lines": ...}}; {} when absent or unreadable."""
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


def audit_sources(raw_dir: Path, manifest_rows: list[dict], stat_cache: Path | None = None,
                  rehash: bool = False) -> list[FileAudit]:
    """Hash and count every manifest file, two files at a time (sha256 runs
    without the GIL). The first error in manifest order is raised, as in a
    sequential pass.

    With ``stat_cache`` (a JSON file of this warehouse's build dir) a file whose
    inode, size, mtime and ctime match the entry written when it was last hashed
    keeps that hash and line count without being read (``FileAudit.reused``);
    ``rehash`` reads every file. The cache is rewritten with the files of this
    manifest only."""
    from concurrent.futures import ThreadPoolExecutor

    known = {} if rehash else read_stat_cache(stat_cache)
    entries: dict[str, dict] = {}

    def audit(row: dict) -> FileAudit:
        path = Path(raw_dir) / row["relative_path"]
        if not path.is_file():
            return FileAudit(row["source_label"], row["relative_path"], False, 0, "", 0)
        key = str(path.resolve())
        before = path.stat()
        hit = known.get(key)
        if hit and hit.get("stat") == _stat_key(before):
            entries[key] = hit
            return FileAudit(row["source_label"], row["relative_path"], True, before.st_size,
                             hit["sha256"], int(hit["raw_lines"]), reused=True)
        started = time.time_ns()
        sha, lines, size = hash_and_count(path)
        after = path.stat()
        if _stat_key(after) == _stat_key(before) and size == before.st_size \
                and after.st_ctime_ns < started - RACY_NS:
            entries[key] = {"stat": _stat_key(after), "sha256": sha, "raw_lines": lines}
        return FileAudit(row["source_label"], row["relative_path"], True, size, sha, lines)

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        audits = list(pool.map(audit, manifest_rows))
    if stat_cache is not None:
        write_stat_cache(stat_cache, entries)
    return audits


def write_audit(audits: list[FileAudit], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(AUDIT_COLUMNS)
        for a in audits:
            writer.writerow([a.source_label, a.relative_path, str(a.file_exists).lower(),
                             a.size_bytes, a.sha256, a.raw_lines])


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


def unlisted_files(raw_dir: Path, manifest_rows: list[dict]) -> list[str]:
    listed = {r["relative_path"] for r in manifest_rows}
    found = []
    for path in sorted(Path(raw_dir).rglob("*.jsonl")):
        rel = path.relative_to(raw_dir).as_posix()
        if rel not in listed:
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


def label_for(relative_path: str) -> str:
    stem = relative_path.rsplit(".", 1)[0]
    return "".join(ch if ch.isalnum() else "_" for ch in stem).strip("_").lower()


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
    for rel in unlisted_files(raw_dir, rows):
        kind = sniff_kind(raw_dir / rel)
        if kind is None:
            notes.append(f"skipped {rel}: no record kind recognised in its first lines")
            continue
        label = label_for(rel)
        rows.append({"source_label": label, "role": ROLE_OF_KIND[kind], "record_kind": kind,
                     "relative_path": rel, "expected_raw_rows": "", "expected_loaded_rows": "",
                     "sha256": "", "precedence": next_precedence if kind == "C" else 1,
                     "release_wave": next_wave})
        notes.append(f"added {label} ({ROLE_OF_KIND[kind]}, kind {kind}): {rel}")
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
