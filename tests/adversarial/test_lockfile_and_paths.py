"""Hostile lockfile fields and raw-dir paths: refused by the pre-flight, before
anything is read or built. Each case: `qsafety build` exits 2 with one line
naming the lockfile (or file) and the rule, the previous warehouse is
byte-identical, no `.building` file, nothing written outside the warehouse dir,
and the file a payload aims at does not exist.
"""
from __future__ import annotations

import csv
import os
import shutil
import signal
from pathlib import Path

import pytest

from quant_safety import manifest

from .conftest import Sandbox, new_case, one_error_line, run_cli, sha

VICTIM = "v3_awq_gptq_safety"   # the lockfile row the cases edit


def _edit_manifest(cfg, edit) -> None:
    """Rewrite the lockfile with `edit(rows)` applied, bypassing write_manifest's checks (a
    hand-edited or hostile lockfile arriving in a pull request)."""
    with open(cfg.manifest_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    edit(rows)
    with open(cfg.manifest_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=manifest.MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _set(column, value, label=VICTIM):
    def edit(rows):
        for row in rows:
            if row["source_label"] == label:
                row[column] = value(row) if callable(value) else value
    return edit


def _payload(root: Path) -> tuple[str, Path]:
    canary = root / "pwned.csv"
    return f"x'); COPY (SELECT 'pwned') TO '{canary}'; --", canary


def _duplicate_row(column):
    def edit(rows):
        victim = next(r for r in rows if r["source_label"] == VICTIM)
        other = next(r for r in rows if r["source_label"] != VICTIM and r["record_kind"] == victim["record_kind"])
        other[column] = victim[column]
    return edit


# case id -> (edit of the lockfile given the case root, fragment the one-line error must hold)
LOCKFILE_CASES = {
    "label_sql_injection": (lambda root: _set("source_label", _payload(root)[0]), "is not a safe label"),
    "label_quote": (lambda root: _set("source_label", "it's"), "is not a safe label"),
    "label_space_and_unicode": (lambda root: _set("source_label", "résumé file"), "is not a safe label"),
    "label_too_long": (lambda root: _set("source_label", "a" * 129), "is not a safe label"),
    "label_empty": (lambda root: _set("source_label", ""), "is not a safe label"),
    "label_duplicate": (lambda root: _duplicate_row("source_label"), "repeats row"),
    "sha256_injection": (lambda root: _set("sha256", "'; DROP TABLE source_audit; --"), "not 64 lower-case hex"),
    "sha256_upper_case": (lambda root: _set("sha256", lambda r: r["sha256"].upper()), "not 64 lower-case hex"),
    "sha256_short": (lambda root: _set("sha256", lambda r: r["sha256"][:63]), "not 64 lower-case hex"),
    "count_negative": (lambda root: _set("expected_raw_rows", "-1"), "not a non-negative integer"),
    "count_fraction": (lambda root: _set("expected_loaded_rows", "1.5"), "not a non-negative integer"),
    "count_injection": (lambda root: _set("expected_raw_rows", "1) or (1=1"), "not a non-negative integer"),
    "precedence_not_integer": (lambda root: _set("precedence", "high"), "precedence"),
    "release_wave_empty": (lambda root: _set("release_wave", ""), "release_wave"),
    "record_kind_unknown": (lambda root: _set("record_kind", "E"), "record_kind"),
    "role_mismatch": (lambda root: _set("role", "judge"), "does not match record_kind"),
    "path_absolute": (lambda root: _set("relative_path", "/etc/passwd"), "is absolute"),
    "path_parent": (lambda root: _set("relative_path", "../../../../etc/passwd"), "not normalised"),
    "path_parent_inside": (lambda root: _set("relative_path", lambda r: "research/../" + r["relative_path"]),
                           "not normalised"),
    "path_dot": (lambda root: _set("relative_path", lambda r: "./" + r["relative_path"]), "not normalised"),
    "path_double_slash": (lambda root: _set("relative_path", lambda r: r["relative_path"].replace("/", "//", 1)),
                          "not normalised"),
    "path_backslash": (lambda root: _set("relative_path", "research\\..\\..\\etc\\passwd"), "backslash"),
    "path_newline": (lambda root: _set("relative_path", "a\nb.jsonl"), "control character"),
    "path_duplicate": (lambda root: _duplicate_row("relative_path"), "is also the file of row"),
    "path_sql_injection_missing": (lambda root: _set("relative_path", _payload(root)[0] + ".jsonl"), "file missing"),
}


@pytest.mark.parametrize("case", sorted(LOCKFILE_CASES))
def test_hostile_lockfile_field_is_refused(case, adv_small_raw, tmp_path, monkeypatch, capsys):
    cfg = new_case(tmp_path, adv_small_raw)
    edit, fragment = LOCKFILE_CASES[case]
    _edit_manifest(cfg, edit(tmp_path))
    before = sha(cfg.db_path)
    box = Sandbox(tmp_path, writable=[cfg.db_path.parent], canaries=[_payload(tmp_path)[1]])
    code, _out, err = run_cli(["build"], cfg, monkeypatch, capsys)
    assert code == 2
    line = one_error_line(err)
    assert fragment in line, line
    assert str(cfg.manifest_path) in line or "file missing" in line, line
    assert sha(cfg.db_path) == before
    assert not cfg.building_db_path.exists()
    box.check()


def _symlink_out_of_raw(cfg, root):
    outside = root / "outside.jsonl"
    outside.write_bytes((cfg.raw_dir / _rel(cfg)).read_bytes())
    target = cfg.raw_dir / _rel(cfg)
    target.unlink()
    target.symlink_to(outside)          # same bytes, same hash: only the path rule can refuse it


def _symlinked_dir_out_of_raw(cfg, root):
    """The run directory moved out of the raw dir and a symlink left in its place."""
    src_dir = cfg.raw_dir / Path(_rel(cfg)).parent
    outside = root / "elsewhere"
    shutil.move(src_dir, outside)
    src_dir.symlink_to(outside, target_is_directory=True)


def _symlink_to_system_file(cfg, root):
    target = cfg.raw_dir / _rel(cfg)
    target.unlink()
    target.symlink_to("/etc/hostname")


def _dangling_symlink(cfg, root):
    target = cfg.raw_dir / _rel(cfg)
    target.unlink()
    target.symlink_to(root / "nowhere.jsonl")


def _directory(cfg, root):
    target = cfg.raw_dir / _rel(cfg)
    target.unlink()
    target.mkdir()


def _fifo(cfg, root):
    target = cfg.raw_dir / _rel(cfg)
    target.unlink()
    os.mkfifo(target)


def _rel(cfg) -> str:
    return next(r["relative_path"] for r in manifest.read_manifest(cfg.manifest_path) if r["source_label"] == VICTIM)


# case id -> (change to the raw dir, fragment of the error)
RAW_DIR_CASES = {
    "symlink_leaving_raw_dir": (_symlink_out_of_raw, "outside the raw dir"),
    "symlinked_directory_leaving_raw_dir": (_symlinked_dir_out_of_raw, "outside the raw dir"),
    "symlink_to_system_file": (_symlink_to_system_file, "outside the raw dir"),
    "dangling_symlink": (_dangling_symlink, "cannot be resolved"),
    "directory_instead_of_file": (_directory, "not a regular file"),
    "fifo_instead_of_file": (_fifo, "not a regular file"),
}


@pytest.mark.parametrize("case", sorted(RAW_DIR_CASES))
def test_hostile_raw_dir_entry_is_refused(case, adv_small_raw, tmp_path, monkeypatch, capsys):
    cfg = new_case(tmp_path, adv_small_raw)
    change, fragment = RAW_DIR_CASES[case]
    change(cfg, tmp_path)
    before = sha(cfg.db_path)
    box = Sandbox(tmp_path, writable=[cfg.db_path.parent])
    signal.alarm(60)                     # a FIFO opened for reading would block forever
    try:
        code, _out, err = run_cli(["build"], cfg, monkeypatch, capsys)
    finally:
        signal.alarm(0)
    assert code == 2
    line = one_error_line(err)
    assert fragment in line and _rel(cfg).split("/")[-1] in line, line
    assert sha(cfg.db_path) == before
    assert not cfg.building_db_path.exists()
    box.check()


def test_lock_skips_entries_that_break_the_path_rules(adv_small_raw, tmp_path):
    """`qsafety lock` (its manifest refresh) on a raw dir holding a FIFO, a symlink
    leaving the raw dir and a name with a newline: none is opened or listed, each is
    noted; a name with a quote and a COPY payload is listed with a safe label."""
    cfg = new_case(tmp_path, adv_small_raw, tiny_warehouse=False)
    extra = cfg.raw_dir / "extra"
    extra.mkdir()
    os.mkfifo(extra / "pipe.jsonl")
    (tmp_path / "secret.jsonl").write_text('{"judge_label": "x"}\n')
    (extra / "link.jsonl").symlink_to(tmp_path / "secret.jsonl")
    line = (cfg.raw_dir / _rel(cfg)).read_bytes().split(b"\n", 1)[0] + b"\n"
    (extra / "new\nline.jsonl").write_bytes(line)
    payload, canary = _payload(tmp_path)
    (extra / (payload.replace("/", "_") + ".jsonl")).write_bytes(line)
    template = manifest.read_manifest(cfg.manifest_path)
    signal.alarm(60)
    try:
        rows, notes = manifest.refresh_rows(cfg.raw_dir, template)
    finally:
        signal.alarm(0)
    listed = {r["relative_path"] for r in rows}
    assert not any(p.startswith("extra/pipe") or p.startswith("extra/link") or "\n" in p for p in listed)
    skipped = " ".join(n for n in notes if n.startswith("skipped"))
    assert "pipe.jsonl" in skipped and "link.jsonl" in skipped and "new\\nline" in skipped, notes
    added = [r for r in rows if r["relative_path"].startswith("extra/x'")]
    assert len(added) == 1 and manifest.validate.LABEL_RE.fullmatch(added[0]["source_label"])
    manifest.write_manifest(rows, cfg.manifest_path)      # passes the lockfile checks
    assert not canary.exists()
