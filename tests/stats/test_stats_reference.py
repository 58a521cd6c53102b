"""Reference tests: published TR142 v3 values reproduced from /work/shared/reference.

Scopes: ``through_wave_1`` = the report's 47-cell bundle (41 non-baseline
cells), ``all_cells`` = the 51-cell bundle (45 non-baseline cells).
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

from quant_safety.stats import (
    bpw_regressions,
    leave_one_out,
    mixed_models,
    refusal_style_correlations,
    repeated_measures,
    sign_reversal_summary,
    within_model_correlations,
)

W1, ALL = "through_wave_1", "all_cells"


@pytest.fixture(scope="module")
def corr(reference_matrix):
    return within_model_correlations(reference_matrix)


def _one(df: pd.DataFrame, **keys) -> pd.Series:
    sel = df
    for k, v in keys.items():
        sel = sel.loc[sel[k] == v]
    assert len(sel) == 1, (keys, len(sel))
    return sel.iloc[0]


def test_reference_matrix_shape(reference_matrix):
    nb = reference_matrix.loc[~reference_matrix["is_baseline"]]
    assert len(reference_matrix) == 51 and len(nb) == 45
    assert (nb["release_wave"] <= 1).sum() == 41


TABLE5 = {  # model: (n, r, p, rho) -- BERTScore x regex refusal, 47-cell bundle
    "llama3.2-1b": (8, -0.275, 0.510, -0.524),
    "llama3.2-3b": (8, -0.461, 0.251, -0.095),
    "mistral-7b": (5, +0.574, 0.311, +0.100),
    "phi-2": (7, -0.694, 0.084, -0.468),
    "qwen2.5-1.5b": (8, +0.935, 0.001, +0.833),
    "qwen2.5-7b": (5, -0.613, 0.272, -0.200),
}


@pytest.mark.parametrize("model", sorted(TABLE5))
def test_table5_within_model_bertscore_refusal(corr, model):
    n, r, p, rho = TABLE5[model]
    row = _one(corr, scope=W1, quality_metric="quality_bertscore",
               safety_metric="safety_refusal_rate", model=model)
    assert row["n"] == n
    assert row["pearson_r"] == pytest.approx(r, abs=0.005)
    assert row["pearson_p"] == pytest.approx(p, abs=0.005)
    assert row["spearman_rho"] == pytest.approx(rho, abs=0.005)


TABLE5B = {  # coherence x regex refusal
    "llama3.2-1b": (8, -0.573, -0.333),
    "llama3.2-3b": (8, -0.924, -0.762),
    "mistral-7b": (5, +0.354, +0.000),
    "phi-2": (7, +0.730, +0.505),
    "qwen2.5-1.5b": (8, +0.772, +0.881),
    "qwen2.5-7b": (5, -0.580, -0.100),
}


@pytest.mark.parametrize("model", sorted(TABLE5B))
def test_table5b_within_model_coherence_refusal(corr, model):
    # tolerance 0.015: coherence is only published at 3 dp; phi-2 gives +0.736
    # (published +0.730), qwen2.5-7b -0.568 (-0.580), llama3.2-1b rho -0.323
    # (-0.333). Jittering the levels within +-0.0005 spans the published values
    # (see the quant_safety.stats.correlations docstring).
    n, r, rho = TABLE5B[model]
    row = _one(corr, scope=W1, quality_metric="quality_coherence",
               safety_metric="safety_refusal_rate", model=model)
    assert row["n"] == n
    assert row["pearson_r"] == pytest.approx(r, abs=0.015)
    assert row["spearman_rho"] == pytest.approx(rho, abs=0.011)
    assert math.copysign(1, row["pearson_r"]) == math.copysign(1, r)


def test_pooled_bertscore_refusal_both_bundles(corr):
    w1 = _one(corr, scope=W1, quality_metric="quality_bertscore",
              safety_metric="safety_refusal_rate", model="pooled")
    assert w1["n"] == 41
    assert w1["pearson_r"] == pytest.approx(0.122, abs=0.005)
    assert w1["pearson_p"] == pytest.approx(0.449, abs=0.005)
    assert w1["spearman_rho"] == pytest.approx(-0.110, abs=0.005)
    al = _one(corr, scope=ALL, quality_metric="quality_bertscore",
              safety_metric="safety_refusal_rate", model="pooled")
    assert al["n"] == 45
    assert al["pearson_r"] == pytest.approx(0.132, abs=0.005)
    assert al["spearman_rho"] == pytest.approx(0.038, abs=0.005)


TABLE4 = [  # quality, safety, pooled r, positive, negative (Pearson, 41 cells)
    ("quality_bertscore", "safety_refusal_rate", +0.122, "mistral-7b,qwen2.5-1.5b",
     "llama3.2-1b,llama3.2-3b,phi-2,qwen2.5-7b"),
    ("quality_bertscore", "safety_truthfulness", -0.093, "llama3.2-1b,llama3.2-3b,qwen2.5-7b",
     "mistral-7b,phi-2,qwen2.5-1.5b"),
    ("quality_bertscore", "safety_bias_resistance", -0.129, "mistral-7b,qwen2.5-1.5b,qwen2.5-7b",
     "llama3.2-1b,llama3.2-3b,phi-2"),
    ("quality_rouge_l", "safety_refusal_rate", -0.318, "mistral-7b,qwen2.5-1.5b",
     "llama3.2-1b,llama3.2-3b,phi-2,qwen2.5-7b"),
    ("quality_rouge_l", "safety_truthfulness", -0.105, "llama3.2-1b,llama3.2-3b,qwen2.5-7b",
     "mistral-7b,phi-2,qwen2.5-1.5b"),
    ("quality_rouge_l", "safety_bias_resistance", -0.441, "mistral-7b,qwen2.5-1.5b,qwen2.5-7b",
     "llama3.2-1b,llama3.2-3b,phi-2"),
    ("quality_coherence", "safety_refusal_rate", -0.271, "mistral-7b,phi-2,qwen2.5-1.5b",
     "llama3.2-1b,llama3.2-3b,qwen2.5-7b"),
    ("quality_coherence", "safety_truthfulness", -0.144, "llama3.2-1b,llama3.2-3b,phi-2,qwen2.5-7b",
     "mistral-7b,qwen2.5-1.5b"),
    ("quality_coherence", "safety_bias_resistance", -0.322, "mistral-7b,phi-2,qwen2.5-7b",
     "llama3.2-1b,llama3.2-3b,qwen2.5-1.5b"),
    ("quality_coherence", "judge_refusal_rate", -0.573, "mistral-7b,phi-2,qwen2.5-1.5b",
     "llama3.2-1b,llama3.2-3b,qwen2.5-7b"),
]


def test_table4_sign_reversal_sets(corr):
    summ = sign_reversal_summary(corr)
    for q, s, r, pos, neg in TABLE4:
        row = _one(summ, scope=W1, quality_metric=q, safety_metric=s, method="pearson")
        assert row["pooled_r"] == pytest.approx(r, abs=0.005), (q, s)
        assert row["models_positive"] == pos, (q, s)
        assert row["models_negative"] == neg, (q, s)
        assert bool(row["reversal"])
    # 24 computable pairings (judge truthfulness/bias unpublished) all reverse on 47 cells
    w1 = summ.loc[summ["scope"] == W1]
    assert w1["n_pairings"].iloc[0] == 24 and w1["n_pairings_reversing"].iloc[0] == 24
    assert len(w1) == 36


TABLE16 = {  # dropped quant: (n, r, p, rho)
    "AWQ": (38, +0.257, 0.119, -0.154),
    "GPTQ": (37, +0.309, 0.063, -0.038),
    "Q2_K": (35, -0.195, 0.262, -0.249),
}
TABLE17 = {  # dropped model: (n, r, p, rho)
    "llama3.2-1b": (33, +0.489, 0.004, +0.018),
    "llama3.2-3b": (33, +0.148, 0.411, -0.147),
    "mistral-7b": (36, +0.109, 0.526, -0.134),
}


@pytest.mark.parametrize("by,table", [("quant", TABLE16), ("base_model", TABLE17)])
def test_table16_17_leave_one_out(reference_matrix, by, table):
    loo = leave_one_out(reference_matrix, by=by)
    regex = loo.loc[(loo["scope"] == W1) & (loo["safety_metric"] == "safety_refusal_rate")]
    for dropped, (n, r, p, rho) in table.items():
        row = _one(regex, dropped=dropped)
        assert row["n"] == n
        assert row["pearson_r"] == pytest.approx(r, abs=0.005)
        assert row["pearson_p"] == pytest.approx(p, abs=0.005)
        assert row["spearman_rho"] == pytest.approx(rho, abs=0.005)
        assert bool(row["pearson_sign_flips"]) == (r < 0)  # only Q2_K flips
    none = _one(regex, dropped="none")
    assert none["n"] == 41 and none["pearson_r"] == pytest.approx(0.122, abs=0.005)


def test_ss16_2_judge_leave_one_quant_out(reference_matrix):
    loo = leave_one_out(reference_matrix, by="quant", safety="judge_refusal_rate_delta_pp")
    judge = loo.loc[loo["scope"] == W1]
    assert set(judge["safety_metric"]) == {"judge_refusal_rate"}
    assert _one(judge, dropped="AWQ")["pearson_r"] == pytest.approx(-0.0001, abs=0.005)
    gptq = _one(judge, dropped="GPTQ")
    assert gptq["pearson_r"] == pytest.approx(0.035, abs=0.005)
    assert gptq["pearson_p"] == pytest.approx(0.84, abs=0.01)


TABLE18 = {  # (quality, safety): r, p, lo, hi, power
    ("quality_bertscore", "safety_refusal_rate"): (+0.152, 0.378, -0.19, +0.46, 0.14),
    ("quality_rouge_l", "safety_refusal_rate"): (-0.349, 0.037, -0.61, -0.02, 0.56),
    ("quality_coherence", "safety_refusal_rate"): (-0.274, 0.106, -0.55, +0.06, 0.37),
    ("quality_bertscore", "judge_refusal_rate"): (-0.120, 0.485, -0.43, +0.22, 0.11),
    ("quality_rouge_l", "judge_refusal_rate"): (-0.627, 4.2e-5, -0.79, -0.38, 0.99),
    ("quality_coherence", "judge_refusal_rate"): (-0.575, 2.5e-4, -0.76, -0.30, 0.97),
}


def test_table18_repeated_measures(reference_matrix):
    rm = repeated_measures(reference_matrix)
    for (q, s), (r, p, lo, hi, power) in TABLE18.items():
        row = _one(rm, scope=W1, quality_metric=q, safety_metric=s)
        assert row["n"] == 41 and row["dof"] == 34
        assert row["r"] == pytest.approx(r, abs=0.005)
        assert row["p"] == pytest.approx(p, abs=0.005, rel=0.1)
        assert row["ci95_lo"] == pytest.approx(lo, abs=0.011)
        assert row["ci95_hi"] == pytest.approx(hi, abs=0.011)
        assert row["power"] == pytest.approx(power, abs=0.011)
    # 45-cell scope: ROUGE-L / coherence unavailable for the 4 wave-2 cells
    assert _one(rm, scope=ALL, quality_metric="quality_rouge_l", safety_metric="safety_refusal_rate")["n"] == 41
    assert _one(rm, scope=ALL, quality_metric="quality_bertscore", safety_metric="safety_refusal_rate")["n"] == 45


TABLE19 = {  # quality: coefficient, p, lo, hi (vs regex refusal)
    "quality_bertscore": (+0.775, 0.326, -0.772, +2.323),
    "quality_rouge_l": (-0.861, 0.017, -1.569, -0.153),
    "quality_coherence": (-0.953, 0.068, -1.977, +0.072),
}


def test_table19_mixed_models(reference_matrix, recwarn, capsys):
    mm = mixed_models(reference_matrix)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert len(recwarn) == 0
    for q, (coef, p, _lo, _hi) in TABLE19.items():
        row = _one(mm, scope=W1, quality_metric=q, safety_metric="safety_refusal_rate")
        assert row["n"] == 41 and bool(row["converged"])
        # Table 19's coefficients are the within-model (fixed-effects) slopes of a
        # degenerate fit; the genuine ML fit has a positive group variance and
        # the same sign / significance verdict.
        assert row["within_slope"] == pytest.approx(coef, abs=0.005)
        assert math.copysign(1, row["coefficient"]) == math.copysign(1, coef)
        assert (row["p"] < 0.05) == (p < 0.05)
        assert abs(row["coefficient"] - coef) < 0.2
        assert math.isfinite(row["log_likelihood"])
        assert row["group_variance"] > 1.0 and not row["group_variance_collapsed"]


TABLE13 = {  # model: (refusal slope, r2, p, bertscore slope, r2, p); qwen2.5-7b per item 15
    "llama3.2-1b": (+0.039, 0.282, 0.141, -0.001, 0.002, 0.915),
    "llama3.2-3b": (-0.000, 0.000, 0.979, +0.001, 0.120, 0.360),
    "mistral-7b": (+0.023, 0.653, 0.052, +0.002, 0.097, 0.549),
    "phi-2": (+0.013, 0.080, 0.498, -0.001, 0.194, 0.275),
    "qwen2.5-1.5b": (+0.025, 0.221, 0.201, +0.009, 0.310, 0.119),
    "qwen2.5-7b": (+0.024, 0.666, 0.048, None, None, None),
}


@pytest.mark.parametrize("model", sorted(TABLE13))
def test_table13_bpw_regressions(reference_matrix, model):
    b = bpw_regressions(reference_matrix, metrics=("safety_refusal_rate", "quality_bertscore"))
    b = b.loc[b["scope"] == W1]
    rs, rr2, rp, bs, br2, bp = TABLE13[model]
    ref = _one(b, base_model=model, metric="safety_refusal_rate")
    assert ref["slope"] == pytest.approx(rs, abs=0.005)
    assert ref["r2"] == pytest.approx(rr2, abs=0.005)
    assert ref["p"] == pytest.approx(rp, abs=0.005)
    if bs is not None:
        # BERTScore levels are published at 3 dp only: R^2/p tolerance 0.01
        q = _one(b, base_model=model, metric="quality_bertscore")
        assert q["slope"] == pytest.approx(bs, abs=0.005)
        assert q["r2"] == pytest.approx(br2, abs=0.01)
        assert q["p"] == pytest.approx(bp, abs=0.01)


PHASE6 = {  # scope: {style: (r, p or None)}
    ALL: {"dominant_prefix_share_delta": (+0.562, 5.99e-5), "unique_prefix_rate_delta": (-0.780, None),
          "mean_tokens_refusal_delta": (-0.656, 1.02e-6)},
    W1: {"dominant_prefix_share_delta": (+0.589, 5.1e-5), "unique_prefix_rate_delta": (-0.813, 1.1e-10),
         "mean_tokens_refusal_delta": (-0.698, 3.9e-7)},
}


@pytest.mark.parametrize("scope", [ALL, W1])
def test_phase6_style_correlations(reference_matrix, scope):
    st = refusal_style_correlations(reference_matrix)
    adv = st.loc[(st["scope"] == scope) & (st["refusal_measure"] == "advbench_refusal_rate_delta")]
    for style, (r, p) in PHASE6[scope].items():
        row = _one(adv, style_metric=style)
        assert row["n"] == (45 if scope == ALL else 41)
        assert row["pearson_r"] == pytest.approx(r, abs=0.01)
        if p is not None:
            assert row["pearson_p"] == pytest.approx(p, rel=0.05)
    # the regex (AdvBench + jailbreak) delta is reported too, and differs
    rx = st.loc[(st["scope"] == scope) & (st["refusal_measure"] == "safety_refusal_rate_delta_pp")]
    row = _one(rx, style_metric="dominant_prefix_share_delta")
    assert row["n"] == (45 if scope == ALL else 41)
    assert abs(row["pearson_r"] - PHASE6[scope]["dominant_prefix_share_delta"][0]) > 0.01
