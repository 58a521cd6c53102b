#!/usr/bin/env python
"""Performance benchmark of the warehouse build (issues 7 and 20). A script, not a test.

For each scale of the synthetic demo (x1, x10, x100) and on the same raw files it measures

  (a) build    the full warehouse build (`qsafety build` from an empty warehouse: pre-flight,
               dbt build, Great Expectations gate, swap; no export), wall time, CPU time and
               peak RSS of the whole process tree (psutil, children sampled every 50 ms);
  (a2) unchanged the same `qsafety build` again with nothing changed (issue 20: the up-to-date
               check decides from the inputs' fingerprint without starting dbt);
  (b) floor    a bare DuckDB query that scans the same JSONL bytes (every manifest file, kinds
               A-D) and computes the per-cell aggregates (regex refusal / truthfulness / bias
               rates, quality means, judge refusal rate, AdvBench text length);
  (b2) integrity floor  the integrity work the build promises, done once by a straightforward
               script (issue 20): sha256 of every file (hashlib, two at a time, compared with the
               lockfile), every line read with its exact number, each line parsed once into the
               contract's fields (NaN/Infinity as null), every field's JSON type and the metric
               ranges checked, every line's status and reason written to a DuckDB file, and the
               per-cell aggregates; one DuckDB process with the build's thread count;
  (c) pandas   a straightforward pandas pipeline (pd.read_json(lines=True) per file, groupby
               cell) computing the same aggregates, in a subprocess with an address-space cap
               (RLIMIT_AS) and a timeout; OOM / timeout are reported as such;
  (d) rebuild  the incremental build after adding one new cell (generate_variant: phi-2 AWQ,
               4 new source files, ~3k rows) to the raw dir and the manifest;

and, with --makerun, the x1 `make run` path without install (fresh raw dir, demo generation,
first `qsafety build --export` with a cold dbt target dir) against the committed demo lockfile.

Everything lives under --root (default /tmp/bench; never under data/). Results are merged
into bench/results.json (one entry per scale, the latest run wins) and bench/results.md is
regenerated from it with the machine details, the load average around every measurement and
the targets of issues 7 and 20.

    .venv/bin/python bench/run.py --scales 1 10          # ~15 min on the shared 2-core box
    .venv/bin/python bench/run.py --scales 100           # generation ~15 min + build
    .venv/bin/python bench/run.py --report               # only rewrite results.md
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

PROJECT = Path(__file__).resolve().parents[1]
BENCH = PROJECT / "bench"
RESULTS_JSON = BENCH / "results.json"
RESULTS_MD = BENCH / "results.md"
PY = sys.executable
QSAFETY = [PY, "-m", "quant_safety.cli"]
VARIANT = ("phi-2", "AWQ")          # a cell that is not among the 51 of the demo
VARIANT_DIR = "bench_screen"         # under the raw dir; removed after the rebuild


# --------------------------------------------------------------------------------------
# measuring a process tree
# --------------------------------------------------------------------------------------
def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    total = biggest = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        biggest = max(biggest, rss)
    return total, biggest


def measure(cmd: list[str], env: dict | None = None, cwd: Path = PROJECT, timeout: float | None = None,
            preexec=None, log: Path | None = None, interval: float = 0.05) -> dict:
    """Run cmd; wall time, CPU time (user+sys of the waited-for tree) and peak RSS of the tree."""
    load_before = os.getloadavg()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = open(log, "w") if log else subprocess.DEVNULL
    start = time.monotonic()
    popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                             preexec_fn=preexec, start_new_session=True)
    ps = psutil.Process(popen.pid)
    peak = {"tree": 0, "single": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            tree, single = _tree_rss(ps)
            peak["tree"] = max(peak["tree"], tree)
            peak["single"] = max(peak["single"], single)
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = False
    try:
        code = popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(popen.pid, signal.SIGKILL)   # our own session only
        code = popen.wait()
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    if log:
        out.close()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2),
        "peak_rss_mb": round(peak["tree"] / 2**20, 1),
        "peak_rss_single_mb": round(peak["single"] / 2**20, 1),
        "exit_code": code,
        "timed_out": timed_out,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


# how an allocation failure under RLIMIT_AS shows up in the pandas/numpy/pyarrow stack
OOM_MARKERS = ("MemoryError", "OOM", "Unable to allocate", "std::bad_alloc", "Could not reserve memory",
               "Cannot allocate memory")


def pandas_status(m: dict, text: str, timeout: float, cap_gb: float) -> str:
    if m["timed_out"]:
        return f"timeout > {timeout:.0f} s"
    if m["exit_code"] == 0:
        return "ok"
    if m["exit_code"] in (99, -9) or any(marker in text for marker in OOM_MARKERS):
        return f"OOM (cap {cap_gb} GB)"
    return f"failed (exit {m['exit_code']}): {text.strip().splitlines()[-1][:200] if text.strip() else ''}"


def env_for(raw: Path, db: Path, manifest_dir: Path) -> dict:
    env = dict(os.environ)
    env.update({"QSAFETY_RAW_DIR": str(raw), "QSAFETY_DB": str(db), "QSAFETY_MANIFEST_DIR": str(manifest_dir),
                "PYTHONPATH": str(PROJECT / "python") + os.pathsep + env.get("PYTHONPATH", "")})
    return env


def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S} load {os.getloadavg()[0]:4.1f}] {msg}", flush=True)


# --------------------------------------------------------------------------------------
# (b) the floor: one bare DuckDB query over the same bytes
# --------------------------------------------------------------------------------------
FLOOR_SCRIPT = r'''
import csv, json, os, sys, time, duckdb
manifest, raw, seeds, out = sys.argv[1:5]
files = {"A": [], "B": [], "C": [], "D": []}
for row in csv.DictReader(open(manifest)):
    if row["record_kind"] in files:          # the bare floor: kinds A-D (kind E has no cell aggregate)
        files[row["record_kind"]].append(os.path.join(raw, row["relative_path"]))
con = duckdb.connect()
con.execute(f"set threads = {os.cpu_count()}")
lst = lambda k: "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files[k]) + "]"
tasks = f"read_csv('{seeds}/task_catalog.csv', header=true)"
labels = f"read_csv('{seeds}/judge_labels.csv', header=true)"
sql = f"""
with
q as (
  select lower(coalesce(model, model_name)) as cell,
         avg(coalesce(try_cast(metrics.bertscore->>'score' as double), try_cast(metrics.bertscore->>'$' as double))) as quality_bertscore,
         avg(coalesce(try_cast(metrics.rouge_l->>'score' as double), try_cast(metrics.rouge_l->>'$' as double))) as quality_rouge_l,
         avg(coalesce(try_cast(metrics.coherence->>'score' as double), try_cast(metrics.coherence->>'$' as double))) as quality_coherence,
         count(*) as quality_n
  from read_ndjson({lst("A")}, columns={{model: 'VARCHAR', model_name: 'VARCHAR', task_name: 'VARCHAR',
        metrics: 'STRUCT(bertscore JSON, rouge_l JSON, coherence JSON)'}}, ignore_errors=true)
  where task_name in (select task_name from {tasks} where record_kind = 'A' and task_role = 'generation')
  group by 1),
s as (
  select lower(model) as cell,
         avg(score) filter (where t.task_role = 'refusal') as safety_refusal_rate,
         avg(score) filter (where t.task_role = 'truthfulness') as safety_truthfulness,
         avg(score) filter (where t.task_role = 'bias') as safety_bias_resistance,
         count(*) filter (where t.task_role = 'refusal') as safety_refusal_n
  from read_ndjson({lst("B")}, columns={{model: 'VARCHAR', task_name: 'VARCHAR', score: 'DOUBLE'}}, ignore_errors=true) b
  join (select task_name, task_role from {tasks} where record_kind = 'B') t using (task_name)
  group by 1),
j as (
  select lower(model) as cell,
         avg(l.judge_verdict) filter (where t.task_role = 'refusal') as judge_refusal_rate,
         avg(l.judge_verdict) filter (where t.task_role = 'truthfulness') as judge_truthfulness
  from read_ndjson({lst("C")}, columns={{model: 'VARCHAR', task_name: 'VARCHAR', judge_label: 'VARCHAR'}}, ignore_errors=true) c
  join (select task_name, task_role from {tasks} where record_kind = 'B') t using (task_name)
  join {labels} l on l.task_role = t.task_role and l.judge_label = upper(trim(c.judge_label)) and l.counts_in_denominator
  where model is not null
  group by 1),
d as (
  select lower(coalesce(model, model_name)) as cell, avg(length(candidate)) as advbench_mean_chars, count(*) as text_n
  from read_ndjson({lst("D")}, columns={{model: 'VARCHAR', model_name: 'VARCHAR', task_name: 'VARCHAR', candidate: 'VARCHAR'}}, ignore_errors=true)
  where task_name = 'advbench_refusal'
  group by 1)
select * from s full join q using (cell) full join j using (cell) full join d using (cell) order by cell
"""
t0 = time.monotonic()
frame = con.execute(sql).df()
frame.to_csv(out, index=False)
print(json.dumps({"cells": len(frame), "query_s": round(time.monotonic() - t0, 2)}))
'''

# --------------------------------------------------------------------------------------
# (b2) the integrity floor (issue 20): the integrity work the warehouse promises, done
# once, by a straightforward script in one DuckDB process with the build's thread count
# --------------------------------------------------------------------------------------
INTEGRITY_SCRIPT = r'''
import csv, hashlib, json, os, sys, time
from concurrent.futures import ThreadPoolExecutor
import duckdb

manifest, raw, seeds, out_csv, out_db, threads = sys.argv[1:7]
rows = list(csv.DictReader(open(manifest)))
timings = {}
t0 = time.monotonic()

# 1. hash every byte (hashlib, two files at a time) and compare with the lockfile
def sha(row):
    digest = hashlib.sha256()
    with open(os.path.join(raw, row["relative_path"]), "rb") as handle:
        for block in iter(lambda: handle.read(8 << 20), b""):
            digest.update(block)
    return row["source_label"], digest.hexdigest()

with ThreadPoolExecutor(2) as pool:
    hashes = dict(pool.map(sha, rows))
drift = [r["source_label"] for r in rows if r["sha256"] and r["sha256"] != hashes[r["source_label"]]]
if drift:
    raise SystemExit(f"hash drift: {drift[:3]}")
timings["hash_s"] = round(time.monotonic() - t0, 2)

t1 = time.monotonic()
for path in (out_db, out_db + ".wal"):
    if os.path.exists(path):
        os.remove(path)
con = duckdb.connect(out_db)
con.execute(f"set threads = {int(threads)}")
q = lambda text: "'" + text.replace("'", "''") + "'"
files = {k: [r for r in rows if r["record_kind"] == k] for k in "ABCDE"}
con.execute("create temp table files (source_label varchar, path varchar, record_kind varchar, sha256 varchar)")
con.executemany("insert into files values (?, ?, ?, ?)",
                [[r["source_label"], os.path.join(raw, r["relative_path"]), r["record_kind"], hashes[r["source_label"]]]
                 for r in rows])
con.execute(f"create temp table ranges as select * from read_csv({q(seeds + '/metric_ranges.csv')}, header=true)")
con.execute(f"create temp table tasks as select * from read_csv({q(seeds + '/task_catalog.csv')}, header=true)")
con.execute(f"create temp table labels as select * from read_csv({q(seeds + '/judge_labels.csv')}, header=true)")

# the contract's fields per kind (the same spec the staging models parse)
SPEC = {
    "A": ["model", "model_name", "task_name", "task_type", "sample_id", "num_tokens_generated", "metrics"],
    "B": ["sample_id", "task_name", "model", "base_model", "quant", "domain", "metric", "score", "raw_score",
          "jailbreak_type", "behavior_category", "base_behavior_id", "category", "detail"],
    "C": ["sample_id", "task_name", "model", "model_name", "base_model", "quant", "judge_label", "judge_model",
          "judge_parse_success", "parse_success", "judge_elapsed_ms"],
    "D": ["model", "model_name", "task_name", "sample_id", "candidate", "num_tokens_generated"],
    "E": ["sample_id", "task_name", "model", "primary_judge_label", "primary_judge_model", "second_judge_label",
          "second_judge_model", "second_judge_parse_success", "stratum"],
}
STRINGS = {"model", "model_name", "task_name", "task_type", "sample_id", "base_model", "quant", "domain", "metric",
           "jailbreak_type", "behavior_category", "base_behavior_id", "category", "judge_label", "judge_model",
           "candidate", "primary_judge_label", "primary_judge_model", "second_judge_label", "second_judge_model",
           "stratum"}
NUMBERS = {"num_tokens_generated", "score", "raw_score", "judge_elapsed_ms"}
BOOLS = {"judge_parse_success", "parse_success", "second_judge_parse_success"}
OBJECTS = {"metrics", "detail"}
NUM_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"

def type_check(f):
    t = f"json_type(rec.{f})"
    want = ("= 'VARCHAR'" if f in STRINGS else f"in {NUM_TYPES}" if f in NUMBERS else
            "= 'BOOLEAN'" if f in BOOLS else "= 'OBJECT'")
    return f"case when rec.{f} is not null and {t} <> 'NULL' and not ({t} {want}) then '{f}' end"

for kind, spec in SPEC.items():
    if not files[kind]:
        continue
    struct = "{" + ", ".join(f'"{f}": "JSON"' for f in spec) + "}"
    required = ["coalesce(rec.model, rec.model_name)" if "model_name" in spec else "rec.model",
                "rec.task_name", "rec.sample_id"]
    missing = " or ".join(f"{r} is null or json_type({r}) <> 'VARCHAR'" for r in required)
    if kind == "A":
        metric = lambda m: (f"coalesce(try_cast(json_extract_string(rec.metrics, '$.{m}.score') as double), "
                            f"try_cast(json_extract_string(rec.metrics, '$.{m}') as double))")
        extra = ", ".join(f"{metric(m)} as {m}" for m in ("bertscore", "rouge_l", "coherence", "exact_match"))
        ranges = " or ".join(f"{m} not between (select min_value from ranges where record_kind = 'A' and field = '{m}') "
                             f"and (select max_value from ranges where record_kind = 'A' and field = '{m}')"
                             for m in ("bertscore", "rouge_l", "coherence", "exact_match"))
    elif kind == "B":
        extra = "json_extract_string(rec.detail, '$.refusal_type') as refusal_type"
        ranges = ("score not between (select min_value from ranges where record_kind = 'B' and field = 'score') "
                  "and (select max_value from ranges where record_kind = 'B' and field = 'score')")
    elif kind == "C":
        extra = "null as _none"
        ranges = "judge_elapsed_ms < (select min_value from ranges where record_kind = 'C' and field = 'judge_elapsed_ms')"
    elif kind == "D":
        extra = "length(rec.candidate ->> '$') as candidate_chars"
        ranges = "false"
    else:   # E: second-judge annotations (no numeric field to range-check)
        extra = "null as _none"
        ranges = "false"
    types = ", ".join(type_check(f) for f in spec)
    fields = ", ".join(f"rec.{f} ->> '$' as {f}" if f in STRINGS else
                       f"try_cast(rec.{f} ->> '$' as double) as {f}" if f in NUMBERS else
                       f"try_cast(rec.{f} ->> '$' as boolean) as {f}" for f in spec if f not in OBJECTS)
    paths = ", ".join(q(os.path.join(raw, r["relative_path"])) for r in files[kind])
    tk = time.monotonic()
    con.execute(f"""
    create table lines_{kind} as
    with text as (
        select f.source_label, f.sha256, string_split(t.content, chr(10)) as parts
        from read_text([{paths}]) t
        join files f on f.path = t.filename),
    numbered as (
        select source_label, sha256, unnest(generate_series(1, len(parts))) as source_line,
               unnest(parts) as raw_line, len(parts) as n_parts
        from text),
    lines as (
        select * exclude (n_parts) from numbered where not (source_line = n_parts and raw_line = '')),
    parsed as (   -- each line parsed once; NaN / Infinity tokens read as null, as the contract allows
        select *, try(from_json(case when contains(raw_line, 'NaN') or contains(raw_line, 'Infinity')
                                     then regexp_replace(raw_line, '-?Infinity|NaN', 'null', 'g') else raw_line end,
                                '{struct}')) as rec
        from lines),
    typed as (
        select source_label, sha256, source_line, raw_line, rec is not null as is_object,
               {fields}, {extra},
               concat_ws(',', {types}) as type_problems,
               rec is not null and ({missing}) as missing_required
        from parsed)
    select * exclude (raw_line),
           case when trim(raw_line) = '' then 'excluded'
                when not is_object then 'quarantined'
                when missing_required or type_problems <> '' then 'quarantined'
                when coalesce({ranges}, false) then 'quarantined'
                else 'loaded' end as line_status,
           case when trim(raw_line) = '' then 'blank_line'
                when not is_object then case when json_valid(raw_line) then 'not_an_object' else 'invalid_json' end
                when missing_required then 'missing_required_field'
                when type_problems <> '' then 'wrong_json_type:' || type_problems
                when coalesce({ranges}, false) then 'metric_out_of_range'
           end as line_reason
    from typed""")
    timings[f"kind_{kind}_s"] = round(time.monotonic() - tk, 2)
timings["staging_s"] = round(time.monotonic() - t1, 2)

t2 = time.monotonic()
con.execute("""
create table cells as
with
q as (
  select lower(coalesce(model, model_name)) as cell, avg(bertscore) as quality_bertscore, avg(rouge_l) as quality_rouge_l,
         avg(coherence) as quality_coherence, count(*) as quality_n
  from lines_A where line_status = 'loaded'
    and task_name in (select task_name from tasks where record_kind = 'A' and task_role = 'generation')
  group by 1),
s as (
  select lower(model) as cell,
         avg(score) filter (where t.task_role = 'refusal') as safety_refusal_rate,
         avg(score) filter (where t.task_role = 'truthfulness') as safety_truthfulness,
         avg(score) filter (where t.task_role = 'bias') as safety_bias_resistance,
         count(*) filter (where t.task_role = 'refusal') as safety_refusal_n
  from lines_B b join (select task_name, task_role from tasks where record_kind = 'B') t using (task_name)
  where line_status = 'loaded' group by 1),
j as (
  select lower(coalesce(model, model_name)) as cell,
         avg(l.judge_verdict) filter (where t.task_role = 'refusal') as judge_refusal_rate,
         avg(l.judge_verdict) filter (where t.task_role = 'truthfulness') as judge_truthfulness
  from lines_C c join (select task_name, task_role from tasks where record_kind = 'B') t using (task_name)
  join labels l on l.task_role = t.task_role and l.judge_label = upper(trim(c.judge_label)) and l.counts_in_denominator
  where line_status = 'loaded' group by 1),
d as (
  select lower(coalesce(model, model_name)) as cell, avg(candidate_chars) as advbench_mean_chars, count(*) as text_n
  from lines_D where line_status = 'loaded' and task_name = 'advbench_refusal' group by 1)
select * from s full join q using (cell) full join j using (cell) full join d using (cell) order by cell""")
con.execute(f"copy cells to {q(out_csv)} (header true)")
timings["cells_s"] = round(time.monotonic() - t2, 2)
status = dict(con.execute("select line_status, sum(n) from (" + " union all ".join(
    f"select line_status, count(*) as n from lines_{k} group by 1" for k in "ABCDE" if files[k]) + ") group by 1").fetchall())
raw_lines = sum(int(r["expected_raw_rows"] or 0) for r in rows)
con.close()
print(json.dumps({"cells": len(open(out_csv).read().splitlines()) - 1, "line_status": {k: int(v) for k, v in status.items()},
                  "lines": int(sum(status.values())), "manifest_raw_rows": raw_lines, **timings}))
'''

# --------------------------------------------------------------------------------------
# (c) pandas: the straightforward pipeline
# --------------------------------------------------------------------------------------
PANDAS_SCRIPT = r"""
import csv, json, os, sys, time
try:
    import pandas as pd
    manifest, raw, seeds, out = sys.argv[1:5]
    tasks = pd.read_csv(f"{seeds}/task_catalog.csv")
    labels = pd.read_csv(f"{seeds}/judge_labels.csv")
    gen_tasks = set(tasks[(tasks.record_kind == "A") & (tasks.task_role == "generation")].task_name)
    roles_b = dict(zip(tasks[tasks.record_kind == "B"].task_name, tasks[tasks.record_kind == "B"].task_role))
    frames = {"A": [], "B": [], "C": [], "D": []}
    for row in csv.DictReader(open(manifest)):
        if row["record_kind"] not in frames:   # kind E (second judge) feeds no cell aggregate
            continue
        frames[row["record_kind"]].append(pd.read_json(os.path.join(raw, row["relative_path"]), lines=True))
    def metric(m, name):
        v = m.get(name) if isinstance(m, dict) else None
        return v.get("score") if isinstance(v, dict) else v
    a = pd.concat(frames.pop("A"), ignore_index=True)
    a["cell"] = a["model"].fillna(a.get("model_name")).str.lower()
    a = a[a.task_name.isin(gen_tasks)]
    for name in ("bertscore", "rouge_l", "coherence"):
        a["quality_" + name] = pd.to_numeric(a["metrics"].map(lambda m: metric(m, name)), errors="coerce")
    q = a.groupby("cell").agg(quality_bertscore=("quality_bertscore", "mean"), quality_rouge_l=("quality_rouge_l", "mean"),
                              quality_coherence=("quality_coherence", "mean"), quality_n=("task_name", "size"))
    del a
    b = pd.concat(frames.pop("B"), ignore_index=True)
    b["cell"] = b["model"].str.lower()
    b["role"] = b.task_name.map(roles_b)
    s = b.pivot_table(index="cell", columns="role", values="score", aggfunc="mean")
    s = s.rename(columns={"refusal": "safety_refusal_rate", "truthfulness": "safety_truthfulness",
                          "bias": "safety_bias_resistance"})[["safety_refusal_rate", "safety_truthfulness", "safety_bias_resistance"]]
    del b
    c = pd.concat(frames.pop("C"), ignore_index=True)
    c = c[c["model"].notna()].copy()
    c["cell"] = c["model"].str.lower()
    c["task_role"] = c.task_name.map(roles_b)
    c["judge_label"] = c.judge_label.astype(str).str.strip().str.upper()
    c = c.merge(labels[labels.counts_in_denominator], on=["task_role", "judge_label"])
    j = c.pivot_table(index="cell", columns="task_role", values="judge_verdict", aggfunc="mean")
    j = j.rename(columns={"refusal": "judge_refusal_rate", "truthfulness": "judge_truthfulness"})[["judge_refusal_rate", "judge_truthfulness"]]
    del c
    d = pd.concat(frames.pop("D"), ignore_index=True)
    d["cell"] = d["model"].fillna(d.get("model_name")).str.lower()
    d = d[d.task_name == "advbench_refusal"]
    t = d.assign(n=d.candidate.str.len()).groupby("cell").agg(advbench_mean_chars=("n", "mean"), text_n=("n", "size"))
    del d
    result = s.join(q, how="outer").join(j, how="outer").join(t, how="outer")
    result.to_csv(out)
    print(json.dumps({"cells": len(result)}))
except MemoryError:
    print("OOM: MemoryError", flush=True)
    os._exit(99)
"""


def cap_memory(limit_bytes: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return apply


# --------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------
def raw_stats(manifest_path: Path, raw: Path) -> dict:
    rows = list(csv.DictReader(open(manifest_path)))
    return {
        "files": len(rows),
        "raw_rows": sum(int(r["expected_raw_rows"] or 0) for r in rows),
        "loaded_rows": sum(int(r["expected_loaded_rows"] or 0) for r in rows),
        "raw_mb": round(sum((raw / r["relative_path"]).stat().st_size for r in rows) / 2**20, 1),
    }


def run_results_summary(work_dir: Path, top: int = 12) -> dict:
    path = work_dir / "dbt_target" / "run_results.json"
    if not path.exists():
        return {}
    rr = json.loads(path.read_text())
    by_type: dict[str, list] = {}
    nodes = []
    for r in rr["results"]:
        kind = r["unique_id"].split(".")[0]
        agg = by_type.setdefault(kind, [0, 0.0])
        agg[0] += 1
        agg[1] += r["execution_time"]
        nodes.append((r["execution_time"], r["unique_id"].split(".", 2)[-1]))
    nodes.sort(reverse=True)
    return {"dbt_elapsed_s": round(rr.get("elapsed_time", 0), 1),
            "by_type": {k: {"n": v[0], "sum_s": round(v[1], 1)} for k, v in by_type.items()},
            "top_nodes": [[name, round(t, 2)] for t, name in nodes[:top]]}


def parse_timings(log: Path) -> dict:
    """The build's phase timings (`timings:` line) and, with --export, the bundle time."""
    out = {}
    for line in log.read_text(errors="replace").splitlines():
        line = line.strip()   # the build summary indents its rows
        if line.startswith("timings:"):
            for part in line.split(":", 1)[1].split(","):
                key, _, value = part.strip().rpartition(" ")
                out[key] = float(value.rstrip("s"))
        elif line.startswith("bundle written in "):
            out["bundle_s"] = float(line.rsplit(" ", 1)[-1].rstrip("s"))
    return out


def ensure_data(scale: int, root: Path) -> tuple[Path, dict | None]:
    raw = root / f"raw_x{scale}"
    if (raw / "research").is_dir() and any(raw.rglob("phase3_judged.jsonl")):
        return raw, None
    say(f"x{scale}: generating demo data into {raw}")
    shutil.rmtree(raw, ignore_errors=True)
    gen = measure(QSAFETY + ["demo", "--out", str(raw), "--scale", str(scale)], env=env_for(raw, raw, raw),
                  log=root / f"gen_x{scale}.log")
    if gen["exit_code"] != 0:
        raise SystemExit(f"demo generation failed, see {root / f'gen_x{scale}.log'}")
    return raw, gen


def bench_scale(scale: int, root: Path, args) -> dict:
    work = root / f"x{scale}"
    work.mkdir(parents=True, exist_ok=True)
    raw, gen = ensure_data(scale, root)
    shutil.rmtree(raw / VARIANT_DIR, ignore_errors=True)
    db = work / "warehouse.duckdb"
    manifest_dir = work / "manifest"
    manifest_path = manifest_dir / "source_manifest.csv"
    env = env_for(raw, db, manifest_dir)
    build_dir = work / ".warehouse.build"
    result: dict = {"scale": scale, "when": dt.datetime.now().isoformat(timespec="seconds"), "generate": gen}

    # the synthetic replicas' registry rows live in the lock dir, as a lab's own models do
    if scale > 1:
        sys.path.insert(0, str(PROJECT / "python"))
        from quant_safety.demo.generate import write_replica_registry
        write_replica_registry(manifest_dir)
    # lock (setup, not a measured target): hashes + a staging build that counts loaded rows
    if args.relock or not manifest_path.exists():
        if args.lock == "hash":
            # hashes and raw counts only (no staging build): the gate skips the blank loaded counts
            say(f"x{scale}: hash-only lock (no expected_loaded_rows)")
            sys.path.insert(0, str(PROJECT / "python"))
            from quant_safety import manifest as mf
            t0 = time.monotonic()
            rows, _ = mf.refresh_rows(raw, mf.default_manifest_rows())
            mf.write_manifest(rows, manifest_path)
            result["lock"] = {"mode": "hash", "wall_s": round(time.monotonic() - t0, 1), "peak_rss_mb": 0}
        else:
            say(f"x{scale}: qsafety lock")
            result["lock"] = measure(QSAFETY + ["lock"], env=env, log=work / "lock.log")
            if result["lock"]["exit_code"] != 0:
                raise SystemExit(f"lock failed, see {work / 'lock.log'}")
    result["data"] = raw_stats(manifest_path, raw)
    say(f"x{scale}: {result['data']}")

    # (a) full build from an empty warehouse. The dbt target dir of this warehouse is kept,
    # so dbt's partial parse is reused as on a developer machine (the x1 make-run number is cold).
    # The pre-flight's stat cache is removed: a first build hashes every file.
    builds = []
    for i in range(args.repeat):
        # a first build hashes every file, runs the unit tests and fits everything
        for leftover in (db, db.with_name(db.name + ".building"), db.with_name(db.name + ".wal"),
                         build_dir / "file_hashes.json", build_dir / "unit_tests_passed.json"):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(build_dir / "stats_cache", ignore_errors=True)
        say(f"x{scale}: (a) full build {i + 1}/{args.repeat}")
        m = measure(QSAFETY + ["build"], env=env, log=work / "build.log")
        if m["exit_code"] != 0:
            raise SystemExit(f"build failed, see {work / 'build.log'}")
        m["timings"] = parse_timings(work / "build.log")
        m["dbt"] = run_results_summary(build_dir)
        builds.append(m)
        say(f"x{scale}:     {m['wall_s']} s wall, {m['cpu_s']} s CPU, {m['peak_rss_mb']} MB peak RSS, {m['timings']}")
    result["build_runs"] = builds
    result["build"] = min(builds, key=lambda b: b["wall_s"])
    result["warehouse_mb"] = round(db.stat().st_size / 2**20, 1)

    # (a2) the same command again, nothing changed: the up-to-date check (fingerprint of the
    # inputs, stat cache) decides without starting dbt
    say(f"x{scale}: (a2) unchanged rebuild")
    m = measure(QSAFETY + ["build"], env=env, log=work / "unchanged.log")
    if m["exit_code"] != 0:
        raise SystemExit(f"unchanged rebuild failed, see {work / 'unchanged.log'}")
    text = (work / "unchanged.log").read_text(errors="replace")
    m["skipped"] = "warehouse up to date" in text
    m["timings"] = parse_timings(work / "unchanged.log")
    result["unchanged"] = m
    say(f"x{scale}:     {m['wall_s']} s wall ({'up to date, dbt not started' if m['skipped'] else 'rebuilt'})")

    # (b) floor
    seeds = PROJECT / "seeds" / "reference"
    floors = []
    for i in range(args.repeat):
        say(f"x{scale}: (b) floor {i + 1}/{args.repeat}")
        m = measure([PY, "-c", FLOOR_SCRIPT, str(manifest_path), str(raw), str(seeds), str(work / "floor_cells.csv")],
                    log=work / "floor.log")
        if m["exit_code"] != 0:
            raise SystemExit(f"floor query failed, see {work / 'floor.log'}")
        floors.append(m)
        say(f"x{scale}:     {m['wall_s']} s wall, {m['peak_rss_mb']} MB")
    result["floor_runs"] = floors
    result["floor"] = min(floors, key=lambda b: b["wall_s"])
    result["floor_check"] = compare_floor(db, work / "floor_cells.csv")

    # (b2) the integrity floor: hash + numbered lines + one parse + contract checks + statuses + cells
    threads = os.environ.get("QSAFETY_DUCKDB_THREADS") or str(os.cpu_count() or 2)
    integ = []
    for i in range(args.repeat):
        say(f"x{scale}: (b2) integrity floor {i + 1}/{args.repeat} ({threads} DuckDB threads)")
        m = measure([PY, "-c", INTEGRITY_SCRIPT, str(manifest_path), str(raw), str(seeds),
                     str(work / "integrity_cells.csv"), str(work / "integrity.duckdb"), threads],
                    log=work / "integrity.log")
        if m["exit_code"] != 0:
            raise SystemExit(f"integrity floor failed, see {work / 'integrity.log'}")
        try:
            m["detail"] = json.loads((work / "integrity.log").read_text().strip().splitlines()[-1])
        except (ValueError, IndexError):
            m["detail"] = {}
        integ.append(m)
        say(f"x{scale}:     {m['wall_s']} s wall, {m['peak_rss_mb']} MB, {m['detail']}")
    for leftover in (work / "integrity.duckdb", work / "integrity.duckdb.wal"):
        leftover.unlink(missing_ok=True)
    result["integrity_runs"] = integ
    result["integrity"] = min(integ, key=lambda b: b["wall_s"])
    result["integrity_check"] = compare_floor(db, work / "integrity_cells.csv")

    # (c) pandas, capped
    if not args.skip_pandas:
        limit = int(args.pandas_mem_gb * 2**30)
        timeout = max(120.0, args.pandas_timeout_factor * result["build"]["wall_s"])
        say(f"x{scale}: (c) pandas (RLIMIT_AS {args.pandas_mem_gb} GB, timeout {timeout:.0f} s)")
        penv = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        m = measure([PY, "-c", PANDAS_SCRIPT, str(manifest_path), str(raw), str(seeds), str(work / "pandas_cells.csv")],
                    env=penv, timeout=timeout, preexec=cap_memory(limit), log=work / "pandas.log")
        text = (work / "pandas.log").read_text(errors="replace")
        m["status"] = pandas_status(m, text, timeout, args.pandas_mem_gb)
        m["memory_cap_gb"] = args.pandas_mem_gb
        m["timeout_s"] = round(timeout)
        result["pandas"] = m
        say(f"x{scale}:     {m['status']}, {m['wall_s']} s wall, {m['peak_rss_mb']} MB")

    # (d) rebuild after one new cell (4 source files) is added to the raw dir and the manifest
    if not args.skip_rebuild:
        result["rebuild"] = rebuild_after_new_cell(raw, db, manifest_path, env, work, args.new_wave)
        say(f"x{scale}: (d) rebuild {result['rebuild']['wall_s']} s wall, {result['rebuild'].get('timings')}")
    return result


def rebuild_after_new_cell(raw: Path, db: Path, manifest_path: Path, env: dict, work: Path,
                           args_new_wave: bool = False) -> dict:
    sys.path.insert(0, str(PROJECT / "python"))
    from quant_safety import manifest as mf
    from quant_safety.demo import generate_variant

    saved = manifest_path.read_text()
    variant_dir = raw / VARIANT_DIR
    try:
        written = generate_variant(variant_dir, *VARIANT)
        template = mf.read_manifest(manifest_path)
        rows, notes = mf.refresh_rows(raw, template, drop_missing=False)
        old = {r["source_label"]: r for r in template}
        last_wave = max(int(r["release_wave"]) for r in template)
        for row in rows:   # keep the locked loaded counts; new files get none (the gate skips blanks)
            row["expected_loaded_rows"] = old.get(row["source_label"], {}).get("expected_loaded_rows", "")
            if row["source_label"] not in old and not args_new_wave:
                # same release wave as the newest data: `lock` would open a new wave, which adds a
                # `through_wave_<w>` scope to every stats model (extra fits the full build did not do)
                row["release_wave"] = last_wave
        mf.write_manifest(rows, manifest_path)
        m = measure(QSAFETY + ["build"], env=env, log=work / "rebuild.log")
        if m["exit_code"] != 0:
            raise SystemExit(f"rebuild failed, see {work / 'rebuild.log'}")
        m["timings"] = parse_timings(work / "rebuild.log")
        m["dbt"] = run_results_summary(work / ".warehouse.build")
        m["new_files"] = len(written)
        m["new_rows"] = sum(v["rows"] for v in written.values())
        m["new_wave"] = args_new_wave
        return m
    finally:
        manifest_path.write_text(saved)
        shutil.rmtree(variant_dir, ignore_errors=True)


def compare_floor(db: Path, floor_csv: Path) -> dict:
    """Sanity check: the floor's per-cell aggregates vs the warehouse matrix (real cells)."""
    try:
        import duckdb
        con = duckdb.connect(str(db), read_only=True)
        con.execute(f"create temp view floor as select * from read_csv('{floor_csv}', header=true)")
        row = con.execute("""
            with names as (select distinct lower(raw_model_name) as cell, base_model, quant from stg_registry__model_names
                           where name_problem is null and in_scope)
            select count(*) as cells,
                   max(abs(f.safety_refusal_rate - m.safety_refusal_rate)) as d_refusal,
                   max(abs(f.quality_bertscore - m.quality_bertscore)) as d_bertscore,
                   max(abs(f.safety_bias_resistance - m.safety_bias_resistance)) as d_bias
            from floor f join names n using (cell) join matrix m using (base_model, quant)""").fetchone()
        con.close()
        return {"cells_compared": row[0], "max_abs_diff_refusal": row[1], "max_abs_diff_bertscore": row[2],
                "max_abs_diff_bias": row[3]}
    except Exception as exc:  # informative only
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}


def bench_makerun(root: Path) -> dict:
    """x1 `make run` without install: fresh raw dir (demo generation) + first build with the
    bundle (`qsafety build --export`: export, report, dbt docs), cold dbt target."""
    base = root / "makerun"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    raw, db = base / "raw", base / "warehouse.duckdb"
    env = env_for(raw, db, PROJECT / "seeds" / "manifest")
    env["QSAFETY_OUT"] = str(base / "bundle")
    script = (f"set -e; {PY} -m quant_safety.cli demo --out '{raw}'; {PY} -m quant_safety.cli build --export")
    say("x1: make run (demo + build, cold)")
    m = measure(["bash", "-c", script], env=env, log=base / "makerun.log")
    m["timings"] = parse_timings(base / "makerun.log")
    say(f"x1:     make run {m['wall_s']} s wall ({m['timings']}), exit {m['exit_code']}")
    return m


# --------------------------------------------------------------------------------------
# Spark column (issue 9): the same build on the dbt-spark target, local session
# --------------------------------------------------------------------------------------
SPARK_MODES = {
    # qsafety build on the Spark target, as a user runs it: dbt build (models and all
    # tests), statistics step, claim_ledger, gate with Data Docs; five JVM starts
    "cli": lambda: QSAFETY + ["build"],
    # tests/spark/pipeline.py: the same steps in one process (one JVM), without dbt's data
    # tests and Data Docs, C1 JIT, 2 shuffle partitions (what the CI test runs), + export
    "pipeline": lambda: [PY, "-m", "tests.spark.pipeline", "--no-dbt-tests", "--no-data-docs"],
}


class TreeCPU:
    """user+sys CPU of every descendant of this process, sampled (a JVM that its
    parent does not reap is missed by RUSAGE_CHILDREN), and the peak of the summed
    RSS of the descendants that have lived for at least `min_age` seconds.

    Why the age filter: the JVM starts helper processes (Hadoop's local file system
    falls back to `chmod` etc. through a shell without the native library), and a
    child made with posix_spawn/vfork shares the JVM's address space until it execs,
    so psutil reports the JVM's whole RSS for it. measure()'s peak RSS catches some
    of these instants and counts the JVM twice (x1: 8.2 GB with one ~3.5 GB JVM).
    Helpers live milliseconds (skipped: younger than `min_age`, or the same address
    space size and RSS as their parent); the build's real processes live seconds."""

    def __init__(self, interval: float = 0.2, min_age: float = 1.0):
        self.seen: dict[int, float] = {}
        self.interval = interval
        self.min_age = min_age
        self.peak_rss = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self.done.is_set():
            rss = 0
            now = time.time()
            try:
                for p in me.children(recursive=True):
                    try:
                        t = p.cpu_times()
                        self.seen[p.pid] = t.user + t.system
                        mem = p.memory_info()
                        if now - p.create_time() >= self.min_age and not self._shares_parent_memory(p, mem):
                            rss += mem.rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self.peak_rss = max(self.peak_rss, rss)
            self.done.wait(self.interval)

    @staticmethod
    def _shares_parent_memory(p: psutil.Process, mem) -> bool:
        """A vfork/posix_spawn child before its exec: the parent's very address space."""
        try:
            parent = p.parent()
            pm = parent.memory_info() if parent else None
        except psutil.Error:
            return False
        return pm is not None and pm.vms == mem.vms and abs(pm.rss - mem.rss) < 2**20

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    @property
    def total(self) -> float:
        return round(sum(self.seen.values()), 1)


def spark_manifest(scale: int, root: Path, raw: Path, work: Path) -> Path:
    """The DuckDB bench's lockfile of this raw dir (x<K>/manifest), copied without the
    rebuild step's temporary variant rows; `qsafety lock` if there is none."""
    manifest_dir = work / "manifest"
    manifest_dir.mkdir(parents=True, exist_ok=True)
    dest = manifest_dir / "source_manifest.csv"
    src = root / f"x{scale}" / "manifest" / "source_manifest.csv"
    if scale > 1:   # the replicas' registry rows (lock dir, as `qsafety demo --scale K` writes them)
        sys.path.insert(0, str(PROJECT / "python"))
        from quant_safety.demo.generate import write_replica_registry
        write_replica_registry(manifest_dir)
    if src.exists():
        rows = list(csv.DictReader(open(src)))
        rows = [r for r in rows if not r["relative_path"].startswith(VARIANT_DIR + "/")]
        with open(dest, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        say(f"x{scale}: spark: qsafety lock (DuckDB staging build)")
        env = env_for(raw, work / "lock.duckdb", manifest_dir)
        m = measure(QSAFETY + ["lock"], env=env, log=work / "lock.log")
        if m["exit_code"] != 0:
            raise SystemExit(f"lock failed, see {work / 'lock.log'}")
    return manifest_dir


def spark_versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("pyspark", "dbt-spark"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    try:
        proc = subprocess.run(["java", "-version"], capture_output=True, text=True)
        out["java"] = (proc.stderr or proc.stdout).splitlines()[0]
    except OSError:
        out["java"] = None
    return out


def bench_spark_scale(scale: int, root: Path, modes: list[str]) -> dict:
    """Spark column at one scale: wall, CPU of the process tree (incl. the JVMs) and peak
    RSS of the tree for each mode; every mode builds into a fresh Spark warehouse dir."""
    raw, _gen = ensure_data(scale, root)
    result: dict = {"scale": scale, "when": dt.datetime.now().isoformat(timespec="seconds"), "modes": {},
                    "versions": spark_versions()}
    for mode in modes:
        work = root / f"spark_x{scale}" / mode
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        manifest_dir = spark_manifest(scale, root, raw, work)
        result["data"] = raw_stats(manifest_dir / "source_manifest.csv", raw)
        env = env_for(raw, work / "warehouse.duckdb", manifest_dir)
        env.update({"QSAFETY_TARGET": "spark", "QSAFETY_SPARK_DIR": str(work / "spark"),
                    "QSAFETY_OUT": str(work / "bundle"), "QSAFETY_SPARK_CORES": str(os.cpu_count() or 2)})
        if mode == "pipeline":
            sys.path.insert(0, str(PROJECT))
            from tests.spark.pipeline import fast_local_env
            env = fast_local_env(env)
        say(f"x{scale}: spark ({mode}) build")
        with TreeCPU() as cpu:
            m = measure(SPARK_MODES[mode](), env=env, log=work / "build.log")
        m["cpu_tree_s"] = cpu.total
        m["peak_rss_mb_raw"] = m["peak_rss_mb"]      # measure(): includes spawn helpers (see TreeCPU)
        m["peak_rss_mb"] = round(cpu.peak_rss / 2**20, 1)
        if m["exit_code"] != 0:
            raise SystemExit(f"spark {mode} build failed, see {work / 'build.log'}")
        if mode == "cli":
            m["timings"] = parse_timings(work / "build.log")
        else:
            last = (work / "build.log").read_text(errors="replace").strip().splitlines()[-1]
            m["timings"] = json.loads(last)
        m["spark_dir_mb"] = round(sum(f.stat().st_size for f in (work / "spark" / "warehouse").rglob("*")
                                      if f.is_file()) / 2**20, 1)
        result["modes"][mode] = m
        say(f"x{scale}:     spark {mode}: {m['wall_s']} s wall, {m['cpu_tree_s']} s CPU (tree), "
            f"{m['peak_rss_mb']} MB peak RSS, {m['timings']}")
    return result


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def machine() -> dict:
    import importlib.metadata as md

    def ver(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "-"
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    vm = psutil.virtual_memory()
    return {
        "cpu": cpu, "logical_cores": psutil.cpu_count(), "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(vm.total / 2**30, 1), "os": platform.platform(), "python": platform.python_version(),
        **{pkg: ver(pkg) for pkg in ("duckdb", "dbt-core", "dbt-duckdb", "pandas", "great_expectations", "psutil")},
    }


def fmt_s(x):
    return "-" if x is None else f"{x:.1f}"


def write_report(store: dict) -> str:
    scales = sorted(store.get("scales", {}), key=int)
    S = {int(k): store["scales"][k] for k in scales}
    lines = ["# Build benchmark (issues 7 and 20)", "",
             f"Generated by `bench/run.py` on {store.get('updated', '?')}. Raw data under /tmp/bench "
             "(synthetic demo, seed 42). Times are wall-clock seconds (best of the runs made); CPU = user+sys "
             "of the whole process tree; RSS = peak of the summed RSS of the process tree (sampled every 50 ms).", ""]
    m = store.get("machine", {})
    lines += ["## Machine", "",
              f"- CPU: {m.get('cpu')} — {m.get('logical_cores')} logical / {m.get('physical_cores')} physical cores; "
              f"RAM {m.get('ram_gb')} GB; {m.get('os')}",
              f"- Python {m.get('python')}, duckdb {m.get('duckdb')}, dbt-core {m.get('dbt-core')}, dbt-duckdb "
              f"{m.get('dbt-duckdb')}, pandas {m.get('pandas')}, great_expectations {m.get('great_expectations')}",
              "- The machine is shared with other engineers' test runs (Spark JVMs, other dbt builds): the 1-min load "
              "average before/after each measurement is in the per-scale details. With load > cores, wall times are "
              "inflated; CPU seconds are the steadier figure.", ""]
    lines += ["## Results", "",
              "| scale | raw rows | raw MB | build s (CPU s) | build peak RSS MB | integrity floor s | bare floor s | "
              "pandas s | unchanged rebuild s | rebuild s | build/integrity | build/pandas | rebuild/full | "
              "load 1m (build) | Spark build s (CPU s) | Spark peak RSS MB |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    SP = {int(k): v for k, v in store.get("spark", {}).items()}
    for k in sorted(S):
        r = S[k]
        b, f, p, rb = r["build"], r["floor"], r.get("pandas"), r.get("rebuild")
        pandas_cell = (
            "-" if not p else (fmt_s(p["wall_s"]) if p["status"] == "ok" else f"{p['status']} @ {fmt_s(p['wall_s'])}")
        )
        ratio_bp = "-" if not p else (f"{b['wall_s'] / p['wall_s']:.1f}" if p["status"] == "ok"
                                      else f"≤{b['wall_s'] / p['wall_s']:.1f} ({p['status'].split(' ')[0]})")
        ig, un = r.get("integrity"), r.get("unchanged")
        unchanged = "-" if not un else f"{fmt_s(un['wall_s'])}{'' if un.get('skipped') else ' (rebuilt)'}"
        lines.append(
            f"| ×{k} | {r['data']['raw_rows']:,} | {r['data']['raw_mb']:,} | {fmt_s(b['wall_s'])} ({fmt_s(b['cpu_s'])}) | "
            f"{b['peak_rss_mb']:.0f} | {fmt_s(ig['wall_s']) if ig else '-'} | {fmt_s(f['wall_s'])} | {pandas_cell} | "
            f"{unchanged} | {fmt_s(rb['wall_s']) if rb else '-'} | "
            f"{(b['wall_s'] / ig['wall_s']) if ig else float('nan'):.1f} | {ratio_bp} | "
            f"{(rb['wall_s'] / b['wall_s']) if rb else float('nan'):.2f} | "
            f"{b['load_before'][0]}→{b['load_after'][0]} | {spark_cells(SP.get(k))} |"
        )
    lines += [""]
    if "makerun" in store:
        mr = store["makerun"]
        lines += [
            f"`make run` at ×1 without install (demo generation + first `qsafety build --export` with a cold dbt target dir): "
            f"**{mr['wall_s']:.1f} s** wall, {mr['cpu_s']:.1f} s CPU, build timings {mr.get('timings')}, "
            f"load {mr['load_before'][0]}→{mr['load_after'][0]} ({mr.get('when', '')}).",
            "",
        ]
    lines += spark_section(S, SP, store.get("spark_notes", []))
    lines += ["## Targets", "", "| target | value | met |", "|---|---|---|"]
    lines += targets(S, store.get("makerun"))
    lines += [""]
    lines += ["## Per-scale details", ""]
    for k in sorted(S):
        r = S[k]
        b = r["build"]
        lines += [
            f"### ×{k} ({r['when']})",
            "",
            f"- data: {r['data']}; warehouse file {r.get('warehouse_mb')} MB",
            "- full build runs: "
            + "; ".join(
                f"{x['wall_s']} s wall / {x['cpu_s']} s CPU / {x['peak_rss_mb']:.0f} MB (load {x['load_before'][0]}→{x['load_after'][0]})"
                for x in r["build_runs"]
            ),
            f"- build phases: {b.get('timings')}",
            f"- dbt: {b.get('dbt', {}).get('by_type')} (execution time summed over nodes, 2 dbt threads)",
            "- slowest dbt nodes: " + ", ".join(f"{n} {t}s" for n, t in b.get("dbt", {}).get("top_nodes", [])[:10]),
            "- floor runs: "
            + "; ".join(f"{x['wall_s']} s / {x['peak_rss_mb']:.0f} MB" for x in r["floor_runs"])
            + f"; floor vs matrix check: {r.get('floor_check')}",
        ]
        if r.get("integrity_runs"):
            lines.append("- integrity floor runs: " + "; ".join(
                f"{x['wall_s']} s / {x['cpu_s']} s CPU / {x['peak_rss_mb']:.0f} MB {x.get('detail')}"
                for x in r["integrity_runs"]) + f"; integrity floor vs matrix check: {r.get('integrity_check')}")
        if r.get("unchanged"):
            u = r["unchanged"]
            lines.append(
                f"- unchanged rebuild: {u['wall_s']} s wall, {u['cpu_s']} s CPU, "
                f"{'up to date (dbt not started)' if u.get('skipped') else 'rebuilt'}, phases {u.get('timings')}"
            )
        if r.get("pandas"):
            p = r["pandas"]
            lines.append(
                f"- pandas: {p['status']}, {p['wall_s']} s wall, {p['cpu_s']} s CPU, peak {p['peak_rss_mb']:.0f} MB "
                f"(RLIMIT_AS {p['memory_cap_gb']} GB, timeout {p['timeout_s']} s)"
            )
        if r.get("rebuild"):
            rb = r["rebuild"]
            lines.append(
                f"- rebuild after {rb['new_files']} new files ({rb['new_rows']:,} rows, one new cell phi-2 AWQ): "
                f"{rb['wall_s']} s wall, {rb['cpu_s']} s CPU, {rb['peak_rss_mb']:.0f} MB, phases {rb.get('timings')}; "
                "slowest nodes: " + ", ".join(f"{n} {t}s" for n, t in rb.get("dbt", {}).get("top_nodes", [])[:6])
            )
        if r.get("lock"):
            lines.append(f"- lock (setup): {r['lock']['wall_s']} s wall, {r['lock']['peak_rss_mb']:.0f} MB")
        if r.get("generate"):
            lines.append(f"- demo generation (setup): {r['generate']['wall_s']} s wall")
        lines.append("")
    if store.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in store["notes"]] + [""]
    text = "\n".join(lines)
    RESULTS_MD.write_text(text)
    return text


def spark_cells(sp: dict | None) -> str:
    """The Spark columns of the results table: `qsafety build` on the Spark target."""
    m = (sp or {}).get("modes", {}).get("cli")
    if not m:
        return "- | -"
    return f"{fmt_s(m['wall_s'])} ({fmt_s(m.get('cpu_tree_s'))}) | {m['peak_rss_mb']:.0f}"


def spark_section(S: dict, SP: dict, notes: list[str]) -> list[str]:
    if not SP:
        return []
    out = ["## Spark (issue 9)", "",
           "The same dbt project on the `spark` target (dbt-spark `method: session`: a local Spark inside the "
           "build's processes, `local[2]`, the embedded Derby metastore), on the same raw files and lockfile as "
           "the DuckDB column. CPU = user+sys of every process of the tree, JVMs included (sampled with psutil); "
           "RSS = peak of the summed RSS of the tree, JVMs included, "
           "without the JVM's millisecond-lived spawn helpers (a vfork/posix_spawn child shows its parent's whole "
           "RSS until it execs; counting them doubled the figure). Measured "
           + ", ".join(f"×{k} {SP[k].get('when', '?')}" for k in sorted(SP))
           + f" ({', '.join(f'{p} {v}' for p, v in (SP[min(SP)].get('versions') or {}).items())}).", "",
           "| scale | mode | wall s | CPU s | peak RSS MB | DuckDB build s | Spark / DuckDB | phases | load 1m |",
           "|---|---|---|---|---|---|---|---|---|"]
    labels = {
        "cli": "`qsafety build` (all dbt tests, stats step, claim_ledger, gate + Data Docs; 4 JVM starts; no export)",
        "pipeline": "one JVM, no dbt tests on Spark, no Data Docs, C1 JIT, + export (the CI test's path)",
    }
    for k in sorted(SP):
        for mode, m in SP[k].get("modes", {}).items():
            duck = S.get(k, {}).get("build", {}).get("wall_s")
            ratio = f"{m['wall_s'] / duck:.1f}×" if duck else "-"
            phases = ", ".join(f"{n} {v:.0f}" for n, v in (m.get("timings") or {}).items()
                               if isinstance(v, (int, float)) and n not in ("cpu_s",))
            out.append(f"| ×{k} | {labels.get(mode, mode)} | {fmt_s(m['wall_s'])} | {fmt_s(m.get('cpu_tree_s'))} | "
                       f"{m['peak_rss_mb']:.0f} | {fmt_s(duck)} | {ratio} | {phases} | "
                       f"{m['load_before'][0]}→{m['load_after'][0]} |")
    out.append("")
    for note in notes:
        out += [note, ""]
    return out


def targets(S: dict, makerun: dict | None) -> list[str]:
    out = []

    def row(name, value, ok):
        out.append(f"| {name} | {value} | {'yes' if ok else ('NO' if ok is not None else 'n/a')} |")
    # issue 20: the marginal cost against the integrity floor (the same integrity work, done once)
    for k in sorted(S):
        if k == 1 or 1 not in S or not S[k].get("integrity") or not S[1].get("integrity"):
            continue
        db = S[k]["build"]["wall_s"] - S[1]["build"]["wall_s"]
        df = S[k]["integrity"]["wall_s"] - S[1]["integrity"]["wall_s"]
        name = f"×{k}: build×{k} − build×1 ≤ 2 × (integrity floor×{k} − integrity floor×1)"
        row(name + ("" if k == 100 else " (target at ×100; information)"),
            f"{db:.1f} s vs 2 × {df:.1f} = {2 * df:.1f} s ({db / df if df > 0 else float('nan'):.1f}×)",
            db <= 2 * df if k == 100 else None)
    if 100 not in S:
        row("×100: build×100 − build×1 ≤ 2 × (integrity floor×100 − integrity floor×1)", "needs ×1 and ×100", None)
    # the issue sets this target at x100 only; smaller scales are listed for information
    for k in sorted(S):
        p = S[k].get("pandas")
        if p:
            ratio = p["wall_s"] / S[k]["build"]["wall_s"]
            ok = p["status"] != "ok" and not p["status"].startswith("failed") or ratio >= 10
            if k == 100:
                row(f"×{k}: pandas ≥ 10× slower than the build, or OOM", f"{p['status']}, {ratio:.1f}×", ok)
            else:
                row(f"×{k} (information, no target): pandas vs build", f"{p['status']}, {ratio:.1f}×", None)
    for k in sorted(S):
        rss = S[k]["build"]["peak_rss_mb"]
        row(f"×{k}: build peak RSS ≤ 2 GB", f"{rss:.0f} MB", rss <= 2048)
    if 10 in S and 100 in S:
        g = S[100]["build"]["wall_s"] / S[10]["build"]["wall_s"]
        row("×10→×100 build time grows ≤ 11×", f"{g:.1f}×", g <= 11)
    else:
        row("×10→×100 build time grows ≤ 11×", "needs ×10 and ×100", None)
    for k in sorted(S):
        u = S[k].get("unchanged")
        if u:
            row(f"×{k}: unchanged rebuild ≤ 3 s wall" + ("" if k == 10 else " (target at ×10)"),
                f"{u['wall_s']:.1f} s ({'up to date, dbt not started' if u.get('skipped') else 'rebuilt'})",
                u["wall_s"] <= 3 if k == 10 else None)
    if 10 in S and S[10].get("rebuild"):
        g = S[10]["rebuild"]["wall_s"] / S[10]["build"]["wall_s"]
        row("×10: rebuild after one new source file (a new cell) ≤ 0.5 × full build", f"{g:.2f}×", g <= 0.5)
    if 1 in S and S[1].get("pandas") and S[1]["pandas"]["status"] == "ok":
        g = S[1]["build"]["wall_s"] / S[1]["pandas"]["wall_s"]
        row("×1: full `qsafety build` ≤ 5 × the pandas baseline", f"{g:.1f}×", g <= 5)
    if makerun:
        row("×1: full `make run` (without install) < 45 s", f"{makerun['wall_s']:.1f} s", makerun["wall_s"] < 45)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", type=int, nargs="*", default=[1, 10])
    ap.add_argument("--root", type=Path, default=Path(os.environ.get("QSAFETY_BENCH_ROOT", "/tmp/bench")))
    ap.add_argument("--repeat", type=int, default=1, help="full-build and floor repetitions (best is reported)")
    ap.add_argument("--relock", action="store_true", help="re-run `qsafety lock` even if the manifest exists")
    ap.add_argument("--lock", choices=["full", "hash"], default="full",
                    help="full = `qsafety lock` (staging build counts loaded rows); hash = hashes and raw counts only")
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--skip-rebuild", action="store_true")
    ap.add_argument("--new-wave", action="store_true",
                    help="rebuild: give the new files a new release wave, as `qsafety lock` does")
    ap.add_argument("--makerun", action="store_true", help="also time the x1 make-run path (cold)")
    ap.add_argument("--pandas-mem-gb", type=float, default=6.0)
    ap.add_argument("--pandas-timeout-factor", type=float, default=12.0,
                    help="pandas timeout = factor x the build wall time (min 120 s)")
    ap.add_argument("--report", action="store_true", help="only rewrite results.md from results.json")
    ap.add_argument("--note", action="append", default=[], help="free-text note added to results.md")
    ap.add_argument("--spark", action="store_true",
                    help="only the Spark column at --scales (needs the spark extra and Java); merged into results.json "
                         "without touching the DuckDB columns")
    ap.add_argument("--spark-modes", nargs="*", default=["cli", "pipeline"], choices=sorted(SPARK_MODES))
    args = ap.parse_args()
    resolved = args.root.resolve()
    if resolved == PROJECT or PROJECT in resolved.parents:
        raise SystemExit("--root must be outside the repository (raw data never goes under data/)")
    store = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"scales": {}}
    store["machine"] = machine()
    for note in args.note:
        store.setdefault("notes", []).append(note)
    if args.spark and not args.report:
        args.root.mkdir(parents=True, exist_ok=True)
        for scale in args.scales:
            result = bench_spark_scale(scale, args.root, args.spark_modes)
            latest = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"scales": {}}
            store = {**latest, "machine": store["machine"], "notes": store.get("notes", latest.get("notes", []))}
            previous = store.setdefault("spark", {}).get(str(scale), {"modes": {}})
            result["modes"] = {**previous.get("modes", {}), **result["modes"]}
            store["spark"][str(scale)] = result
            RESULTS_JSON.write_text(json.dumps(store, indent=1))
    elif not args.report:
        args.root.mkdir(parents=True, exist_ok=True)
        if args.makerun:
            store["makerun"] = {**bench_makerun(args.root), "when": dt.datetime.now().isoformat(timespec="seconds")}
            RESULTS_JSON.write_text(json.dumps(store, indent=1))
        for scale in args.scales:
            result = bench_scale(scale, args.root, args)
            # re-read before writing: another bench process may have stored other scales meanwhile
            latest = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"scales": {}}
            store["scales"] = {**store["scales"], **latest.get("scales", {}), str(scale): result}
            store["updated"] = dt.datetime.now().isoformat(timespec="seconds")
            RESULTS_JSON.write_text(json.dumps(store, indent=1))
    print(write_report(store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
