"""`qsafety export`: every bundle file, byte-identical re-export, manifest content."""
from __future__ import annotations

import csv
import json

import duckdb
import pytest

from quant_safety.bundle.export import export
from quant_safety.bundle.tables import TABLES

E1_NAMES = ["matrix", "regimes", "correlations", "asymmetry", "sign_reversal_summary", "phase5_quant_deployment",
            "phase5_taxonomy_catalog", "phase5_row_taxonomy", "phase6_style_correlations", "phase6_refusal_style",
            "phase6_style_examples", "q5_floor", "quant_floor", "bpw_regressions", "leave_one_quant_out",
            "leave_one_model_out", "repeated_measures", "mixed_models", "regex_vs_judge_gaps",
            "judge_agreement_quant", "claim_ledger", "source_audit", "raw_reconciliation", "quarantine"]


def test_every_file_is_written(bundle):
    out = bundle["dir"]
    assert not bundle["export"].missing
    for name in E1_NAMES:
        assert name in TABLES
        for ext in ("csv", "parquet"):
            path = out / f"{name}.{ext}"
            assert path.exists() and path.stat().st_size > 0, path
    assert (out / "run_manifest.json").exists() and (out / "run_timings.json").exists()


def test_rows_and_order_match_the_warehouse(bundle, warehouse):
    out = bundle["dir"]
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        for name, (table, _keys) in TABLES.items():
            n = con.execute(f'select count(*) from "{table}"').fetchone()[0]
            with open(out / f"{name}.csv", newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            assert len(rows) == n, name
            assert con.execute(f"select count(*) from read_parquet('{out / (name + '.parquet')}')").fetchone()[0] == n
    with open(out / "matrix.csv", newline="", encoding="utf-8") as handle:
        keys = [(r["base_model"], int(r["quant_order"])) for r in csv.DictReader(handle)]
    assert keys == sorted(keys)


def test_floats_have_at_most_12_significant_digits(bundle):
    with open(bundle["dir"] / "correlations.csv", newline="", encoding="utf-8") as handle:
        values = [v for row in csv.DictReader(handle) for k, v in row.items() if k.startswith(("pearson", "spearman"))]
    digits = [len(v.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) for v in values if v]
    assert digits and max(digits) <= 12


def test_two_exports_are_byte_identical(warehouse, bundle, tmp_path):
    second = export(warehouse, out_dir=tmp_path / "again")
    first_dir = bundle["dir"]
    compared = 0
    for path in second.files:
        if path.name == "run_timings.json":
            continue  # wall-clock facts live there on purpose
        assert path.read_bytes() == (first_dir / path.name).read_bytes(), f"{path.name} differs between exports"
        compared += 1
    assert compared == 2 * len(TABLES) + 2  # every CSV, every Parquet, run_manifest.json, agreement_summary.json


def test_run_manifest(bundle, warehouse):
    manifest = json.loads((bundle["dir"] / "run_manifest.json").read_text())
    labels = {i["label"] for i in manifest["inputs"]}
    assert "tr125_phase2_legacy" in labels and "tr142_second_judge" in labels and len(labels) == 22
    legacy = next(i for i in manifest["inputs"] if i["label"] == "tr125_phase2_legacy")
    assert legacy["raw_rows"] == 24990 and legacy["loaded_rows"] == 20580 and len(legacy["sha256"]) == 64
    assert manifest["packages"]["duckdb"] and manifest["packages"]["dbt-core"]
    assert manifest["dbt_vars"]["hidden_danger_quality_floor_pp"] == -2
    assert manifest["dbt_vars"]["refusal_drop_pp"] == 10
    assert "commit" in manifest["git"]
    assert manifest["outputs"]["matrix"]["rows"] == 51
    assert manifest["data_note"] and "SYNTHETIC" in manifest["data_note"]
    timings = json.loads((bundle["dir"] / "run_timings.json").read_text())
    assert "export_s" in timings["timings_s"]


def test_export_cli(cli_env, tmp_path, capsys):
    from quant_safety.cli import main

    assert main(["export", "--out", str(tmp_path / "cli"), "--no-parquet"]) == 0
    assert (tmp_path / "cli" / "claim_ledger.csv").exists()
    assert not (tmp_path / "cli" / "claim_ledger.parquet").exists()
    assert "wrote" in capsys.readouterr().out


def test_agreement_summary(bundle, warehouse):
    """agreement_summary.json (Appendix F) holds what the second-judge marts hold."""
    import duckdb

    summary = json.loads((bundle["dir"] / "agreement_summary.json").read_text())
    assert summary["available"] is True
    judge = summary["second_judges"]["claude-sonnet-4-20250514"]
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        overall = con.execute(
            "select n, agreement_pct, cohen_kappa, kappa_ci_lo, kappa_ci_hi from second_judge_agreement "
            "where grouping = 'overall'"
        ).fetchone()
        tasks = dict(con.execute("select task_name, cohen_kappa from second_judge_agreement "
                                 "where grouping = 'task'").fetchall())
        flips = con.execute("select count(*) from second_judge_regime_stability where flips").fetchone()[0]
    assert judge["overall"]["n"] == overall[0] == 11470
    for key, value in zip(("agreement_pct", "cohen_kappa", "kappa_ci_lo", "kappa_ci_hi"), overall[1:]):
        assert judge["overall"][key] == pytest.approx(value, rel=1e-11)
    assert {t: v["cohen_kappa"] for t, v in judge["per_task"].items()} == pytest.approx(tasks, rel=1e-11)
    assert judge["danger_cells_flipping"] == flips and len(judge["danger_cells"]) == 10
    assert judge["largest_disagreements"][0] == {"primary_judge_label": "PARTIAL_REFUSAL",
                                                 "second_judge_label": "COMPLIANCE", "pair_rows": 371}
