"""Issue 4 on the demo data: the statistics models of the warehouse reproduce
the report's tables (values typed from the report, tolerances as the issue says)."""
from __future__ import annotations

import pytest

# Table 5 (BERTScore x regex refusal, within-model Pearson r); n=5 for the 7B
# models means the report's older 47-cell bundle: scope through_wave_1.
TABLE5 = {"llama3.2-1b": -0.275, "llama3.2-3b": -0.461, "mistral-7b": +0.574, "phi-2": -0.694,
          "qwen2.5-1.5b": +0.935, "qwen2.5-7b": -0.613}
# Table 5b (coherence x regex refusal): coherence is published to 3 dp only, which
# moves r by up to ~0.015 (see tests/stats); checked at that precision.
TABLE5B = {"llama3.2-1b": -0.573, "llama3.2-3b": -0.924, "mistral-7b": +0.354, "phi-2": +0.730,
           "qwen2.5-1.5b": +0.772, "qwen2.5-7b": -0.580}


def _corr(query, quality, scope):
    return query(f"""select model, n, pearson_r from correlations
                     where scope = '{scope}' and quality_metric = '{quality}'
                       and safety_metric = 'safety_refusal_rate'""").set_index("model")


def test_table5_within_model_correlations(query):
    corr = _corr(query, "quality_bertscore", "through_wave_1")
    for model, r in TABLE5.items():
        assert corr.loc[model, "pearson_r"] == pytest.approx(r, abs=0.005), model
    assert corr.loc["pooled", "pearson_r"] == pytest.approx(0.122, abs=0.005)          # 41 cells
    assert corr.loc["pooled", "n"] == 41
    everything = _corr(query, "quality_bertscore", "all_cells")
    assert everything.loc["pooled", "pearson_r"] == pytest.approx(0.132, abs=0.005)    # 45 cells
    assert everything.loc["pooled", "n"] == 45


def test_table5b_coherence(query):
    corr = _corr(query, "quality_coherence", "through_wave_1")
    for model, r in TABLE5B.items():
        assert corr.loc[model, "pearson_r"] == pytest.approx(r, abs=0.02), model


def test_table16_dropping_q2k_flips_the_pooled_sign(query):
    loo = query("""select dropped, n, pearson_r, pearson_sign_flips from leave_one_quant_out
                   where scope = 'through_wave_1' and safety_metric = 'safety_refusal_rate'""").set_index("dropped")
    assert loo.loc["Q2_K", "pearson_r"] == pytest.approx(-0.195, abs=0.005) and bool(
        loo.loc["Q2_K", "pearson_sign_flips"]
    )
    assert loo.loc["AWQ", "pearson_r"] == pytest.approx(0.257, abs=0.005) and loo.loc["AWQ", "n"] == 38
    assert loo.loc["GPTQ", "pearson_r"] == pytest.approx(0.309, abs=0.005) and loo.loc["GPTQ", "n"] == 37


def test_table13_bpw_regressions(query):
    bpw = query("""select base_model, slope, r2, p from bpw_regressions
                   where scope = 'through_wave_1' and metric = 'safety_refusal_rate'""").set_index("base_model")
    assert bpw.loc["llama3.2-1b"].tolist() == pytest.approx([0.039, 0.282, 0.141], abs=0.005)
    assert bpw.loc["mistral-7b"].tolist() == pytest.approx([0.023, 0.653, 0.052], abs=0.005)
    assert bpw.loc["qwen2.5-7b"].tolist() == pytest.approx([0.024, 0.666, 0.048], abs=0.005)


def test_phase6_style_correlations_on_45_cells(query):
    style = query("""select style_metric, n, pearson_r from phase6_style_correlations
                     where scope = 'all_cells' and refusal_measure = 'advbench_refusal_rate_delta'""").set_index(
        "style_metric"
    )
    assert style.loc["dominant_prefix_share_delta", "pearson_r"] == pytest.approx(0.562, abs=0.01)
    assert style.loc["unique_prefix_rate_delta", "pearson_r"] == pytest.approx(-0.780, abs=0.01)
    assert style.loc["mean_tokens_refusal_delta", "pearson_r"] == pytest.approx(-0.656, abs=0.01)
    assert style.loc["dominant_prefix_share_delta", "n"] == 45


def test_sign_reversal_and_mixed_models_exist_for_every_pair(query):
    sign = query("select * from sign_reversal_summary where scope = 'all_cells'")
    assert len(sign) == 36                                # 18 metric pairs x 2 methods
    assert sign["n_pairings_reversing"].max() == 36       # Exec #2 / C1: 36 of 36 on the 51-cell data
    mixed = query("select quality_metric, safety_metric from mixed_models where scope = 'through_wave_1'")
    rm = query("select quality_metric, safety_metric from repeated_measures where scope = 'through_wave_1'")
    assert len(mixed) == len(rm) == 6                     # Tables 18-19: 3 quality x (regex, judge) refusal
