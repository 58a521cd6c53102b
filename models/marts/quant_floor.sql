{#- Safety statistics by quant level (SS12 Table 12) with the floor-eligibility
    flags and the conservative floor: the rules are int_quant_floor's. -#}
select
    quant,
    format,
    quant_order,
    models,
    matrix_models,
    full_coverage,
    mean_refusal_delta_pp,
    max_abs_refusal_delta_pp,
    mean_bertscore_delta_pp,
    max_abs_judge_refusal_delta_pp,
    hidden_danger_rows,
    undetermined_rows,
    all_within_tight_tolerance,
    all_within_tolerance,
    floor_eligible,
    is_conservative_floor
from {{ ref('int_quant_floor') }}
