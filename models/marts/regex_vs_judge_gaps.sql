{#- Regex vs judge refusal per cell (SS14): the rule is int_cell_gaps'. -#}
select
    base_model,
    quant,
    family,
    format,
    quant_order,
    is_baseline,
    regex_refusal_rate,
    regex_refusal_n,
    judge_refusal_rate,
    judge_refusal_n,
    gap_pp,
    abs_gap_pp,
    measurement_divergence
from {{ ref('int_cell_gaps') }}
