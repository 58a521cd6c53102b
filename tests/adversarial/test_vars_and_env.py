"""dbt vars and environment variables from the command line: checked against
their rules before anything runs. `qsafety build --var ...` with a hostile or
out-of-range value exits 2 with one line naming the var, the previous warehouse
is byte-identical and nothing is written (no pre-flight, no dbt)."""
from __future__ import annotations

import pytest

from quant_safety.validate import check_var

from .conftest import Sandbox, new_case, one_error_line, run_cli, sha

VAR_CASES = {
    # --var value -> fragment of the one-line error
    "raw_dir=/etc": "var raw_dir: cannot be overridden",
    "source_audit_file=/tmp/forged_audit.csv": "var source_audit_file: cannot be overridden",
    "var_rules={}": "var var_rules: cannot be overridden",
    "no_such_var=1": "var no_such_var: unknown var",
    "refusal_drop_pp=10) or (1=1": "var refusal_drop_pp: '10) or (1=1' is not a number",
    "refusal_drop_pp=-5": "var refusal_drop_pp: -5 is outside [0, 100]",
    "refusal_drop_pp=nan": "var refusal_drop_pp: 'nan' is not a number",
    "delta_pp_round_decimals=2.5": "var delta_pp_round_decimals: '2.5' is not an integer",
    "judge_dedupe_mode=pool' or '1'='1": "var judge_dedupe_mode:",
    "phase6_task=advbench_refusal'; drop table matrix; --": "var phase6_task:",
    "conservative_floor_quant=Q5_K_M' union select 1 --": "var conservative_floor_quant:",
    "deployment_drift_metrics=judge_refusal_rate,1) or (1=1": "var deployment_drift_metrics:",
    "raw_line_max_bytes=10": "var raw_line_max_bytes: 10 is outside",
    "python_stats_models=maybe": "var python_stats_models:",
    "=1": "--var '=1': expected key=value",
}


@pytest.mark.parametrize("pair", sorted(VAR_CASES))
def test_hostile_var_is_refused_before_anything_runs(pair, adv_small_raw, tmp_path, monkeypatch, capsys):
    cfg = new_case(tmp_path, adv_small_raw)
    before = sha(cfg.db_path)
    box = Sandbox(tmp_path, writable=[])
    code, _out, err = run_cli(["build", "--var", pair], cfg, monkeypatch, capsys)
    assert code == 2
    assert VAR_CASES[pair] in one_error_line(err)
    assert sha(cfg.db_path) == before
    box.check()                                 # not even the build dir: refused before the pre-flight


ENV_CASES = {
    "QSAFETY_DUCKDB_MEMORY_LIMIT": "1GB'; COPY (SELECT 1) TO '/tmp/x",
    "QSAFETY_DUCKDB_THREADS": "2; SET enable_external_access=true",
    "QSAFETY_DBT_THREADS": "-1",
    "QSAFETY_SPARK_SCHEMA": "qsafety`; drop table x; --",
}


@pytest.mark.parametrize("name", sorted(ENV_CASES))
def test_hostile_environment_variable_is_refused(name, adv_small_raw, tmp_path, monkeypatch, capsys):
    cfg = new_case(tmp_path, adv_small_raw)
    monkeypatch.setenv(name, ENV_CASES[name])
    before = sha(cfg.db_path)
    box = Sandbox(tmp_path, writable=[cfg.db_path.parent])
    code, _out, err = run_cli(["build"], cfg, monkeypatch, capsys)
    assert code == 2
    line = one_error_line(err)
    assert f"environment variable {name}=" in line
    assert sha(cfg.db_path) == before and not cfg.building_db_path.exists()
    box.check()


@pytest.mark.parametrize(
    "name, value, typed",
    [
        ("refusal_drop_pp", "10", 10),
        ("refusal_drop_pp", "7.5", 7.5),
        ("wilson_z", "1.96", 1.96),
        (
            "deployment_drift_metrics",
            "judge_refusal_rate, safety_truthfulness",
            ["judge_refusal_rate", "safety_truthfulness"],
        ),
        ("judge_dedupe_mode", "pool", "pool"),
        ("python_stats_models", "false", False),
        ("raw_line_max_bytes", "4096", 4096),
    ],
)
def test_valid_vars_pass_typed(name, value, typed):
    assert check_var(name, value) == typed
