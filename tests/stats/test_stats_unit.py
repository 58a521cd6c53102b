"""Unit tests of quant_safety.stats on small synthetic matrices.

Expected values come from independent routes (numpy closed forms,
numpy.linalg.lstsq, the t distribution), never from the function under test.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from quant_safety.stats import (
    bpw_regressions,
    leave_one_out,
    mixed_models,
    refusal_style_correlations,
    repeated_measures,
    scope_names,
    sign_reversal_summary,
    within_model_correlations,
)


# ---------------------------------------------------------------- hand formulas
def pearson_hand(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx * dy).sum() / math.sqrt((dx * dx).sum() * (dy * dy).sum()))


def p_from_r(r, dof):
    t = r * math.sqrt(dof / (1 - r * r))
    return float(2 * sst.t.sf(abs(t), dof))


def ranks_no_ties(v):
    v = np.asarray(v, float)
    out = np.empty(len(v))
    out[np.argsort(v)] = np.arange(1, len(v) + 1)
    return out


# ---------------------------------------------------------------- fixtures
MODELS = ("ma", "mb", "mc")
QUANTS = ("q1", "q2", "q3", "q4", "q5")


def make_matrix() -> pd.DataFrame:
    """2 models x (baseline + 5 cells); q5 is wave 2, the rest wave 1."""
    rng = np.random.default_rng(42)
    rows = []
    for _mi, model in enumerate(MODELS):
        rows.append({"base_model": model, "family": "F", "quant": "base", "bpw": 16.0,
                     "is_baseline": True, "release_wave": 1})
        for qi, q in enumerate(QUANTS):
            rows.append({"base_model": model, "family": "F", "quant": q, "bpw": 8.0 - qi * 1.3,
                         "is_baseline": False, "release_wave": 2 if q == "q5" else 1})
    m = pd.DataFrame(rows)
    for col in ["quality_bertscore", "quality_rouge_l", "quality_coherence", "safety_refusal_rate",
                "safety_truthfulness", "safety_bias_resistance", "judge_refusal_rate",
                "judge_truthfulness", "judge_bias_resistance"]:
        m[col] = rng.uniform(0.2, 0.9, len(m))
        m[col + "_delta_pp"] = np.where(m["is_baseline"], 0.0, rng.normal(0, 5, len(m)))
    for col in ["dominant_prefix_share_delta", "unique_prefix_rate_delta", "prefix_entropy_norm_delta",
                "mean_tokens_refusal_delta", "mean_chars_refusal_delta", "hard_refusal_rate_delta",
                "advbench_refusal_rate_delta"]:
        m[col] = np.where(m["is_baseline"], np.nan, rng.normal(0, 1, len(m)))
    return m


@pytest.fixture()
def matrix():
    return make_matrix()


def nb(m, scope="all_cells"):
    out = m.loc[~m["is_baseline"]]
    if scope != "all_cells":
        out = out.loc[out["release_wave"] <= int(scope.rsplit("_", 1)[1])]
    return out


# ---------------------------------------------------------------- scopes
def test_scope_names_from_waves(matrix):
    assert scope_names(matrix) == ["all_cells", "through_wave_1"]
    m3 = matrix.copy()
    m3.loc[m3["quant"] == "q4", "release_wave"] = 3
    assert scope_names(m3) == ["all_cells", "through_wave_1", "through_wave_2"]
    assert scope_names(matrix.drop(columns="release_wave")) == ["all_cells"]
    single = matrix.assign(release_wave=1)
    assert scope_names(single) == ["all_cells"]


# ---------------------------------------------------------------- within-model
def test_within_model_pearson_spearman_by_hand(matrix):
    c = within_model_correlations(matrix)
    assert list(c.columns)[:5] == ["scope", "quality_metric", "safety_metric", "safety_source", "model"]
    # 2 scopes x 18 pairs x (pooled + 3 models)
    assert len(c) == 2 * 18 * 4
    for scope in ("all_cells", "through_wave_1"):
        for model in ("pooled",) + MODELS:
            d = nb(matrix, scope)
            if model != "pooled":
                d = d.loc[d["base_model"] == model]
            x, y = d["quality_rouge_l_delta_pp"], d["judge_truthfulness_delta_pp"]
            row = c.loc[(c["scope"] == scope) & (c["model"] == model)
                        & (c["quality_metric"] == "quality_rouge_l")
                        & (c["safety_metric"] == "judge_truthfulness")].iloc[0]
            r = pearson_hand(x, y)
            rho = pearson_hand(ranks_no_ties(x), ranks_no_ties(y))
            assert row["n"] == len(d)
            assert row["pearson_r"] == pytest.approx(r, abs=1e-12)
            assert row["pearson_p"] == pytest.approx(p_from_r(r, len(d) - 2), rel=1e-9)
            assert row["spearman_rho"] == pytest.approx(rho, abs=1e-12)
            assert row["spearman_p"] == pytest.approx(p_from_r(rho, len(d) - 2), rel=1e-9)
            assert row["safety_source"] == "judge"


def test_within_model_order_is_deterministic(matrix):
    a = within_model_correlations(matrix)
    b = within_model_correlations(matrix.sample(frac=1.0, random_state=1))
    pd.testing.assert_frame_equal(a, b)
    first = a.groupby(["scope", "quality_metric", "safety_metric"], sort=False)["model"].first()
    assert set(first) == {"pooled"}
    assert a["scope"].iloc[0] == "all_cells"


def test_within_model_nan_pairs_dropped_and_flags(matrix):
    m = matrix.copy()
    sel = (m["base_model"] == "ma") & m["quant"].isin(["q1", "q2", "q3"])
    m.loc[sel, "judge_bias_resistance_delta_pp"] = np.nan        # ma keeps 2 cells -> n < 3
    m.loc[m["base_model"] == "mb", "judge_refusal_rate_delta_pp"] = 7.0  # constant
    c = within_model_correlations(m)
    row = c.loc[(c["scope"] == "all_cells") & (c["model"] == "ma")
                & (c["quality_metric"] == "quality_bertscore")
                & (c["safety_metric"] == "judge_bias_resistance")].iloc[0]
    assert row["n"] == 2 and row["flag"] == "n_lt_3" and math.isnan(row["pearson_r"])
    pooled = c.loc[(c["scope"] == "all_cells") & (c["model"] == "pooled")
                   & (c["quality_metric"] == "quality_bertscore")
                   & (c["safety_metric"] == "judge_bias_resistance")].iloc[0]
    assert pooled["n"] == 12
    d = nb(m).dropna(subset=["judge_bias_resistance_delta_pp"])
    assert pooled["pearson_r"] == pytest.approx(
        pearson_hand(d["quality_bertscore_delta_pp"], d["judge_bias_resistance_delta_pp"]))
    const = c.loc[(c["model"] == "mb") & (c["safety_metric"] == "judge_refusal_rate")]
    assert (const["flag"] == "constant_input").all() and const["pearson_r"].isna().all()


def test_within_model_missing_column(matrix):
    c = within_model_correlations(matrix.drop(columns="judge_truthfulness_delta_pp"))
    sub = c.loc[c["safety_metric"] == "judge_truthfulness"]
    assert (sub["n"] == 0).all() and sub["pearson_r"].isna().all()


# ---------------------------------------------------------------- sign reversal
def _corr_frame(values):
    rows = []
    for (q, s, model), (r, rho, n) in values.items():
        rows.append({"scope": "all_cells", "quality_metric": q, "safety_metric": s,
                     "safety_source": "regex", "model": model, "is_pooled": model == "pooled",
                     "n": n, "pearson_r": r, "pearson_p": 0.5, "spearman_rho": rho,
                     "spearman_p": 0.5, "flag": ""})
    return pd.DataFrame(rows)


def test_sign_reversal_summary_hand_case():
    corr = _corr_frame({
        ("qa", "sa", "pooled"): (0.1, -0.2, 12),
        ("qa", "sa", "m1"): (0.5, 0.4, 4),
        ("qa", "sa", "m2"): (-0.3, 0.2, 4),
        ("qa", "sa", "m3"): (0.2, 0.0, 4),
        ("qa", "sb", "pooled"): (0.3, 0.3, 12),
        ("qa", "sb", "m1"): (0.5, 0.4, 4),
        ("qa", "sb", "m2"): (0.3, -0.1, 4),
        ("qa", "sb", "m3"): (np.nan, np.nan, 2),
    })
    s = sign_reversal_summary(corr)
    assert list(s[["safety_metric", "method"]].itertuples(index=False, name=None)) == [
        ("sa", "pearson"), ("sa", "spearman"), ("sb", "pearson"), ("sb", "spearman")]
    a_p = s.iloc[0]
    assert a_p["models_positive"] == "m1,m3" and a_p["models_negative"] == "m2"
    assert a_p["n_models"] == 3 and a_p["reversal"] and a_p["pooled_r"] == 0.1
    a_s = s.iloc[1]  # rho 0.0 is neither positive nor negative
    assert a_s["models_positive"] == "m1,m2" and a_s["models_negative"] == "" and not a_s["reversal"]
    assert a_s["pooled_r"] == -0.2
    b_s = s.iloc[3]
    assert b_s["models_negative"] == "m2" and b_s["n_models"] == 2 and b_s["reversal"]
    assert (s["n_pairings"] == 4).all() and (s["n_pairings_reversing"] == 2).all()


# ---------------------------------------------------------------- leave-one-out
@pytest.mark.parametrize("by", ["quant", "base_model"])
def test_leave_one_out_by_hand(matrix, by):
    loo = leave_one_out(matrix, by=by)
    assert set(loo["safety_metric"]) == {"safety_refusal_rate", "judge_refusal_rate"}
    levels = sorted(nb(matrix)[by].unique())
    for scope in ("all_cells", "through_wave_1"):
        sub = loo.loc[(loo["scope"] == scope) & (loo["safety_metric"] == "safety_refusal_rate")]
        scope_levels = sorted(nb(matrix, scope)[by].unique())
        assert list(sub["dropped"]) == ["none"] + scope_levels
        d = nb(matrix, scope)
        ref = pearson_hand(d["quality_bertscore_delta_pp"], d["safety_refusal_rate_delta_pp"])
        for _, row in sub.iterrows():
            dd = d if row["dropped"] == "none" else d.loc[d[by] != row["dropped"]]
            r = pearson_hand(dd["quality_bertscore_delta_pp"], dd["safety_refusal_rate_delta_pp"])
            assert row["n"] == len(dd)
            assert row["pearson_r"] == pytest.approx(r, abs=1e-12)
            assert row["pearson_p"] == pytest.approx(p_from_r(r, len(dd) - 2), rel=1e-9)
            assert bool(row["pearson_sign_flips"]) == (np.sign(r) != np.sign(ref))
    assert len(levels) >= 2


def test_leave_one_out_sign_flip_constructed():
    # pooled r > 0 only because of the 'x' quant; dropping it flips the sign
    rows = [{"base_model": "m", "quant": "base", "is_baseline": True, "release_wave": 1,
             "quality_bertscore_delta_pp": 0.0, "safety_refusal_rate_delta_pp": 0.0}]
    pts = [("a", 1, 3), ("b", 2, 2), ("c", 3, 1), ("x", 20, 20)]
    for q, xq, ys in pts:
        rows.append({"base_model": "m", "quant": q, "is_baseline": False, "release_wave": 1,
                     "quality_bertscore_delta_pp": float(xq), "safety_refusal_rate_delta_pp": float(ys)})
    loo = leave_one_out(pd.DataFrame(rows), by="quant", safety="safety_refusal_rate_delta_pp")
    assert list(loo["dropped"]) == ["none", "a", "b", "c", "x"]
    x_row = loo.loc[loo["dropped"] == "x"].iloc[0]
    assert x_row["pearson_r"] == pytest.approx(-1.0) and x_row["pearson_sign_flips"]
    assert not loo.loc[loo["dropped"] == "a", "pearson_sign_flips"].iloc[0]
    assert loo.loc[loo["dropped"] == "none", "pearson_r"].iloc[0] > 0


# ---------------------------------------------------------------- repeated measures
def rmcorr_hand(d, x, y, subject):
    """ANCOVA route: OLS y ~ subject dummies + x via lstsq; r = sign(b) sqrt(SSx / (SSx + SSres))."""
    subs = sorted(d[subject].unique())
    X_sub = np.column_stack([(d[subject] == s).astype(float) for s in subs])
    X = np.column_stack([X_sub, d[x].to_numpy(float)])
    yv = d[y].to_numpy(float)
    beta, *_ = np.linalg.lstsq(X, yv, rcond=None)
    ss_res = float(((yv - X @ beta) ** 2).sum())
    b0, *_ = np.linalg.lstsq(X_sub, yv, rcond=None)
    ss_sub_only = float(((yv - X_sub @ b0) ** 2).sum())
    ss_x = ss_sub_only - ss_res
    r = math.copysign(math.sqrt(ss_x / (ss_x + ss_res)), beta[-1])
    dof = len(d) - len(subs) - 1
    f = ss_x / (ss_res / dof)
    p = float(sst.f.sf(f, 1, dof))
    return r, p, dof


def test_repeated_measures_by_hand(matrix):
    rm = repeated_measures(matrix)
    assert len(rm) == 2 * 3 * 2
    for scope in ("all_cells", "through_wave_1"):
        d = nb(matrix, scope)
        for q in ("quality_bertscore", "quality_coherence"):
            for s in ("safety_refusal_rate", "judge_refusal_rate"):
                r, p, dof = rmcorr_hand(d, q + "_delta_pp", s + "_delta_pp", "base_model")
                row = rm.loc[(rm["scope"] == scope) & (rm["quality_metric"] == q)
                             & (rm["safety_metric"] == s)].iloc[0]
                assert row["r"] == pytest.approx(r, abs=1e-9)
                assert row["p"] == pytest.approx(p, rel=1e-6)
                assert row["dof"] == dof and row["n"] == len(d) and row["n_subjects"] == 3
                assert row["ci95_lo"] <= row["r"] <= row["ci95_hi"]


def test_repeated_measures_degenerate(matrix):
    m = matrix.copy()
    m.loc[m["quant"].isin(["q2", "q3", "q4", "q5"]), "quality_rouge_l_delta_pp"] = np.nan
    rm = repeated_measures(m)
    row = rm.loc[(rm["scope"] == "all_cells") & (rm["quality_metric"] == "quality_rouge_l")].iloc[0]
    assert row["n"] == 0 and math.isnan(row["r"]) and row["flag"] == "n_lt_3"
    two = repeated_measures(matrix.loc[matrix["base_model"] != "mc"])
    assert (two["flag"] == "n_subjects_lt_3").all() and two["r"].isna().all()


# ---------------------------------------------------------------- mixed models
def _mixed_data(offsets, noise_scale, seed=0, within=None):
    rng = np.random.default_rng(seed)
    rows = []
    for gi, off in enumerate(offsets):
        rows.append({"base_model": f"g{gi}", "quant": "base", "is_baseline": True, "release_wave": 1,
                     "quality_bertscore_delta_pp": 0.0, "safety_refusal_rate_delta_pp": 0.0})
        for k in range(6):
            xq = float(k - 2.5 + gi * 0.7)
            eps = within[k] if within is not None else rng.normal(0, noise_scale)
            rows.append({"base_model": f"g{gi}", "quant": f"q{k}", "is_baseline": False, "release_wave": 1,
                         "quality_bertscore_delta_pp": xq,
                         "safety_refusal_rate_delta_pp": off - 1.5 * xq + eps})
    return pd.DataFrame(rows)


def test_mixed_models_collapsed_variance_equals_ols():
    # identical residual pattern in every group and no group offsets: the ML
    # group variance is 0 and the slope is the OLS slope (numpy lstsq)
    pattern = [0.3, -0.2, 0.1, -0.4, 0.5, -0.3]
    m = _mixed_data([0.0, 0.0, 0.0, 0.0], 0, within=pattern)
    res = mixed_models(m, quality_metrics=("quality_bertscore",), safety_metrics=("safety_refusal_rate",))
    row = res.iloc[0]
    d = m.loc[~m["is_baseline"]]
    X = np.column_stack([np.ones(len(d)), d["quality_bertscore_delta_pp"]])
    beta, *_ = np.linalg.lstsq(X, d["safety_refusal_rate_delta_pp"].to_numpy(), rcond=None)
    assert row["n"] == 24 and row["n_groups"] == 4
    assert row["coefficient"] == pytest.approx(beta[1], abs=1e-3)
    assert row["group_variance_collapsed"] and row["group_variance"] < 1e-6


def test_mixed_models_large_group_variance_tends_to_within_slope(recwarn, capsys):
    m = _mixed_data([0.0, 40.0, -35.0, 80.0, 15.0], 0.5, seed=3)
    res = mixed_models(m, quality_metrics=("quality_bertscore",), safety_metrics=("safety_refusal_rate",))
    row = res.iloc[0]
    d = m.loc[~m["is_baseline"]]
    dx = d["quality_bertscore_delta_pp"] - d.groupby("base_model")["quality_bertscore_delta_pp"].transform("mean")
    dy = d["safety_refusal_rate_delta_pp"] - d.groupby("base_model")["safety_refusal_rate_delta_pp"].transform("mean")
    within = float((dx * dy).sum() / (dx * dx).sum())
    assert row["within_slope"] == pytest.approx(within, abs=1e-12)
    assert row["coefficient"] == pytest.approx(within, abs=0.01)
    assert row["group_variance"] > 100 and not row["group_variance_collapsed"]
    assert bool(row["converged"]) and row["ci95_lo"] < row["coefficient"] < row["ci95_hi"]
    out = capsys.readouterr()
    assert out.out == "" and out.err == "" and len(recwarn) == 0


def test_mixed_models_too_few(matrix):
    m = matrix.loc[matrix["base_model"] == "ma"]  # one group only
    res = mixed_models(m)
    assert (res["flag"] == "n_lt_3").all() and res["coefficient"].isna().all()


# ---------------------------------------------------------------- BPW regressions
def test_bpw_regressions_by_hand(matrix):
    b = bpw_regressions(matrix, metrics=("safety_refusal_rate", "quality_bertscore"))
    assert len(b) == 2 * 3 * 2
    for scope in ("all_cells", "through_wave_1"):
        for model in MODELS:
            d = matrix.loc[matrix["base_model"] == model]
            if scope != "all_cells":
                d = d.loc[d["release_wave"] <= 1]
            x, y = d["bpw"].to_numpy(), d["safety_refusal_rate"].to_numpy()
            X = np.column_stack([np.ones(len(x)), x])
            beta, *_ = np.linalg.lstsq(X, y, rcond=None)
            resid = y - X @ beta
            r2 = 1 - (resid ** 2).sum() / ((y - y.mean()) ** 2).sum()
            se = math.sqrt((resid ** 2).sum() / (len(x) - 2) / ((x - x.mean()) ** 2).sum())
            p = 2 * sst.t.sf(abs(beta[1] / se), len(x) - 2)
            row = b.loc[(b["scope"] == scope) & (b["base_model"] == model)
                        & (b["metric"] == "safety_refusal_rate")].iloc[0]
            assert row["n"] == len(x)  # baseline included
            assert row["slope"] == pytest.approx(beta[1], abs=1e-12)
            assert row["intercept"] == pytest.approx(beta[0], abs=1e-12)
            assert row["r2"] == pytest.approx(r2, abs=1e-12)
            assert row["p"] == pytest.approx(p, rel=1e-9)


def test_bpw_regressions_baseline_toggle_and_flags(matrix):
    b = bpw_regressions(matrix, metrics=("safety_refusal_rate",), include_baseline=False)
    row = b.loc[(b["scope"] == "all_cells") & (b["base_model"] == "ma")].iloc[0]
    assert row["n"] == 5 and not row["include_baseline"]
    m = matrix.copy()
    m.loc[m["base_model"] == "mb", "safety_refusal_rate"] = 0.5
    b2 = bpw_regressions(m, metrics=("safety_refusal_rate", "not_a_column"))
    assert b2.loc[b2["base_model"] == "mb"].set_index(["scope", "metric"]).loc[
        ("all_cells", "safety_refusal_rate"), "flag"] == "constant_input"
    assert (b2.loc[b2["metric"] == "not_a_column", "flag"] == "missing_column").all()


# ---------------------------------------------------------------- Phase-6 style
def test_refusal_style_correlations_by_hand(matrix):
    st = refusal_style_correlations(matrix)
    assert set(st["refusal_measure"]) == {"advbench_refusal_rate_delta", "safety_refusal_rate_delta_pp"}
    assert len(st) == 2 * 2 * 6
    for scope in ("all_cells", "through_wave_1"):
        d = nb(matrix, scope)
        for measure in ("advbench_refusal_rate_delta", "safety_refusal_rate_delta_pp"):
            for style in ("dominant_prefix_share_delta", "hard_refusal_rate_delta"):
                r = pearson_hand(d[style], d[measure])
                rho = pearson_hand(ranks_no_ties(d[style]), ranks_no_ties(d[measure]))
                row = st.loc[(st["scope"] == scope) & (st["refusal_measure"] == measure)
                             & (st["style_metric"] == style)].iloc[0]
                assert row["n"] == len(d)
                assert row["pearson_r"] == pytest.approx(r, abs=1e-12)
                assert row["spearman_rho"] == pytest.approx(rho, abs=1e-12)


def test_refusal_style_missing_column(matrix):
    st = refusal_style_correlations(matrix.drop(columns="mean_chars_refusal_delta"))
    sub = st.loc[st["style_metric"] == "mean_chars_refusal_delta"]
    assert (sub["flag"] == "missing_column").all() and (sub["n"] == 0).all()


def test_no_warnings_or_output_from_any_function(matrix, recwarn, capsys):
    m = matrix.copy()
    m.loc[m["base_model"] == "mb", "judge_refusal_rate_delta_pp"] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sign_reversal_summary(within_model_correlations(m))
        leave_one_out(m, by="base_model")
        repeated_measures(m)
        bpw_regressions(m)
        refusal_style_correlations(m)
    mixed_models(m)
    out = capsys.readouterr()
    assert out.out == "" and out.err == "" and len(recwarn) == 0
