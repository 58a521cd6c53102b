"""The interval models on hand-made cells (edge cases the demo never has: 0 of n,
n of n, n = 2, tiny and non-integer Welch df, a delta exactly on a threshold).

The SQL is the session build's own compiled `int_cell_intervals` and
`int_cell_regime_confidence` (its dbt target dir), run by DuckDB over hand-made input
tables in place of their refs - a small SQL unit, no extra dbt run - and the
results are checked against statsmodels / scipy."""
from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

WILSON_ALPHA = 2 * (1 - stats.norm.cdf(1.96))   # the alpha whose normal quantile is var wilson_z
Z95 = stats.norm.ppf(0.975)

# (k1, n1, k0, n0): cell and baseline successes / rows of a 0/1 score
PROPORTIONS = [(0, 20, 20, 20), (20, 20, 0, 20), (1, 2, 2, 2), (70, 220, 206, 220), (5, 100, 5, 100),
               (199, 200, 3, 7)]
# per-row values of a cell and its baseline (t and Welch): tiny, unequal variances, 0 / 0.5 / 1
SAMPLES = [([0.0, 0.5, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0]), ([12.0, 40.0], [30.0, 31.0, 29.0, 33.0, 30.5, 28.0]),
           ([0.71, 0.74, 0.69, 0.80, 0.77, 0.73, 0.70], [0.60, 0.95, 0.20, 0.88]),
           ([0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.26])]
T_DFS = [1, 2, 3, 4, 5, 7, 10, 30, 99, 500]          # n = df + 1 rows of a t-interval level
INTERVAL_METRICS = ["quality_bertscore", "quality_rouge_l", "quality_coherence", "quality_key_metric_average",
                    "safety_refusal_rate", "safety_truthfulness", "safety_bias_resistance", "judge_refusal_rate",
                    "judge_truthfulness", "judge_bias_resistance", "capability_mmlu_accuracy",
                    "capability_arc_accuracy"]
FEATURES = ["advbench_refusal_rate", "advbench_refusals", "dominant_prefix_share", "unique_prefix_rate",
            "prefix_entropy_norm", "mean_tokens_refusal", "mean_chars_refusal", "hard_refusal_rate"]


def _compiled(warehouse, model: str) -> str:
    path = (warehouse.db.parent / f".{warehouse.db.stem}.build" / "dbt_target" / "compiled" / "quant_safety"
            / "models" / "intermediate" / f"{model}.sql")
    if not path.exists():
        pytest.skip(f"compiled SQL of {model} not found at {path}")
    return path.read_text(encoding="utf-8")


def _cells_and_moments():
    """Hand-made int_cell_deltas and int_cell_level_moments rows: one model per case,
    baseline cell 'B' and cell 'C'."""
    cells, moments = [], []

    def cell(model, quant, levels: dict, deltas: dict):
        row = {"base_model": model, "quant": quant, "baseline_quant": "B", "is_baseline": quant == "B",
               "has_baseline_cell": True, "advbench_n": None}
        for m in INTERVAL_METRICS:
            row[m], row[m + "_delta_pp"] = levels.get(m), deltas.get(m)
        for f in FEATURES:
            row[f], row[f + "_delta"] = levels.get(f), deltas.get(f)
        cells.append(row)

    def moment(model, quant, metric, values, method=None, variance=None):
        v = np.asarray(values, float)
        non_binary = int(np.sum((v != 0) & (v != 1)))
        moments.append({"base_model": model, "quant": quant, "metric": metric, "n": len(v),
                        "value_sum": float(v.sum()) if variance is None else None,
                        "value_squared_deviations": float(((v - v.mean()) ** 2).sum()) if variance is None else None,
                        "non_binary_n": non_binary, "estimate_variance": variance,
                        "interval_method": method or ("wilson" if non_binary == 0 else "t")})

    for i, (k1, n1, k0, n0) in enumerate(PROPORTIONS):
        model, x1, x0 = f"p{i}", [1.0] * k1 + [0.0] * (n1 - k1), [1.0] * k0 + [0.0] * (n0 - k0)
        cell(model, "B", {"safety_refusal_rate": k0 / n0}, {"safety_refusal_rate": 0.0})
        cell(model, "C", {"safety_refusal_rate": k1 / n1}, {"safety_refusal_rate": round(100 * (k1 / n1 - k0 / n0), 6)})
        moment(model, "B", "safety_refusal_rate", x0)
        moment(model, "C", "safety_refusal_rate", x1)
    for i, (x1, x0) in enumerate(SAMPLES):
        model = f"s{i}"
        m1, m0 = float(np.mean(x1)), float(np.mean(x0))
        cell(model, "B", {"quality_rouge_l": m0}, {"quality_rouge_l": 0.0})
        cell(model, "C", {"quality_rouge_l": m1}, {"quality_rouge_l": round(100 * (m1 - m0), 6)})
        moment(model, "B", "quality_rouge_l", x0)
        moment(model, "C", "quality_rouge_l", x1)
    for df in T_DFS:   # a mean of tokens over df + 1 refusals, against a constant baseline
        model, x = f"t{df}", np.linspace(10.0, 60.0, df + 1)
        cell(model, "B", {"mean_tokens_refusal": 30.0}, {"mean_tokens_refusal": 0.0})
        cell(
            model,
            "C",
            {"mean_tokens_refusal": float(x.mean())},
            {"mean_tokens_refusal": round(float(x.mean()) - 30.0, 8)},
        )
        moment(model, "B", "mean_tokens_refusal", [30.0] * 4)
        moment(model, "C", "mean_tokens_refusal", x)
    # a normal-method feature: the estimate's variance is given
    cell("u0", "B", {"unique_prefix_rate": 0.2}, {"unique_prefix_rate": 0.0})
    cell("u0", "C", {"unique_prefix_rate": 0.5}, {"unique_prefix_rate": 0.3})
    moment("u0", "B", "unique_prefix_rate", [0.0] * 40, method="normal", variance=0.0016)
    moment("u0", "C", "unique_prefix_rate", [0.0] * 20, method="normal", variance=0.0049)
    return pd.DataFrame(cells), pd.DataFrame(moments)


@pytest.fixture(scope="module")
def intervals(warehouse) -> pd.DataFrame:
    cells, moments = _cells_and_moments()
    with duckdb.connect() as con:
        con.execute("attach ':memory:' as warehouse")
        con.register("cells_df", cells)
        con.register("moments_df", moments)
        con.execute("create table warehouse.main.int_cell_deltas as select * from cells_df")
        con.execute("create table warehouse.main.int_cell_level_moments as select * from moments_df")
        return con.execute(_compiled(warehouse, "int_cell_intervals")).df()


def _row(frame, model, quant, metric):
    hit = frame[(frame.base_model == model) & (frame.quant == quant) & (frame.metric == metric)]
    assert len(hit) == 1, (model, quant, metric)
    return hit.iloc[0]


def test_wilson_and_newcombe_match_statsmodels(intervals):
    for i, (k1, n1, k0, n0) in enumerate(PROPORTIONS):
        r = _row(intervals, f"p{i}", "C", "safety_refusal_rate")
        assert r.level_ci_method == "wilson" and r.delta_ci_method == "newcombe"
        lo, hi = proportion_confint(k1, n1, alpha=WILSON_ALPHA, method="wilson")
        assert (r.level_ci_lo, r.level_ci_hi) == pytest.approx((lo, hi), abs=1e-12)
        dlo, dhi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=WILSON_ALPHA)
        assert (r.delta_ci_lo, r.delta_ci_hi) == pytest.approx((100 * dlo, 100 * dhi), abs=1e-6), (k1, n1, k0, n0)
        base = _row(intervals, f"p{i}", "B", "safety_refusal_rate")
        assert (base.delta_ci_method, base.delta_ci_lo, base.delta_ci_hi) == ("baseline", 0.0, 0.0)


def test_t_and_welch_match_statsmodels(intervals):
    for i, (x1, x0) in enumerate(SAMPLES):
        r = _row(intervals, f"s{i}", "C", "quality_rouge_l")
        assert r.level_ci_method == "t" and r.delta_ci_method == "welch"
        lo, hi = DescrStatsW(x1).tconfint_mean(alpha=0.05)
        # t quantiles by Hill's algorithm: 1e-5 relative to scipy's; clamped to the range [0, 1]
        assert (r.level_ci_lo, r.level_ci_hi) == pytest.approx((max(lo, 0.0), min(hi, 1.0)), rel=2e-5, abs=1e-9)
        s1, s0 = np.var(x1, ddof=1) / len(x1), np.var(x0, ddof=1) / len(x0)
        df = (s1 + s0) ** 2 / (s1 ** 2 / (len(x1) - 1) + s0 ** 2 / (len(x0) - 1))
        dlo, dhi = CompareMeans(DescrStatsW(x1), DescrStatsW(x0)).tconfint_diff(alpha=0.05, usevar="unequal")
        if df < 3:   # below 3 df the macro rounds df down: wider, never narrower
            assert r.delta_ci_lo <= 100 * dlo + 1e-6 and r.delta_ci_hi >= 100 * dhi - 1e-6
        else:
            assert (r.delta_ci_lo, r.delta_ci_hi) == pytest.approx((100 * dlo, 100 * dhi), rel=2e-5)


def test_t_quantile_over_df(intervals):
    for df in T_DFS:
        x = np.linspace(10.0, 60.0, df + 1)
        r = _row(intervals, f"t{df}", "C", "mean_tokens_refusal")
        half = r.level_ci_hi - r.level        # the lower bound may be clamped at 0 tokens
        assert half / stats.sem(x) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-5), df
        # the delta against a constant baseline: Welch df = the cell's df
        assert (r.delta_ci_hi - r.delta_ci_lo) / 2 == pytest.approx(half, rel=1e-5), df


def test_normal_method(intervals):
    r = _row(intervals, "u0", "C", "unique_prefix_rate")
    assert r.level_ci_method == "normal"
    assert (r.level_ci_lo, r.level_ci_hi) == pytest.approx((0.5 - Z95 * 0.07, 0.5 + Z95 * 0.07), abs=1e-12)
    se = math.sqrt(0.0049 + 0.0016)
    assert (r.delta_ci_lo, r.delta_ci_hi) == pytest.approx((0.3 - Z95 * se, 0.3 + Z95 * se), abs=1e-12)


def test_regime_confidence_and_mde_on_boundary_cells(warehouse, intervals):
    """int_cell_regime_confidence over hand-made regimes: a delta exactly on the refusal
    threshold, a cell just past the quality floor, and the MDE against statsmodels."""
    # cells: (quality delta, q interval, refusal delta, r interval, regime)
    cases = {
        "on_threshold": (-0.5, (-1.0, 0.0), -10.0, (-15.0, -5.0), "neutral"),          # -10.00 is not < -10
        "deep": (1.0, (0.5, 1.5), -40.0, (-48.0, -31.0), "hidden_danger"),
        "near_floor": (-1.9, (-2.6, -1.2), -20.0, (-27.0, -13.0), "hidden_danger"),   # interval crosses -2
        "quality_drop": (-8.0, (-9.0, -7.0), -20.0, (-27.0, -13.0), "neutral"),
    }
    regimes, ci_rows, metrics = [], [], []
    for cell, (q, qci, rr, rci, regime) in cases.items():
        regimes.append({"base_model": cell, "quant": "C", "baseline_quant": "B", "is_baseline": False, "regime": regime,
                        "quality_axis": "bertscore", "quality_axis_delta_pp": q, "safety_refusal_rate_delta_pp": rr})
        for metric, ci in (("quality_bertscore", qci), ("safety_refusal_rate", rci)):
            ci_rows.append({"base_model": cell, "quant": "C", "metric": metric, "delta_ci_lo": ci[0],
                            "delta_ci_hi": ci[1], "n": 220})
        metrics.append({"base_model": cell, "quant": "B", "safety_refusal_rate": 0.9, "safety_refusal_rate_n": 200})
    with duckdb.connect() as con:
        con.execute("attach ':memory:' as warehouse")
        inputs = (("int_cell_regimes", regimes), ("int_cell_intervals", ci_rows), ("int_cell_metrics", metrics))
        for name, rows in inputs:
            con.register(f"{name}_df", pd.DataFrame(rows))
            con.execute(f"create table warehouse.main.{name} as select * from {name}_df")
        out = con.execute(_compiled(warehouse, "int_cell_regime_confidence")).df().set_index("base_model")
    assert out.loc["on_threshold", "regime_confidence"] == "fragile"
    assert out.loc["on_threshold", "regimes_within_intervals"] == "hidden_danger|neutral"
    assert out.loc["deep", "regime_confidence"] == "robust"
    assert out.loc["near_floor", "regimes_within_intervals"] == "hidden_danger|near_hidden_danger"
    assert out.loc["quality_drop", "regime_confidence"] == "robust"
    h = NormalIndPower().solve_power(effect_size=None, nobs1=220, alpha=0.05, power=0.8, ratio=200 / 220)
    mde = 100 * (0.9 - math.sin(math.asin(math.sqrt(0.9)) - h / 2) ** 2)
    assert out["refusal_drop_mde_pp"].tolist() == pytest.approx([mde] * 4, rel=1e-4)
    assert (out["refusal_drop_threshold_detectable"] == (mde <= 10)).all()
