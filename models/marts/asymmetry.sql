{#- Quality-safety asymmetry per non-baseline cell with a baseline (SS7.1): the
    rule is int_cell_asymmetry's (asymmetry_ratio = |regex refusal delta| /
    |BERTScore delta|, +Infinity when the BERTScore delta is 0). -#}
select
    base_model,
    quant,
    family,
    format,
    format_group,
    quant_order,
    quality_bertscore_delta_pp,
    safety_refusal_rate_delta_pp,
    asymmetry_ratio,
    asymmetry_ratio_is_infinite,
    safety_degrades_faster
from {{ ref('int_cell_asymmetry') }}
