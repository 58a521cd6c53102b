{#- Judge refusal rates per cell on the second-judge subset (report Appendix F):
    the rates, the second judge's shift and each judge's delta against its own
    baseline rate are int_second_judge_cell_rates'. -#}
select
    second_judge_model,
    base_model,
    quant,
    baseline_quant,
    is_baseline,
    stratum,
    subset_rows_all_tasks,
    judged_rows,
    full_coverage,
    subset_rows,
    primary_n,
    primary_refusal_rate,
    second_n,
    second_refusal_rate,
    second_refusal_rate_ci_lo,
    second_refusal_rate_ci_hi,
    refusal_shift_pp,
    primary_refusal_delta_pp,
    second_refusal_delta_pp,
    second_refusal_delta_ci_lo,
    second_refusal_delta_ci_hi,
    warehouse_judge_refusal_delta_pp
from {{ ref('int_second_judge_cell_rates') }}
