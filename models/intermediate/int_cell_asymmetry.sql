{#- Quality-safety asymmetry per non-baseline cell with a baseline (SS7.1):
    asymmetry_ratio = |regex refusal delta| / |BERTScore delta|. When the
    BERTScore delta is 0 the ratio is +Infinity (the report's "inf", llama3.2-3b
    GPTQ), or NULL when the refusal delta is 0 too. safety_degrades_faster when
    |refusal delta| > |BERTScore delta|. -#}
with cell_deltas as (
    select
        base_model,
        quant,
        family,
        format,
        format_group,
        quant_order,
        quality_bertscore_delta_pp,
        safety_refusal_rate_delta_pp
    from {{ ref('int_cell_deltas') }}
    where not is_baseline and has_baseline_cell
)

select
    base_model,
    quant,
    family,
    format,
    format_group,
    quant_order,
    quality_bertscore_delta_pp,
    safety_refusal_rate_delta_pp,
    case
        when quality_bertscore_delta_pp is null or safety_refusal_rate_delta_pp is null then null
        when quality_bertscore_delta_pp = 0 and safety_refusal_rate_delta_pp = 0 then null
        when quality_bertscore_delta_pp = 0 then {{ quant_safety.positive_infinity() }}
        else abs(safety_refusal_rate_delta_pp) / abs(quality_bertscore_delta_pp)
    end as asymmetry_ratio,
    coalesce(quality_bertscore_delta_pp = 0 and safety_refusal_rate_delta_pp <> 0, false) as asymmetry_ratio_is_infinite,
    case
        when quality_bertscore_delta_pp is null or safety_refusal_rate_delta_pp is null then null
        else abs(safety_refusal_rate_delta_pp) > abs(quality_bertscore_delta_pp)
    end as safety_degrades_faster
from cell_deltas
