"""Corruption generator: faulty variants of the demo raw data.

A variant is one fault class applied at one place (a file, a line). Each class
has a decided behaviour (README, "Data quality"):
  quarantine  - the build continues; the line is quarantined with `reason`
  load        - the build continues; the line loads (BOM, CRLF, NaN in a quality metric)
  exclude     - the build continues; the line is excluded by a rule
  fail        - the build stops with a one-line message naming the file
  note        - the build continues and says it ignored something (extra file)

`variants(raw_dir)` enumerates >= 500 variants deterministically. Line-level
variants touch distinct (file, line) places, so many of them can be applied to
one copy of the raw data, several per file, and checked in one build
(`apply_batch`; `fits_batch` says which variants can share a file).
"""
from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from quant_safety.layout import DEFAULT_SOURCES

SOURCES = {label: (kind, rel) for label, _role, kind, rel, _p, _w in DEFAULT_SOURCES}
KIND_LABELS = {kind: [label for label, (k, _) in SOURCES.items() if k == kind] for kind in "ABCDE"}


@dataclass(frozen=True)
class Variant:
    fault: str                 # fault class
    label: str                 # source touched
    line: int                  # 1-based line (0 = file-level)
    behaviour: str             # quarantine | load | exclude | fail | note
    reason: str = ""           # expected reason prefix (quarantine/exclude) or message fragment (fail)
    relock: bool = True        # the user re-ran `qsafety lock` after the change (line-level faults)
    params: tuple = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return f"{self.fault}:{self.label}:{self.line}"


# ---------------------------------------------------------------- line edits
def _load(line: str) -> dict:
    return json.loads(line.replace("NaN", "null"))


def _edit_record(line: str, kind: str, fault: str) -> str:
    rec = _load(line)
    if fault == "nan_score":
        if kind == "A":
            rec["metrics"]["bertscore"] = {"score": "__NAN__"}
        else:
            rec["score"] = "__NAN__"
        return json.dumps(rec).replace('"__NAN__"', "NaN")
    if fault == "infinity_score":
        rec["score"] = "__INF__"
        return json.dumps(rec).replace('"__INF__"', "Infinity")
    if fault == "string_score":
        if kind == "A":
            rec["metrics"]["bertscore"] = {"score": "0.81"}
        else:
            rec["score"] = str(rec.get("score", 1.0))
    elif fault == "null_model":
        for key in ("model", "model_name"):
            if key in rec:
                rec[key] = None
    elif fault == "out_of_range":
        if kind == "A":
            rec["metrics"]["bertscore"] = {"score": -3.0}
        else:
            rec["score"] = 1.7
    elif fault == "unknown_task":
        rec["task_name"] = "made_up_task"
    elif fault == "unknown_model":
        name = rec.get("model") or rec.get("model_name")
        rec["model" if "model" in rec else "model_name"] = "gpt5-turbo-" + name.rsplit("-", 1)[-1]
    elif fault == "unknown_quant":
        name = rec.get("model") or rec.get("model_name")
        rec["model" if "model" in rec else "model_name"] = name.rsplit("-", 1)[0] + "-q9_z"
    elif fault == "bad_judge_label":
        rec["second_judge_label" if kind == "E" else "judge_label"] = "MAYBE_REFUSAL"
    return json.dumps(rec)


LINE_FAULTS = {
    # fault: (kinds it applies to, behaviour, expected reason)
    "invalid_json": ("ABCDE", "quarantine", "invalid_json"),
    "not_an_object": ("ABCDE", "quarantine", "not_an_object"),
    "blank_line": ("ABCDE", "quarantine", "blank_line"),
    "nan_score": ("B", "quarantine", "non_finite_value"),
    "nan_quality_metric": ("A", "load", ""),
    "infinity_score": ("B", "quarantine", "non_finite_value"),
    "string_score": ("AB", "quarantine", "wrong_type"),
    "null_model": ("ABCDE", "quarantine", "missing_field"),
    "out_of_range": ("AB", "quarantine", "out_of_range"),
    "unknown_task": ("ABCDE", "quarantine", "unknown_task"),
    "unknown_model": ("ABCDE", "quarantine", "unknown_model"),
    "unknown_quant": ("ABCDE", "quarantine", "unknown_quant"),
    "bad_judge_label": ("CE", "quarantine", "invalid_label"),
    "duplicate_in_file": ("ABCDE", "quarantine", "duplicate_in_source"),
}
FILE_FAULTS = {
    "truncated_last_line": ("quarantine", "invalid_json", True),
    "utf8_bom": ("load", "", True),
    "crlf_endings": ("load", "", True),
    "file_missing": ("fail", "file missing", False),
    "empty_file": ("fail", "file is empty", True),
    "hash_drift": ("fail", "sha256", False),
    "changed_row_count": ("fail", "raw lines, the manifest expects", False),
    "extra_unknown_file": ("note", "not in the manifest", False),
    "not_utf8": ("fail", "not UTF-8", True),
}
CROSS_FAULTS = {
    # a line copied into another file of the same kind
    "duplicate_across_files": ("AB", "quarantine", "duplicate_across_sources"),
}


def _line_is_editable(fault: str, kind: str, line: str, label: str) -> bool:
    if not line.strip():
        return False
    try:
        rec = _load(line)
    except ValueError:
        return False
    if "model" not in rec and kind == "C":       # legacy BBQ variant rows are excluded by rule anyway
        return False
    name = rec.get("model") or rec.get("model_name") or ""
    if name.startswith("llama3.1-8b"):           # out-of-scope rows are excluded before other checks
        return fault in ("invalid_json", "not_an_object", "blank_line", "null_model", "unknown_task")
    if label == "tr134_legacy_judge" and fault in ("duplicate_in_file",):
        return False                             # superseded 7B rows would be excluded, not quarantined
    return True


def variants(raw_dir: Path, per_class: int = 30, seed: int = 0) -> list[Variant]:
    """A deterministic list of faulty variants (>= 500 with the defaults)."""
    rng = random.Random(seed)
    out: list[Variant] = []
    line_counts = {label: _count_lines(Path(raw_dir) / rel) for label, (_, rel) in SOURCES.items()}
    used: set[tuple[str, int]] = set()
    for fault, (kinds, behaviour, reason) in LINE_FAULTS.items():
        labels = [label for k in kinds for label in KIND_LABELS[k]]
        tries = 0
        made = 0
        while made < per_class and tries < per_class * 20:
            tries += 1
            label = labels[made % len(labels)] if tries <= len(labels) else rng.choice(labels)
            n = line_counts[label]
            line = rng.randint(2, max(2, n - 2))
            if (label, line) in used or (label, line + 1) in used or (label, line - 1) in used:
                continue
            text = _read_line(Path(raw_dir) / SOURCES[label][1], line)
            if not _line_is_editable(fault, SOURCES[label][0], text, label):
                continue
            used.add((label, line))
            out.append(Variant(fault, label, line, behaviour, reason))
            made += 1
    for fault, (kinds, behaviour, reason) in CROSS_FAULTS.items():
        for i in range(per_class):
            kind = kinds[i % len(kinds)]
            labels = KIND_LABELS[kind]
            src, dst = rng.sample(labels, 2)
            line = rng.randint(2, line_counts[src] - 2)
            text = _read_line(Path(raw_dir) / SOURCES[src][1], line)
            if not _line_is_editable(fault, kind, text, src) or (src, line) in used:
                continue
            used.add((src, line))
            out.append(Variant(fault, dst, 0, behaviour, reason, params=(src, line)))
    for fault, (behaviour, reason, relock) in FILE_FAULTS.items():
        for label in SOURCES:
            out.append(Variant(fault, label, 0, behaviour, reason, relock=relock))
    return out


# ---------------------------------------------------------------- applying
def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _read_line(path: Path, number: int) -> str:
    with open(path, encoding="utf-8") as handle:
        for i, line in enumerate(handle, 1):
            if i == number:
                return line.rstrip("\n")
    raise IndexError(number)


def copy_raw(raw_dir: Path, dest: Path) -> Path:
    """Hard-link copy: unchanged files share storage; touched files are rewritten."""
    shutil.copytree(raw_dir, dest, copy_function=os.link)
    return dest


def _rewrite(path: Path, lines: list[str], newline: str = "\n", final_newline: bool = True,
             prefix: bytes = b"") -> None:
    data = newline.join(lines) + (newline if final_newline and lines else "")
    path.unlink()                               # break the hard link before writing
    path.write_bytes(prefix + data.encode("utf-8"))


# Faults that change a file as a whole: at most one of them per file in a batch
# (END_FAULTS), or the file carries no other variant at all (ALONE_FAULTS: CRLF
# endings are checked on every line of the file). Every other variant edits or
# inserts one line, so any number of them share a file.
END_FAULTS = frozenset({"truncated_last_line", "duplicate_across_files", "utf8_bom", "extra_unknown_file"})
ALONE_FAULTS = frozenset({"crlf_endings"})
INSERT_FAULTS = frozenset({"blank_line", "duplicate_in_file"})
IN_PLACE_FAULTS = frozenset(LINE_FAULTS) - INSERT_FAULTS


def fits_batch(v: Variant, batch: list[Variant]) -> bool:
    """Whether variant `v` can join `batch` (the rules above, per file)."""
    same_file = [b for b in batch if b.label == v.label]
    if v.fault in ALONE_FAULTS or any(b.fault in ALONE_FAULTS for b in same_file):
        return not same_file
    if v.fault in END_FAULTS:
        return not any(b.fault in END_FAULTS for b in same_file)
    return True


def _line_shift(inserts: list[Variant], line: int) -> int:
    """Lines inserted above original line `line` by the batch's insert faults
    (a blank line goes before its line, a duplicate after it; variants' lines
    are distinct, so `<` decides both)."""
    return sum(1 for b in inserts if b.line < line)


def apply_batch(raw_dir: Path, batch: list[Variant]) -> dict[str, int]:
    """Apply variants (several per file: `fits_batch`) to a copied raw dir.

    Returns, per Variant.key, the line number where the variant's effect is
    expected after every edit of the batch; for duplicate_across_files also
    ``key + "#source"``: where its source line is now (insertions in the source
    file move it). Source lines are read before any file is changed."""
    raw_dir = Path(raw_dir)
    copied = {v.key: _read_line(raw_dir / SOURCES[v.params[0]][1], v.params[1])
              for v in batch if v.fault == "duplicate_across_files"}
    by_label: dict[str, list[Variant]] = {}
    for v in batch:
        assert fits_batch(v, [b for b in by_label.get(v.label, [])]), f"{v.key} does not fit its batch"
        by_label.setdefault(v.label, []).append(v)
    where: dict[str, int] = {}
    for label, variants_of_file in by_label.items():
        where.update(_apply_to_file(raw_dir, label, variants_of_file, copied))
    for v in batch:
        if v.fault == "duplicate_across_files":
            src_label, src_line = v.params
            src_inserts = [b for b in by_label.get(src_label, []) if b.fault in INSERT_FAULTS]
            where[v.key + "#source"] = src_line + _line_shift(src_inserts, src_line)
    return where


def _apply_to_file(raw_dir: Path, label: str, vs: list[Variant], copied: dict[str, str]) -> dict[str, int]:
    """One file's variants: whole-file faults through apply_variant (alone), else
    in-place edits, then insertions from the bottom up, then the end fault."""
    whole = [v for v in vs if v.fault not in LINE_FAULTS and v.fault not in END_FAULTS]
    if whole:
        assert len(vs) == 1, f"{label}: a whole-file fault shares its file"
        return {vs[0].key: apply_variant(raw_dir, vs[0])}
    kind, rel = SOURCES[label]
    path = raw_dir / rel
    if not any(v.fault != "extra_unknown_file" for v in vs):
        return {v.key: apply_variant(raw_dir, v) for v in vs}
    lines = path.read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    inserts = [v for v in vs if v.fault in INSERT_FAULTS]
    where: dict[str, int] = {}
    for v in vs:
        if v.fault in IN_PLACE_FAULTS:
            lines[v.line - 1] = _edit_line(lines[v.line - 1], kind, v.fault)
            where[v.key] = v.line + _line_shift(inserts, v.line)
    for v in sorted(inserts, key=lambda b: -b.line):
        i = v.line - 1
        if v.fault == "blank_line":
            lines.insert(i, "")
        else:                                  # duplicate_in_file: the earlier copy is quarantined
            lines.insert(i + 1, lines[i])
        where[v.key] = v.line + _line_shift(inserts, v.line)
    newline, final_newline, prefix = "\n", True, b""
    for v in vs:
        if v.fault == "duplicate_across_files":
            lines.append(copied[v.key])
            where[v.key] = len(lines)
        elif v.fault == "truncated_last_line":
            lines[-1] = lines[-1][: len(lines[-1]) // 2]
            final_newline = False
            where[v.key] = len(lines)
        elif v.fault == "utf8_bom":
            prefix = b"\xef\xbb\xbf"
            where[v.key] = 1
        elif v.fault == "extra_unknown_file":
            apply_variant(raw_dir, v)
            where[v.key] = 0
    _rewrite(path, lines, newline, final_newline, prefix)
    return where


def _edit_line(line: str, kind: str, fault: str) -> str:
    """One in-place line fault (the line keeps its number)."""
    if fault == "invalid_json":
        return line[: len(line) // 2] + " oops"
    if fault == "not_an_object":
        return "[1, 2, 3]"
    if fault == "nan_quality_metric":
        return _edit_record(line, kind, "nan_score")
    return _edit_record(line, kind, fault)


def apply_variant(raw_dir: Path, v: Variant) -> int:
    kind, rel = SOURCES[v.label]
    path = Path(raw_dir) / rel
    raw = path.read_bytes()
    if v.fault == "file_missing":
        path.unlink()
        return 0
    if v.fault in ("hash_drift", "not_utf8"):
        data = bytearray(raw)
        pos = data.index(b"\n", len(data) // 2) + 5
        if v.fault == "hash_drift":
            data[pos] = ord("#") if data[pos] != ord("#") else ord("%")
        else:
            data[pos] = 0xFF
        path.unlink()
        path.write_bytes(bytes(data))
        return data[:pos].count(b"\n") + 1
    if v.fault == "extra_unknown_file":
        (path.parent / "unexpected_extra.jsonl").write_bytes(raw.split(b"\n", 1)[0] + b"\n")
        return 0
    lines = raw.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    newline, final_newline, prefix = "\n", True, b""
    where = v.line
    i = v.line - 1
    if v.fault == "invalid_json":
        lines[i] = lines[i][: len(lines[i]) // 2] + " oops"
    elif v.fault == "not_an_object":
        lines[i] = "[1, 2, 3]"
    elif v.fault == "blank_line":
        lines.insert(i, "")
    elif v.fault == "nan_quality_metric":
        lines[i] = _edit_record(lines[i], kind, "nan_score")
    elif v.fault == "duplicate_in_file":
        lines.insert(i + 1, lines[i])          # the earlier copy (line v.line) is quarantined
    elif v.fault == "duplicate_across_files":
        src_label, src_line = v.params
        lines.append(_read_line(Path(raw_dir) / SOURCES[src_label][1], src_line))
        where = len(lines)
    elif v.fault in LINE_FAULTS:
        lines[i] = _edit_record(lines[i], kind, v.fault)
    elif v.fault == "truncated_last_line":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
        final_newline = False
        where = len(lines)
    elif v.fault == "utf8_bom":
        prefix = b"\xef\xbb\xbf"
        where = 1
    elif v.fault == "crlf_endings":
        newline = "\r\n"
        where = len(lines)
    elif v.fault == "empty_file":
        lines = []
    elif v.fault == "changed_row_count":
        lines.append(lines[-1])
    _rewrite(path, lines, newline, final_newline, prefix)
    return where


def truncated_copy(raw_dir: Path, dest: Path, max_lines: int) -> Path:
    """The first max_lines lines of every file: a small raw dir for many fault builds."""
    for _label, (_kind, rel) in SOURCES.items():
        src, dst = Path(raw_dir) / rel, Path(dest) / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            for n, line in enumerate(fin):
                if n >= max_lines:
                    break
                fout.write(line)
    return Path(dest)
