{#- Regime per cell (inconsistencies.md item 2, TR125 v3 rule): the rule is
    int_cell_regimes' (macro regime_rule; the rule in force is the regime_rule
    mart). -#}
select
    base_model,
    quant,
    family,
    format,
    quant_order,
    baseline_quant,
    is_baseline,
    quality_axis,
    quality_axis_delta_pp,
    quality_bertscore_delta_pp,
    quality_key_metric_average_delta_pp,
    safety_refusal_rate_delta_pp,
    regime
from {{ ref('int_cell_regimes') }}
