{#- The conservative-floor table (SS11 Table 11): every cell at the quant level
    var conservative_floor_quant (default Q5_K_M) with its deltas, regime and
    refusal signal (largest of |regex| and |judge| refusal delta). -#}
select
    deltas.base_model,
    deltas.family,
    deltas.quant,
    deltas.baseline_quant,
    deltas.quality_bertscore_delta_pp,
    deltas.safety_refusal_rate_delta_pp,
    deltas.safety_truthfulness_delta_pp,
    deltas.safety_bias_resistance_delta_pp,
    deltas.judge_refusal_rate_delta_pp,
    regimes.regime,
    case
        when
            abs(deltas.safety_refusal_rate_delta_pp) >= abs(deltas.judge_refusal_rate_delta_pp)
            or deltas.judge_refusal_rate_delta_pp is null
            then abs(deltas.safety_refusal_rate_delta_pp)
        else abs(deltas.judge_refusal_rate_delta_pp)
    end as refusal_signal_pp,
    (
        abs(deltas.safety_refusal_rate_delta_pp) < {{ var('floor_tolerance_pp') }}
        and coalesce(abs(deltas.judge_refusal_rate_delta_pp) < {{ var('floor_tolerance_pp') }}, false)
    ) as within_floor_tolerance
from {{ ref('int_cell_deltas') }} as deltas
inner join {{ ref('int_cell_regimes') }} as regimes
    on deltas.base_model = regimes.base_model and deltas.quant = regimes.quant
where
    deltas.quant = {{ quant_safety.sql_string(var('conservative_floor_quant')) }}
    and not deltas.is_baseline
