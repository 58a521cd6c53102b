"""The source audit has one implementation (manifest.audit_lockfile) whichever
way the warehouse is built: `qsafety build` runs it in its pre-flight, before
dbt starts, and hands it to dbt as source_audit.csv / source_chunks.csv; a
plain `dbt build` runs it inside the dbt run, in the raw sources'
qsafety_source_files (dbt_plugin.py). These tests hold the two to the same
result on every field, and both to an oracle computed here from the bytes
(hashlib, bytes.split), on files with the edge cases of the line rules: CRLF,
a BOM, a stray \\r, no final newline, a line over raw_line_max_bytes, many
load chunks. And the in-dbt path keeps the pre-flight's refusals: a hash
that differs from the lockfile, a symlink leaving the raw dir, a path with
`..`, each one line naming the file."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from quant_safety import dbt_plugin, manifest
from quant_safety.build import preflight
from quant_safety.config import Settings

MAX_LINE = 1024          # the smallest raw_line_max_bytes the var rule allows
CONTENTS = {
    "A": b'{"a": 1}\r\n\xef\xbb\xbf{"b": 2}\n' + b"x" * 300 + b"\n" * 3 + b'{"last": "no newline"}',
    "B": b"\xef\xbb\xbf" + b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"p" * (i % 97)) for i in range(400)),
    "C": b"short\n" + b"L" * (MAX_LINE + 500) + b"\n" + b"after the long line\r\n" + b"\x01 stray \r inside\n",
    "D": b"L" * (MAX_LINE * 3) + b"\nx\n",   # starts with a long line, ends with \n
}
ROLES = {"A": "quality", "B": "safety", "C": "judge", "D": "safety_text"}


def _lines(data: bytes) -> int:
    parts = data.split(b"\n")
    return len(parts) - (1 if parts[-1] == b"" else 0)


def _lock(root: Path, contents: dict[str, bytes], sha_override: dict | None = None) -> tuple[Path, Path]:
    raw, lock_dir = root / "raw", root / "raw.qsafety"
    (raw / "logs").mkdir(parents=True)
    lock_dir.mkdir()
    rows = []
    for kind, data in contents.items():
        rel = f"logs/kind_{kind.lower()}.jsonl"
        (raw / rel).write_bytes(data)
        sha = (sha_override or {}).get(kind, hashlib.sha256(data).hexdigest())
        rows.append({"source_label": f"src_{kind.lower()}", "role": ROLES[kind], "record_kind": kind,
                     "relative_path": rel, "expected_raw_rows": _lines(data), "expected_loaded_rows": "",
                     "sha256": sha, "precedence": 1, "release_wave": 1})
    manifest.write_manifest(rows, lock_dir / "source_manifest.csv")
    return raw, lock_dir


def _in_dbt(monkeypatch, raw: Path, lock_dir: Path, target: Path, audit_dir: Path | None = None) -> dict:
    """What the raw sources of a dbt run see: {label: file struct} over the four kinds."""
    monkeypatch.setenv("QSAFETY_RAW_DIR", str(raw))
    monkeypatch.setenv("QSAFETY_MANIFEST_DIR", str(lock_dir))
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    if audit_dir is None:
        monkeypatch.delenv("QSAFETY_AUDIT_DIR", raising=False)
    else:
        monkeypatch.setenv("QSAFETY_AUDIT_DIR", str(audit_dir))
    dbt_plugin.configure_audit(MAX_LINE, False)
    return {f["source_label"]: f for kind in ROLES for f in dbt_plugin.source_files(kind)}


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture()
def small_chunks(monkeypatch):
    monkeypatch.setenv("QSAFETY_LOAD_CHUNK_BYTES", "2000")   # many load chunks per file


def test_in_dbt_audit_equals_the_preflight_and_the_bytes(tmp_path, monkeypatch, small_chunks):
    raw, lock_dir = _lock(tmp_path, CONTENTS)
    plain = _in_dbt(monkeypatch, raw, lock_dir, tmp_path / "target")

    cfg = Settings(raw_dir=raw, db_path=tmp_path / "wh" / "warehouse.duckdb", manifest_dir=lock_dir,
                   out_dir=tmp_path / "bundle", target="duckdb")
    preflight(cfg, dbt_vars={"raw_line_max_bytes": MAX_LINE})
    files = {r["source_label"]: r for r in _csv(cfg.work_dir / "source_audit.csv")}
    chunks: dict[str, list] = {}
    for r in _csv(cfg.work_dir / "source_chunks.csv"):
        chunks.setdefault(r["source_label"], []).append(r)
    assert set(plain) == set(files) == {f"src_{k.lower()}" for k in CONTENTS}

    for kind, data in CONTENTS.items():
        label = f"src_{kind.lower()}"
        got, pre = plain[label], files[label]
        # the pre-flight (CSV) and the in-dbt audit, field by field
        assert (got["relative_path"], str(got["file_exists"]).lower(), str(got["size_bytes"]), got["sha256"],
                str(got["raw_lines"])) == (pre["relative_path"], pre["file_exists"], pre["size_bytes"],
                                           pre["sha256"], pre["raw_lines"])
        assert [{k: str(v) for k, v in c.items()} for c in got["chunks"]] == [
            {k: c[k] for k in dbt_plugin.CHUNK_FIELDS} for c in chunks[label]]
        assert {c["real_path"] for c in chunks[label]} == {got["real_path"]}
        # both against the bytes
        assert got["sha256"] == hashlib.sha256(data).hexdigest()
        assert got["size_bytes"] == len(data) and got["raw_lines"] == _lines(data)
        assert got["last_modified"] is not None
        pieces, line = [], 1
        for c in got["chunks"]:
            piece = data[c["byte_offset"]:c["byte_offset"] + c["byte_length"]]
            assert hashlib.sha256(piece).hexdigest() == c["sha256"]
            assert c["first_line"] == line and c["line_count"] == _lines(piece)
            if c["chunk_kind"] == "long_line":
                assert c["line_bytes"] == len(piece.rstrip(b"\n")) > MAX_LINE
            else:
                assert max(len(x) for x in piece.split(b"\n")) <= MAX_LINE
            pieces.append(piece)
            line += c["line_count"]
        assert b"".join(pieces) == data
    assert sum(len(f["chunks"]) for f in plain.values()) > 8
    assert any(c["chunk_kind"] == "long_line" for f in plain.values() for c in f["chunks"])

    # under `qsafety build` the sources read the pre-flight's audit back: the same structs
    assert _in_dbt(monkeypatch, raw, lock_dir, tmp_path / "target", audit_dir=cfg.work_dir) == plain


def _error(monkeypatch, raw, lock_dir, target) -> str:
    with pytest.raises(ValueError) as info:
        _in_dbt(monkeypatch, raw, lock_dir, target)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_in_dbt_audit_refuses_a_hash_mismatch_naming_the_file(tmp_path, monkeypatch):
    raw, lock_dir = _lock(tmp_path, CONTENTS, sha_override={"B": "0" * 64})
    message = _error(monkeypatch, raw, lock_dir, tmp_path / "target")
    assert str(raw / "logs" / "kind_b.jsonl") in message and "differs from the manifest" in message


def test_in_dbt_audit_refuses_a_symlink_leaving_the_raw_dir(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_bytes(CONTENTS["A"])
    raw, lock_dir = _lock(tmp_path, CONTENTS)
    target = raw / "logs" / "kind_a.jsonl"
    target.unlink()
    target.symlink_to(outside)
    message = _error(monkeypatch, raw, lock_dir, tmp_path / "target")
    assert str(target) in message and "outside the raw dir" in message


def test_in_dbt_audit_validates_the_lockfile(tmp_path, monkeypatch):
    raw, lock_dir = _lock(tmp_path, CONTENTS)
    text = (lock_dir / "source_manifest.csv").read_text().replace("logs/kind_c.jsonl", "logs/../../kind_c.jsonl")
    (lock_dir / "source_manifest.csv").write_text(text)
    message = _error(monkeypatch, raw, lock_dir, tmp_path / "target")
    assert "source_manifest.csv" in message and "not normalised" in message


def test_in_dbt_audit_is_redone_per_invocation(tmp_path, monkeypatch):
    """A second dbt invocation in one process (dbt's Python API) audits again:
    a file changed in between is refused, never served from the first audit."""
    raw, lock_dir = _lock(tmp_path, CONTENTS)
    _in_dbt(monkeypatch, raw, lock_dir, tmp_path / "target")
    (raw / "logs" / "kind_d.jsonl").write_bytes(CONTENTS["D"] + b"appended\n")
    message = _error(monkeypatch, raw, lock_dir, tmp_path / "target")
    assert "kind_d.jsonl" in message
