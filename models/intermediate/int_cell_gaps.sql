{#- Regex vs judge refusal per cell (SS14): gap_pp = 100 x (judge - regex);
    measurement_divergence (rule_key measurement_divergence of the taxonomy_catalog seed) when |gap| >=
    var measurement_divergence_gap_pp; false when a rate is missing. -#}
with cell_rates as (
    select
        base_model,
        quant,
        family,
        format,
        quant_order,
        is_baseline,
        safety_refusal_rate,
        safety_refusal_rate_n,
        judge_refusal_rate,
        judge_refusal_rate_n,
        {{ quant_safety.delta_pp('judge_refusal_rate', 'safety_refusal_rate') }} as gap_pp
    from {{ ref('int_cell_metrics') }}
)

select
    base_model,
    quant,
    family,
    format,
    quant_order,
    is_baseline,
    safety_refusal_rate as regex_refusal_rate,
    safety_refusal_rate_n as regex_refusal_n,
    judge_refusal_rate,
    judge_refusal_rate_n as judge_refusal_n,
    gap_pp,
    abs(gap_pp) as abs_gap_pp,
    coalesce(abs(gap_pp) >= {{ var('measurement_divergence_gap_pp') }}, false) as measurement_divergence
from cell_rates
