"""Quiet, informative progress (issue 17): `qsafety build` prints one line per stage and a
summary; dbt's full output goes to the log; the live line follows dbt's node counter."""
from __future__ import annotations

import io
import re
import time

import duckdb

from quant_safety.progress import Progress

from .conftest import BUILD_OUTPUT


def test_build_prints_at_most_40_lines_with_a_summary(warehouse):
    out = BUILD_OUTPUT["stdout"]
    lines = out.splitlines()
    assert 8 <= len(lines) <= 40, out
    assert all(len(line) <= 200 for line in lines), max(lines, key=len)
    # one final line per stage
    for stage in ("[1/4] pre-flight audit: done", "[2/4] dbt build", "[3/4] data-quality gate", "[4/4] swap: done"):
        assert sum(line.startswith(stage) for line in lines) == 1, stage
    assert not any(re.search(r"\d+ of \d+ (START|OK|PASS)", line) for line in lines)   # no dbt node lines
    summary = dict(re.match(r"\s+([a-z ]+):\s+(.*)", line).groups() for line in lines
                   if re.match(r"\s+[a-z ]+:\s", line))
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        claims = dict(con.execute("select status, count(*) from claim_ledger group by all").fetchall())
        cells = con.execute("select count(*) from matrix").fetchone()[0]
        models = con.execute("select count(*) from information_schema.tables").fetchone()[0]
    assert f"{sum(claims.values())} claims" in summary["claims"]
    assert f"{claims['reproduced']} reproduced" in summary["claims"]
    assert summary["cells"].startswith(f"{cells} ")
    n_models = int(re.search(r"(\d+) models", summary["dbt"]).group(1))
    assert 0 < n_models <= models
    assert re.search(r"\d+ of \d+ expectations passed", summary["gate"])
    log = warehouse.work_dir / "dbt_logs" / "build_output.log"
    assert summary["dbt log"].startswith(str(log))
    text = log.read_text(encoding="utf-8")
    assert len(re.findall(r"\d+ of \d+ (?:PASS|OK)", text)) > 100   # dbt's full output is in the log
    assert "(opens from disk)" in summary["data docs"]


def _dbt_lines(n: int) -> list[str]:
    lines = ["12:00:00  Running with dbt=1.11.0", "12:00:00  Registered adapter: duckdb=1.11.1",
             "12:00:05  Found 3 models, 1 seed, 2 data tests", "12:00:05  Concurrency: 2 threads"]
    for k in range(1, n + 1):
        lines.append(f"12:00:06  {k} of {n} START sql table model main.model_{k} .......... [RUN]")
        lines.append(f"12:00:06  {k} of {n} OK created sql table model main.model_{k} ... [OK in 0.1s]")
    return lines


def test_live_line_follows_dbt_node_counter(tmp_path):
    stream = io.StringIO()
    log = tmp_path / "out.log"
    with Progress(stream=stream, live=True, log_path=log) as progress:
        with progress.stage("[2/4] dbt build") as stage:
            for line in _dbt_lines(4):
                stage.dbt_line(line)
            stage.done("4 models")
    text = stream.getvalue()
    assert "dbt: parsing the project" in text
    assert "dbt node 4 of 4 done, model_4" in text and "dbt node 2 of 4 done, model_2" in text
    final = text.rsplit("\r\x1b[K", 1)[-1]
    assert re.fullmatch(r"\[2/4\] dbt build: done in \d+\.\ds \(4 models\)\n", final)
    assert len(log.read_text().splitlines()) == len(_dbt_lines(4)) + 2   # every dbt line + stage start/end


def test_off_a_terminal_one_line_per_stage_plus_heartbeats(tmp_path):
    stream = io.StringIO()
    with Progress(stream=stream, live=False, heartbeat_s=0.6) as progress:
        with progress.stage("[lock] staging") as stage:
            stage.update("dbt: parsing the project")
            time.sleep(1.4)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("[lock] staging: done in 1.")
    beats = [line for line in lines if line.startswith("  ... [lock] staging: dbt: parsing the project (")]
    assert 1 <= len(beats) <= 2 and len(lines) == len(beats) + 1
    assert "\r" not in stream.getvalue()


def test_verbose_prints_every_dbt_line_and_a_failed_stage_says_so():
    stream = io.StringIO()
    progress = Progress(stream=stream, verbose=True)
    try:
        with progress.stage("[2/4] dbt build") as stage:
            for line in _dbt_lines(2):
                stage.dbt_line(line)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(_dbt_lines(2)) + 1
    assert lines[-1].startswith("[2/4] dbt build: FAILED after ")


def test_version_and_help_name_defaults_and_environment(capsys):
    import pytest

    from quant_safety.cli import main

    with pytest.raises(SystemExit):
        main(["--version"])
    assert re.match(r"qsafety \d+\.\d+\.\d+ \(dbt-core 1\.11\.", capsys.readouterr().out)
    for command in ("build", "query", "lock", "docs", "screen", "demo", "export", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "QSAFETY_DB" in text and "environment" in text, command
        options = re.findall(r"^  (-[-\w, ]+?)(?:\s{2,}|\n)", text, re.M)
        assert options, command
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    assert "default: table" in capsys.readouterr().out
