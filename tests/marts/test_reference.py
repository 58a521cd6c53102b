"""Cell marts against the published reference values (skipped without /work/shared)."""
from __future__ import annotations


def test_regimes_equal_published(with_published):
    d = with_published
    assert d.published_regime.notna().all()
    bad = d.loc[d.regime != d.published_regime, ["base_model", "quant", "regime", "published_regime"]]
    assert bad.empty, bad.to_string()


def test_refusal_deltas_appendix_a(with_published):
    d = with_published[with_published.published_refusal_delta_pp.notna()]
    diff = (d.safety_refusal_rate_delta_pp - d.published_refusal_delta_pp).abs()
    assert (diff <= 0.01).all(), d.loc[diff > 0.01, ["base_model", "quant", "safety_refusal_rate_delta_pp"]]


def test_bertscore_deltas_appendix_a(with_published):
    d = with_published[with_published.published_bertscore_delta_pp.notna()]
    diff = (d.quality_bertscore_delta_pp - d.published_bertscore_delta_pp).abs()
    assert (diff <= 0.1).all(), d.loc[diff > 0.1, ["base_model", "quant", "quality_bertscore_delta_pp"]]


def test_regex_levels_equal_safety_wide(with_published):
    d = with_published
    for ours, pub in [("safety_refusal_rate", "regex_refusal_rate"), ("safety_truthfulness", "regex_truthfulness"),
                      ("safety_bias_resistance", "regex_bias_resistance")]:
        assert (d[ours] - d[pub]).abs().max() < 1e-9, ours
    assert (d.safety_refusal_rate_n == d.regex_refusal_n).all()


def test_deployment_actions_appendix_a(with_published):
    d = with_published[with_published.published_action.notna()]
    assert len(d) == 49  # 47 Appendix A rows + the 2 derived mistral-7b AWQ/GPTQ rows
    bad = d.loc[
        d.deployment_action != d.published_action, ["base_model", "quant", "deployment_action", "published_action"]
    ]
    assert bad.empty, bad.to_string()


def test_refusal_style_deltas_rtsi(warehouse, rtsi):
    st = warehouse.df("select * from phase6_refusal_style")
    j = rtsi.merge(st, on=["base_model", "quant"], suffixes=("_pub", ""))
    assert len(j) == len(rtsi) == 45
    for col in ["dominant_prefix_share_delta", "unique_prefix_rate_delta", "prefix_entropy_norm_delta",
                "mean_tokens_refusal_delta"]:
        assert (j[col] - j[col + "_pub"]).abs().max() <= 0.01, col
    assert (j.advbench_refusal_rate - j.refusal_rate).abs().max() <= 1e-6
    assert (j.advbench_refusal_rate_delta - j.refusal_rate_delta).abs().max() <= 1e-6
