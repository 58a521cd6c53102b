"""The warehouse on generated valid-but-unusual logs, against an independent oracle.

One build serves many cases (each case has its own model names): the default
suite builds CI_CASES cases through a fresh checkout exactly as a user would
(registry additions in the lock dir, `qsafety lock`, `qsafety build --export`),
which is also the own-data end-to-end test; the slow marker builds SLOW_CASES.
Every column of matrix (the 95% intervals, regime confidence and minimum
detectable refusal drop included) and cell_coverage, the reconciliation counts,
the within-model correlations and the second-judge agreement / kappa (kind E)
are compared with tests/oracle/oracle.py.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from . import harness, oracle
from .generate import THRESHOLD_RECIPES

SLOW_CASES, SLOW_SEED = 312, 7
REQUIRED_SHAPES = {
    "missing_quality", "missing_judge", "missing_text", "no_baseline", "quant_one_model", "refusals_0",
    "refusals_1", "refusals_distinct", "refusals_identical", "refusals_distinct_2", "nan_metric",
    "all_nan_quality", "thr_refusal_-10", "thr_refusal_+10", "thr_quality_-2", "thr_quality_-5", "thr_gap_+20",
    "thr_gap_-20", "custom_format", "out_of_scope", "pattern_family", "unknown_quant", "name_zoo",
    "second_judge_partial", "second_judge_absent_cell",
}
INTERVAL_COLUMNS = [c for m, unit, *_ in oracle.INTERVAL_METRICS
                    for c in (f"{m}_ci_lo", f"{m}_ci_hi", f"{m}_delta{'_pp' if unit == 'pp' else ''}_ci_lo",
                              f"{m}_delta{'_pp' if unit == 'pp' else ''}_ci_hi")] + ["refusal_drop_mde_pp"]


def _checks(b: harness.LabBuild) -> dict[str, list[str]]:
    loaded = harness.expected(b)
    table = oracle.cell_table(loaded)
    label = lambda key: "/".join(map(str, key))  # noqa: E731
    matrix = b.df("select * from matrix")
    problems = {}
    missing_columns = sorted(set(matrix.columns) ^ (set(table.columns) - {"_half_widths"}))
    problems["columns"] = [f"matrix column not computed by the oracle (or vice versa): {c}" for c in missing_columns]
    keys = ["base_model", "quant"]
    problems["matrix"] = harness.compare(matrix.drop(columns=INTERVAL_COLUMNS),
                                         table.drop(columns=INTERVAL_COLUMNS + ["_half_widths"]),
                                         keys, label=label)
    problems["matrix_intervals"] = _compare_intervals(matrix, table, keys, label)
    cells = set(zip(table["base_model"], table["quant"]))
    agreement = oracle.second_judge_agreement(loaded, cells)
    sj_keys = ["grouping", "second_judge_model", "task_name", "base_model", "quant"]
    problems["second_judge_agreement"] = harness.compare(
        b.df("select * exclude (kappa_ci_method) from second_judge_agreement"), agreement, sj_keys, tol=1e-9)
    coverage = oracle.coverage_table(loaded)
    problems["cell_coverage"] = harness.compare(b.df("select * from cell_coverage"), coverage,
                                                ["base_model", "quant"], label=label)
    recon = oracle.reconciliation(loaded)
    problems["audit_reconciliation"] = harness.compare(
        b.df("select source_label, raw_lines, loaded_rows, excluded_rows, quarantined_rows from audit_reconciliation"),
        recon, ["source_label"])
    corr = oracle.correlations(table)
    actual = b.df("select scope, quality_metric, safety_metric, model, n, pearson_r, pearson_p, spearman_rho, "
                  "spearman_p, flag from correlations")
    keys = ["scope", "quality_metric", "safety_metric", "model"]
    # A p-value at |r| = 1 is ill-conditioned: for n = 3, p ~ 0.9 sqrt(1 - |r|), so one ulp of r
    # (-1.0 vs -0.9999999999999998, which the order of the rows decides) moves p by ~1e-8. Those
    # p-values are compared to 1e-6 (every r, and every other p, to 1e-9).
    near_one = lambda df, r: pd.to_numeric(df[r], errors="coerce").abs() > 1 - 1e-12  # noqa: E731
    for r, pcol in (("pearson_r", "pearson_p"), ("spearman_rho", "spearman_p")):
        edge = corr[near_one(corr, r)][keys + [pcol]]
        problems[f"correlations_{pcol}_at_r_1"] = harness.compare(
            actual.merge(edge[keys], on=keys)[keys + [pcol]], edge, keys, tol=1e-6, label=label)
        corr = corr.assign(**{pcol: corr[pcol].where(~near_one(corr, r), other=None)})
        actual = actual.assign(**{pcol: actual[pcol].where(~actual[keys].apply(tuple, axis=1).isin(
            set(edge[keys].apply(tuple, axis=1))), other=None)})
    problems["correlations"] = harness.compare(actual, corr, keys, label=label)
    return problems, table


def _compare_intervals(matrix, table, keys, label) -> list[str]:
    """Interval bounds: NULL where expected, else within 1e-9 plus INTERVAL_QUANTILE_TOL of the
    bound's distance from its centre (the t quantile's closed form)."""
    problems = []
    actual = {tuple(r[k] for k in keys): r for r in matrix.to_dict("records")}
    for row in table.to_dict("records"):
        key = tuple(row[k] for k in keys)
        got = actual.get(key)
        if got is None:
            continue          # reported by the matrix comparison
        for c in INTERVAL_COLUMNS:
            e, a = row[c], got[c]
            e_null, a_null = e is None or pd.isna(e), a is None or pd.isna(a)
            if e_null or a_null:
                if e_null != a_null:
                    problems.append(f"{label(key)} {c}: warehouse {a!r}, oracle {e!r}")
                continue
            slack = 1e-9 * max(1.0, abs(e)) + oracle.INTERVAL_QUANTILE_TOL * row["_half_widths"].get(c, 0.0)
            if c == "refusal_drop_mde_pp":          # statsmodels solves the power equation numerically
                slack = 1e-6 * max(1.0, abs(e))
            if abs(float(a) - float(e)) > slack:
                problems.append(f"{label(key)} {c}: warehouse {a!r}, oracle {e!r}")
    return problems


def _assert_clean(problems: dict, table) -> None:
    shown = {k: v for k, v in problems.items() if v}
    if shown:
        lines = [f"{k}: {len(v)} differences" for k, v in shown.items()]
        for _k, v in shown.items():
            lines += [f"  {p}" for p in v[:25]]
        pytest.fail("warehouse differs from the oracle:\n" + "\n".join(lines))


def _shapes(b: harness.LabBuild) -> set:
    return set().union(*(c.shapes for c in b.lab.cases))


def test_generated_cases_match_the_oracle(lab):
    problems, table = _checks(lab)
    shapes = _shapes(lab)
    print(f"\n{len(lab.lab.cases)} generated cases, {len(table)} cells, "
          f"{sum(len(c.models) for c in lab.lab.cases)} models; timings "
          + ", ".join(f"{k} {v:.1f}s" for k, v in lab.timings.items())
          + f"\nedge shapes covered: {', '.join(sorted(shapes))}")
    assert len(lab.lab.cases) >= 30
    assert REQUIRED_SHAPES <= shapes, f"shapes not covered: {sorted(REQUIRED_SHAPES - shapes)}"
    # the regimes and actions of partial data all occur
    assert {"undetermined", "no_baseline", "hidden_danger", "near_hidden_danger", "neutral", "baseline"} \
        <= set(table["regime"])
    assert {"robust", "fragile", "not_applicable"} <= set(table["regime_confidence"])
    _assert_clean(problems, table)


def test_every_name_maps_to_the_quant_it_was_written_for(lab):
    """The suffix rule (longest quant_levels.name_suffix after a '-', any casing) maps every
    raw name the generator wrote - one cell per quant level in effect included - to its level."""
    names = lab.df("select raw_model_name, quant, name_problem from stg_registry__model_names")
    mapped = dict(zip(names["raw_model_name"], names["quant"]))
    wrong = {n: (q, mapped.get(n)) for n, q in lab.lab.written_names.items() if mapped.get(n) != q}
    assert not wrong, list(wrong.items())[:10]
    levels = set(lab.df("select quant from stg_registry__quant_levels")["quant"])
    zoo = set(lab.df("select quant from matrix where base_model like '%-zoolm-1b'")["quant"])
    assert zoo == levels and {"Q4_0", "IQ4_XS", "EXL2_4.0", "BNB_NF4", "HQQ_4BIT", "FP8_E4M3"} <= levels


def test_threshold_cells_are_decided_exactly(lab):
    """The cells built on the thresholds land on the side the rules say (strict / non-strict)."""
    m = lab.df("select * from matrix")
    on = m[m["base_model"].str.contains("-thr")]
    assert len(on) > 0
    refusal_10 = on[(on["safety_refusal_rate_delta_pp"] == -10) & (on["quality_bertscore_delta_pp"] == 0)]
    assert len(refusal_10) and set(refusal_10["regime"]) == {"neutral"}         # < -10 is strict
    q2 = on[(on["quality_bertscore_delta_pp"] == -2) & (on["safety_refusal_rate_delta_pp"] < -10)]
    assert len(q2) and set(q2["regime"]) == {"hidden_danger"}                     # >= -2 is inclusive
    gap = on[on["regex_judge_refusal_gap_pp"].abs() == 20]
    assert len(gap) and gap["measurement_divergence"].all()                       # >= 20 is inclusive
    assert len(THRESHOLD_RECIPES) >= 10


def test_own_data_end_to_end(lab, demo_raw_dir):
    """A lab's own logs through a fresh checkout: lock beside the raw dir, build --export.
    The report is not labelled synthetic, the shipped demo lockfile is byte-identical, dbt
    wrote nothing into the lock dir, and the demo still passes its pre-flight."""
    from quant_safety import manifest

    assert (lab.lock_dir / "source_manifest.csv").exists()
    assert not (lab.raw / "source_manifest.csv").exists()
    assert (lab.checkout / "target" / "lock_seeds").is_dir()          # the checkout's own code ran
    assert lab.demo_lock_before == lab.demo_lock_after, "the shipped demo lock dir changed"
    assert lab.lock_dir_after_lock == lab.lock_dir_after_build, "the build wrote into the lock dir"
    report = (lab.out / "analysis_report.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" not in report and "is synthetic" not in report.lower()
    run_manifest = json.loads((lab.out / "run_manifest.json").read_text(encoding="utf-8"))
    assert run_manifest["data_note"] is None
    # a lab's own data is never the demo: no claim is true "by construction" on it
    assert lab.df("select * from audit_source_provenance").values.tolist() == [[False, len(lab.lab.files), 0]]
    assert "by_construction" not in set(lab.df("select status from claim_ledger")["status"])
    assert run_manifest["manifest"] == str(lab.lock_dir / "source_manifest.csv")
    assert (lab.out / "cell_coverage.csv").exists() and (lab.out / "docs" / "index.html").exists()
    assert "undetermined" in report                                      # partial cells are named in the report
    # `make run` on the demo: its lockfile (the checkout's, untouched) still matches the demo data
    rows = manifest.read_manifest(lab.checkout / "seeds" / "manifest" / "source_manifest.csv")
    assert manifest.check_against_manifest(demo_raw_dir, rows, manifest.audit_sources(demo_raw_dir, rows)) == []


@pytest.mark.slow
def test_many_generated_cases_match_the_oracle(tmp_path):
    b = harness.build_generated_lab(tmp_path, SLOW_CASES, SLOW_SEED, export=False, n_files=5)
    problems, table = _checks(b)
    print(f"\n{len(b.lab.cases)} generated cases, {len(table)} cells; timings "
          + ", ".join(f"{k} {v:.1f}s" for k, v in b.timings.items())
          + f"\nedge shapes covered: {', '.join(sorted(_shapes(b)))}")
    assert len(b.lab.cases) >= 300
    assert REQUIRED_SHAPES <= _shapes(b)
    _assert_clean(problems, table)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["single_cell", "safety_only_pair"])
def test_a_labs_smallest_first_runs_build(tmp_path, variant):
    """One model with only its baseline cell; a baseline and one quantized cell with safety
    logs only: build --export succeeds (statistics flag what they cannot compute) and match."""
    from .generate import tiny_lab

    b = harness.build_generated_lab(tmp_path, 0, 0, export=True, lab=tiny_lab(variant))
    problems, table = _checks(b)
    _assert_clean(problems, table)
    if variant == "safety_only_pair":
        assert list(table.loc[~table["is_baseline"], "regime"]) == ["undetermined"]
    assert (b.out / "analysis_report.md").exists()


@pytest.mark.slow
def test_demo_make_run_in_the_checkout_after_a_user_lock(lab, tmp_path):
    """After a user's lock and build, `make run` (demo into data/raw, build --export with
    the shipped lockfile) still works in that checkout."""
    env = harness.user_env(lab.checkout, lab.checkout / "data" / "raw", lab.checkout / "data" / "warehouse.duckdb",
                           lab.checkout / "data" / "bundle")
    for args in (("demo", "--out", str(lab.checkout / "data" / "raw")), ("build", "--export")):
        proc, _ = harness.run_cli(lab.checkout, env, *args)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = (lab.checkout / "data" / "bundle" / "analysis_report.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in report
