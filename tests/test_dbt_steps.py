"""Several dbt commands in one dbt process (quant_safety/engine/dbt_steps.py), on a
small dbt project of its own: every command runs, in order, on one parse; the
first that fails ends the process with dbt's exit code, and the commands after
it do not run; the runner names the command that failed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from quant_safety.engine.dbt_runner import failed_command
from quant_safety.engine.dbt_steps import STEP_MARKER, command_name

PROFILE = """tiny:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{db}"
      threads: 1
"""


def _project(root, failing_test: bool = False):
    (root / "models").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "dbt_project.yml").write_text("name: tiny\nversion: '1.0'\nprofile: tiny\nconfig-version: 2\n")
    (root / "profiles.yml").write_text(PROFILE.format(db=root / "tiny.duckdb"))
    (root / "models" / "two_rows.sql").write_text("select 1 as x union all select 2 as x\n")
    if failing_test:   # a singular test: its rows are its failures
        (root / "tests" / "x_is_small.sql").write_text("select * from {{ ref('two_rows') }} where x > 1\n")
    return root


def _run_steps(root, steps):
    spec = {"common": ["--no-use-colors", "--project-dir", str(root), "--profiles-dir", str(root)], "steps": steps}
    env = dict(os.environ, DBT_TARGET_PATH=str(root / "target"), DBT_LOG_PATH=str(root / "logs"),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    proc = subprocess.run([sys.executable, "-m", "quant_safety.engine.dbt_steps", json.dumps(spec)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout.splitlines()


def _steps_announced(lines):
    return [line.removeprefix(STEP_MARKER) for line in lines if line.startswith(STEP_MARKER)]


def test_every_command_runs_in_order_on_one_parse(tmp_path):
    root = _project(tmp_path / "p")
    code, lines = _run_steps(root, [["run"], ["docs", "generate", "--static"]])
    assert code == 0, "\n".join(lines[-20:])
    assert _steps_announced(lines) == ["run", "docs generate"]
    assert sum("Running with dbt" in line for line in lines) == 3     # parse, run, docs generate
    assert sum("Starting full parse" in line for line in lines) == 1  # the project is parsed once
    # the run built the model, and the docs site's catalog has it
    catalog = json.loads((root / "target" / "catalog.json").read_text())
    assert "model.tiny.two_rows" in catalog["nodes"]
    assert (root / "target" / "static_index.html").exists()
    results = json.loads((root / "target" / "run_results.json").read_text())
    assert [r["unique_id"] for r in results["results"]] == ["model.tiny.two_rows"]
    assert (root / "target" / "partial_parse.msgpack").exists()       # the next build's partial parse


def test_a_failing_command_ends_the_steps(tmp_path):
    root = _project(tmp_path / "p", failing_test=True)
    code, lines = _run_steps(root, [["run"], ["test"], ["docs", "generate", "--static"]])
    assert code == 1                                      # dbt's code for a failing test
    assert _steps_announced(lines) == ["run", "test"]     # docs generate did not run
    assert not (root / "target" / "catalog.json").exists()
    assert failed_command(lines, ["run"]) == "test"


def test_the_failed_command_without_steps_is_the_command_run():
    assert failed_command(["12:00:00  Database Error in model m"], ["build", "--select", "m"]) == "build"


def test_command_name_is_the_words_before_the_first_option():
    assert command_name(["docs", "generate", "--static", "--no-compile"]) == "docs generate"
    assert command_name(["build", "--select", "x"]) == "build"
    assert command_name(["--full-refresh"]) == ""
