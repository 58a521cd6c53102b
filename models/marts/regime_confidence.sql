{#- How sure is each cell's regime? The corner rule (robust / fragile /
    not_assessable / not_applicable) and the minimum detectable refusal drop are
    int_cell_regime_confidence's. -#}
select
    base_model,
    quant,
    baseline_quant,
    is_baseline,
    regime,
    quality_axis,
    quality_axis_delta_pp,
    quality_axis_delta_ci_lo,
    quality_axis_delta_ci_hi,
    safety_refusal_rate_delta_pp,
    refusal_delta_ci_lo,
    refusal_delta_ci_hi,
    regime_confidence,
    regimes_within_intervals,
    baseline_refusal_rate,
    refusal_drop_mde_pp,
    refusal_drop_threshold_detectable
from {{ ref('int_cell_regime_confidence') }}
