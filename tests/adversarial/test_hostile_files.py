"""Hostile raw files, all in one raw dir and one build (synthetic demo data,
first 400 lines per file, plus the hostile files of hostile.py): the suite's
shared build (conftest.adv_built). A file rewritten while dbt runs, and
restored, is in test_build_lock.py (it needs a build that fails).

The build succeeds; every line of every file gets the status written here by
hand, at the line number of Python's bytes.split(b"\\n"); raw = loaded +
excluded + quarantined for every source; the files whose names carry a SQL
payload or glob characters are read as data, exactly, and nothing is written
outside the build's directories. The load chunk size is set to 64 KiB for this
build, so every demo file is read in several byte ranges and the line numbers
across range boundaries are checked too (against Python, for every loaded line).
"""
from __future__ import annotations

import json

import duckdb
import pytest

from ..conftest import STAGING_OF_KIND, staging_against_audit
from .conftest import sha
from .hostile import LIMIT, payload_path


@pytest.fixture(scope="module")
def hostile(adv_built):
    return adv_built

def _statuses(cfg) -> dict:
    out = {}
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        for kind in ("quality", "safety", "judge", "text", "second_judge"):
            for label, line, status, reason in con.execute(
                f"select source_label, source_line, load_status, status_reason from audit_{kind}__lines"
            ).fetchall():
                out[(label, line)] = (status, reason or "")
    return out


def test_every_hostile_line_has_its_status_at_its_line_number(hostile):
    labels = {r["relative_path"]: r["source_label"] for r in hostile["rows"]}
    status = _statuses(hostile["cfg"])
    checked = 0
    for rel, (data, expected) in hostile["expected"].items():
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        assert len(lines) == len(expected), rel
        for number, (want_status, want_reason) in enumerate(expected, 1):
            got_status, got_reason = status[(labels[rel], number)]
            assert got_status == want_status and got_reason.startswith(want_reason), (
                rel,
                number,
                got_status,
                got_reason,
            )
            checked += 1
        assert not any(key[0] == labels[rel] and key[1] > len(lines) for key in status), rel
    assert checked >= 45


def test_long_line_reasons_and_previews(hostile):
    with duckdb.connect(str(hostile["cfg"].db_path), read_only=True) as con:
        rows = con.execute("""select source_line, detail, length(raw_line_preview) from audit_quarantine
                              where relative_path = 'hostile/long_lines.jsonl' order by source_line""").fetchall()
    assert rows == [(2, f"line_too_long: {50 * 1024 * 1024} bytes (limit {LIMIT})", 300),
                    (5, f"line_too_long: {LIMIT + 1} bytes (limit {LIMIT})", 300)]


def test_duplicate_keys_name_the_key(hostile):
    with duckdb.connect(str(hostile["cfg"].db_path), read_only=True) as con:
        details = [
            r[0]
            for r in con.execute("""select detail from audit_quarantine where reason = 'ambiguous_duplicate_key'
                                                order by relative_path, source_line""").fetchall()
        ]
    assert details == ["ambiguous_duplicate_key: score", "ambiguous_duplicate_key: model",
                       "ambiguous_duplicate_key: detail.refusal_type", "ambiguous_duplicate_key: score",
                       "ambiguous_duplicate_key: judge_label", "ambiguous_duplicate_key: metrics.bertscore",
                       "ambiguous_duplicate_key: metrics.bertscore.score",
                       "ambiguous_duplicate_key: second_judge_label"]


def test_hostile_names_are_read_as_data_exactly(hostile):
    cfg, root = hostile["cfg"], hostile["root"]
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        audit = dict(con.execute("select relative_path, actual_sha256 from audit_sources").fetchall())
        per_file = dict(con.execute("""select a.relative_path, count(*) from audit_safety__lines s
                                       join audit_sources a using (source_label) group by 1""").fetchall())
    for rel in (payload_path(root)[0], "hostile/glob/[ab]*?{x,y}.jsonl", "hostile/glob/a.jsonl",
                "hostile/we\"ird `name` $HOME é 😀.jsonl", "hostile/link_inside.jsonl"):
        assert audit[rel] == sha(cfg.raw_dir / rel), rel
        assert per_file[rel] == len(hostile["expected"][rel][1]), rel      # its own lines, no glob match
    assert not payload_path(root)[1].exists()


def test_every_loaded_line_is_the_line_python_reads(hostile):
    """Read in 64 KiB byte ranges: each loaded row's (sample_id, model) is that of line
    `source_line` of bytes.split(b"\\n"), for every file of the build."""
    cfg = hostile["cfg"]
    paths = {r["source_label"]: cfg.raw_dir / r["relative_path"] for r in hostile["rows"]}
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        rows = con.execute(" union all ".join(
            f"select source_label, source_line, sample_id, raw_model_name from {staging}"
            for staging in STAGING_OF_KIND.values())).fetchall()
    chunks = hostile["chunks_per_file"]
    assert sum(n > 1 for n in chunks.values()) >= 20, chunks    # most files were read in several ranges
    lines = {}
    for label, source_line, sample_id, model in rows:
        if label not in lines:
            lines[label] = paths[label].read_bytes().split(b"\n")
        text = lines[label][source_line - 1].decode("utf-8").lstrip("\ufeff").rstrip("\r")
        rec = json.loads(text.replace("NaN", "null"))
        assert rec["sample_id"] == sample_id, (label, source_line)
        assert (rec.get("model") or rec.get("model_name")) == model, (label, source_line)
    assert len(rows) > 5000


def test_staging_holds_exactly_the_audits_loaded_lines(hostile):
    """No line is lost, repeated or given another cell between the audit and staging,
    with the hostile files' quarantined lines among them."""
    assert {"loaded", "quarantined"} <= staging_against_audit(hostile["cfg"].db_path)


def test_reconciliation_holds(hostile):
    with duckdb.connect(str(hostile["cfg"].db_path), read_only=True) as con:
        recon = con.execute("select source_label, raw_lines, loaded_rows, excluded_rows, quarantined_rows, balanced "
                            "from audit_reconciliation").fetchall()
    assert len(recon) == len(hostile["rows"])
    assert {r["record_kind"] for r in hostile["rows"]} == set("ABCDE")
    for label, raw, loaded, excluded, quarantined, balanced in recon:
        assert balanced and raw == loaded + excluded + quarantined, label
