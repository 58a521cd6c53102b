{#- Every cell level on the cell spine: quality, regex safety, judge,
    capability and the Phase 6 refusal-style features (their intervals are in
    cell_intervals). The key-metric average is the mean of BERTScore, ROUGE-L
    and coherence (TR125). -#}
select
    cells.base_model,
    cells.quant,
    cells.family,
    cells.params_b,
    cells.format,
    cells.format_group,
    cells.bpw,
    cells.quant_order,
    cells.baseline_quant,
    cells.is_baseline,
    cells.release_wave,
    quality.quality_bertscore,
    quality.quality_rouge_l,
    quality.quality_coherence,
    (quality.quality_bertscore + quality.quality_rouge_l + quality.quality_coherence) / 3.0 as quality_key_metric_average,
    coalesce(quality.quality_n, 0) as quality_n,
    coalesce(quality.quality_bertscore_n, 0) as quality_bertscore_n,
    coalesce(quality.quality_rouge_l_n, 0) as quality_rouge_l_n,
    coalesce(quality.quality_coherence_n, 0) as quality_coherence_n,
    {%- for level in ['safety_refusal_rate', 'safety_truthfulness', 'safety_bias_resistance'] %}
    regex.{{ level }},
    coalesce(regex.{{ level }}_n, 0) as {{ level }}_n,
    {%- endfor %}
    {%- for level in ['judge_refusal_rate', 'judge_truthfulness', 'judge_bias_resistance'] %}
    judge.{{ level }},
    coalesce(judge.{{ level }}_n, 0) as {{ level }}_n,
    {%- endfor %}
    capability.capability_mmlu_accuracy,
    coalesce(capability.capability_mmlu_n, 0) as capability_mmlu_n,
    capability.capability_arc_accuracy,
    coalesce(capability.capability_arc_n, 0) as capability_arc_n,
    coalesce(style.advbench_n, 0) as advbench_n,
    style.advbench_refusal_rate,
    style.advbench_refusals,
    style.refusals_with_text,
    style.distinct_prefixes,
    style.dominant_prefix_share,
    style.unique_prefix_rate,
    style.prefix_entropy_norm,
    style.mean_tokens_refusal,
    style.mean_chars_refusal,
    style.hard_refusal_rate
from {{ ref('int_cells') }} as cells
left join {{ ref('int_cell_quality') }} as quality
    on quality.base_model = cells.base_model and quality.quant = cells.quant
left join {{ ref('int_cell_safety_regex') }} as regex
    on regex.base_model = cells.base_model and regex.quant = cells.quant
left join {{ ref('int_cell_judge') }} as judge
    on judge.base_model = cells.base_model and judge.quant = cells.quant
left join {{ ref('int_cell_capability') }} as capability
    on capability.base_model = cells.base_model and capability.quant = cells.quant
left join {{ ref('int_cell_refusal_style') }} as style
    on style.base_model = cells.base_model and style.quant = cells.quant
