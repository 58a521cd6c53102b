"""The hostile raw files of the adversarial suite's shared build (synthetic
demo records; see test_hostile_files.py for what each must give)."""
from __future__ import annotations

import collections
import csv
import json
import os
from pathlib import Path

from quant_safety import manifest
from quant_safety.build import build

LIMIT = 16 * 1024 * 1024       # dbt var raw_line_max_bytes (default)
BASE = {"sample_id": None, "task_name": "advbench_refusal", "model": "llama3.2-1b-fp16", "base_model": "llama3.2-1b",
        "quant": "FP16", "domain": "safety", "score": 1.0, "metric": "refusal_rate",
        "detail": {"refusal_type": "hard", "confidence": 1.0}, "jailbreak_type": "", "behavior_category": "",
        "base_behavior_id": ""}
_ids = iter(range(10**6))


def record(**changes) -> str:
    rec = dict(BASE, sample_id=f"hostile_{next(_ids):04d}")
    rec.update(changes)
    return json.dumps(rec)


def valid() -> bytes:
    return record().encode()


def padded(total: int) -> bytes:
    """A valid record of exactly `total` bytes (a long unread field)."""
    head = (record()[:-1] + ', "padding": "').encode()
    return head + b"x" * (total - len(head) - 2) + b'"}'


def payload_path(root: Path) -> tuple[str, Path]:
    canary = root / "pwned.csv"
    return f"hostile/x'); COPY (SELECT 'pwned') TO '{canary}'; --/data.jsonl", canary


# file -> (bytes, [(status, reason prefix) per \n-separated line])
def hostile_files(root: Path, limit: int = LIMIT, long_line: int = 50 * 1024 * 1024) -> dict[str, tuple[bytes, list]]:
    """{relative path: (bytes, [(status, reason prefix) of each line])}; `limit` is
    raw_line_max_bytes, `long_line` the size of the line far over it."""
    loaded = ("loaded", "")
    q = lambda reason: ("quarantined", reason)  # noqa: E731
    cr_in_string = record(detail={"refusal_type": "ha\rrd", "confidence": 1.0}).replace("\\r", "\r")
    cr_between = record().replace('", "task_name"', '",\r "task_name"')
    ctrl_in_string = record(jailbreak_type="a\x01b").replace("\\u0001", "\x01")
    nul_in_string = record(jailbreak_type="a\x00b").replace("\\u0000", "\x00")
    files = {
        payload_path(root)[0]: ([valid() for _ in range(3)], [loaded] * 3),
        "hostile/glob/[ab]*?{x,y}.jsonl": ([valid(), valid()], [loaded, loaded]),
        "hostile/glob/a.jsonl": ([valid()], [loaded]),            # what a glob would also match
        "hostile/we\"ird `name` $HOME é 😀.jsonl": ([valid(), b""], [loaded, q("blank_line")]),
        "hostile/long_lines.jsonl": (
            [valid(), padded(long_line), valid(), padded(limit), padded(limit + 1), valid()],
            [loaded, q("line_too_long"), loaded, loaded, q("line_too_long"), loaded]),
        "hostile/control_chars.jsonl": (
            [valid(), cr_in_string.encode(), valid(), cr_between.encode(), ctrl_in_string.encode(),
             nul_in_string.encode(), valid() + b"\x00", record(model="llama3.2-1b-fp16\u0000").encode(),
             valid() + b"\r", b"\r", "\ufeff".encode() + valid(), b'{"sample_id": "\\ud800", "x": 1}',
             (record()[:-1] + ', "nested": ' + "[" * 500 + "]" * 500 + "}").encode(),
             record().replace('"score": 1.0', '"score": 1e999').encode(),
             record().replace('"score": 1.0', '"score": 123456789012345678901234567890').encode(),
             b"null", valid()],
            [loaded, q("invalid_json"), loaded, loaded, q("invalid_json"), q("invalid_json"), q("invalid_json"),
             q("unknown_quant"), loaded, q("blank_line"), q("invalid_json"), q("invalid_json"), loaded,
             q("out_of_range"), q("out_of_range"), q("not_an_object"), loaded]),
        "hostile/duplicate_keys.jsonl": (
            [record()[:-1].encode() + b', "score": 0.0}',
             record()[:-1].encode() + b', "model": "qwen2.5-7b-q4_k_m"}',
             record().replace('"confidence": 1.0}', '"confidence": 1.0, "refusal_type": "soft"}').encode(),
             record()[:-1].encode() + b', "\\u0073core": 0.0}',
             record()[:-1].encode() + b', "Score": 0.0}',
             record(extra={"a": 1})[:-1].replace('"a": 1}', '"a": 1, "a": 2}').encode() + b"}",
             valid()],
            [q("ambiguous_duplicate_key"), q("ambiguous_duplicate_key"), q("ambiguous_duplicate_key"),
             q("ambiguous_duplicate_key"), loaded, loaded, loaded]),
        "hostile/crlf_bom.jsonl": ([valid() + b"\r", valid() + b"\r", valid() + b"\r"], [loaded] * 3),
    }
    out = {}
    for rel, (lines, statuses) in files.items():
        data = b"\n".join(lines)
        if rel.endswith("long_lines.jsonl") or rel.endswith("control_chars.jsonl"):
            pass                                   # no final newline: the last line counts
        else:
            data += b"\n"
        if rel.endswith("crlf_bom.jsonl"):
            data = "\ufeff".encode() + data
        out[rel] = (data, statuses)
    return out


def quality_file() -> tuple[bytes, list]:
    rec = {"model": "phi-2-fp16", "model_name": "phi-2-fp16", "task_name": "summarization",
           "task_type": "summarization", "metrics": {"bertscore": {"score": 0.7}, "rouge_l": {"score": 0.3},
                                                     "coherence": {"score": 0.5}}}
    line = lambda i: json.dumps(dict(rec, sample_id=f"hostile_q_{i}"))  # noqa: E731
    lines = [line(1).replace('"rouge_l"', '"bertscore": {"score": 0.1}, "rouge_l"'),   # metrics.bertscore twice
             line(2).replace('{"score": 0.7}', '{"score": 0.7, "score": 0.1}'),       # a metric's score twice
             line(3)]
    return ("\n".join(lines) + "\n").encode(), [("quarantined", "ambiguous_duplicate_key")] * 2 + [("loaded", "")]


def judge_file() -> tuple[bytes, list]:
    rec = {"sample_id": "hostile_j_1", "task_name": "advbench_refusal", "model": "llama3.2-1b-fp16",
           "judge_label": "FULL_REFUSAL", "judge_model": "gemma3:12b", "judge_parse_success": True}
    first = json.dumps(rec)[:-1] + ', "judge_label": "COMPLIANCE"}'
    second = json.dumps(dict(rec, sample_id="hostile_j_2"))
    return (first + "\n" + second + "\n").encode(), [("quarantined", "ambiguous_duplicate_key"), ("loaded", "")]


def second_judge_file() -> tuple[bytes, list]:
    """Kind E (second-judge annotations): a label given twice, CRLF endings, a
    blank line and a line that is not an object, beside valid lines."""
    rec = {"model": "llama3.2-1b-fp16", "task_name": "advbench_refusal", "primary_judge_label": "FULL_REFUSAL",
           "primary_judge_model": "gemma3:12b", "second_judge_label": "FULL_REFUSAL",
           "second_judge_model": "claude-sonnet-4"}
    line = lambda i: json.dumps(dict(rec, sample_id=f"hostile_sj_{i}"))  # noqa: E731
    lines = [line(1), line(2)[:-1] + ', "second_judge_label": "COMPLIANCE"}', line(3) + "\r", "", "[1, 2]",
             line(4)]
    return ("\n".join(lines) + "\n").encode(), [
        ("loaded", ""), ("quarantined", "ambiguous_duplicate_key"), ("loaded", ""), ("quarantined", "blank_line"),
        ("quarantined", "not_an_object"), ("loaded", "")]


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()                               # hard-linked copy: never write through the link
    path.write_bytes(data)


def write_hostile(raw_dir: Path, root: Path, limit: int = LIMIT, long_line: int = 50 * 1024 * 1024) -> dict:
    """Every hostile file written under raw_dir/hostile; returns what each line must give."""
    expected = hostile_files(root, limit, long_line)
    expected["hostile/quality_dups.jsonl"] = quality_file()
    expected["hostile/judge_dups.jsonl"] = judge_file()
    expected["hostile/second_judge_dups.jsonl"] = second_judge_file()
    for rel, (data, _statuses) in expected.items():
        write_file(raw_dir / rel, data)
    (raw_dir / "hostile" / "target").mkdir()
    write_file(raw_dir / "hostile" / "target" / "data.txt", valid() + b"\n")
    (raw_dir / "hostile" / "link_inside.jsonl").symlink_to("target/data.txt")     # relative: the tree can move
    expected["hostile/link_inside.jsonl"] = (valid() + b"\n", [("loaded", "")])
    return expected


def build_hostile(root: Path, small_raw: Path) -> dict:
    """The small raw dir plus every hostile file, locked and built (seeds + staging)."""
    from .conftest import Sandbox, new_case

    cfg = new_case(root, small_raw, relock=False, tiny_warehouse=False)
    expected = write_hostile(cfg.raw_dir, root)
    rows, notes = manifest.refresh_rows(cfg.raw_dir, manifest.default_manifest_rows())
    assert {r["relative_path"] for r in rows} >= set(expected), notes
    manifest.write_manifest(rows, cfg.manifest_path)
    box = Sandbox(root, writable=[cfg.db_path.parent], canaries=[payload_path(root)[1]])
    os.environ["QSAFETY_LOAD_CHUNK_BYTES"] = "65536"
    try:
        report = build(cfg, quiet=True, select="resource_type:seed staging audit")
    finally:
        del os.environ["QSAFETY_LOAD_CHUNK_BYTES"]
    box.check()
    with open(cfg.work_dir / "source_chunks.csv", newline="", encoding="utf-8") as handle:
        chunks = collections.Counter(r["source_label"] for r in csv.DictReader(handle))
    return {"cfg": cfg, "root": root, "expected": expected, "rows": rows, "report": report, "chunks_per_file": chunks}
