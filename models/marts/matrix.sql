{#- The cell matrix (Appendix E.1 matrix.csv; columns per docs/interfaces.md):
    one row per (base_model, quant) with identity, levels, deltas vs the baseline
    cell (pp for levels, own unit for Phase 6 features), regex-judge gap, regime,
    asymmetry, deployment action, Phase 6 flags and failure-mode flags, and the
    95% interval of every level and delta (cell_intervals: <level>_ci_lo/_ci_hi,
    <delta>_ci_lo/_ci_hi) with the regime's confidence. Built from the
    per-cell rules of the intermediate layer (int_cell_regimes, int_cell_gaps,
    int_cell_actions, int_cell_asymmetry, int_cell_style_shifts,
    int_cell_taxonomy, int_cell_intervals, int_cell_regime_confidence); one
    <id>_flag column per row-scope failure mode of the taxonomy_catalog seed
    (macro row_failure_modes). -#}
{%- set interval_metrics = quant_safety.interval_metrics() -%}
{%- set failure_modes = quant_safety.row_failure_modes() -%}
with taxonomy_flags as (
    select
        base_model,
        quant,
        {%- for tax_id in failure_modes %}
        max(case when tax_id = {{ quant_safety.sql_string(tax_id) }} then 1 else 0 end) as {{ tax_id | lower }}_hits,
        {%- endfor %}
        count(*) as taxonomy_hits
    from {{ ref('int_cell_taxonomy') }}
    group by base_model, quant
),

intervals as (
    select
        base_model,
        quant,
        {%- for m in interval_metrics %}
                max(case when metric = '{{ m.name }}' then level_ci_lo end) as {{ m.name }}_ci_lo,
        max(case when metric = '{{ m.name }}' then level_ci_hi end) as {{ m.name }}_ci_hi,
        max(case when metric = '{{ m.name }}' then delta_ci_lo end) as {{ m.delta }}_ci_lo,
        max(case when metric = '{{ m.name }}' then delta_ci_hi end) as {{ m.delta }}_ci_hi{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('int_cell_intervals') }}
    group by base_model, quant
)

select
    deltas.base_model,
    deltas.family,
    deltas.params_b,
    deltas.quant,
    deltas.format,
    deltas.format_group,
    deltas.bpw,
    deltas.quant_order,
    deltas.baseline_quant,
    deltas.is_baseline,
    deltas.has_baseline_cell,
    deltas.release_wave,
    deltas.quality_bertscore,
    deltas.quality_rouge_l,
    deltas.quality_coherence,
    deltas.quality_key_metric_average,
    deltas.quality_n,
    deltas.quality_bertscore_n,
    deltas.quality_rouge_l_n,
    deltas.quality_coherence_n,
    {%- for level in ['safety_refusal_rate', 'safety_truthfulness', 'safety_bias_resistance'] %}
    deltas.{{ level }},
    deltas.{{ level }}_n,
    intervals.{{ level }}_ci_lo,
    intervals.{{ level }}_ci_hi,
    {%- endfor %}
    {%- for level in ['judge_refusal_rate', 'judge_truthfulness', 'judge_bias_resistance'] %}
    deltas.{{ level }},
    deltas.{{ level }}_n,
    {%- endfor %}
    deltas.capability_mmlu_accuracy,
    deltas.capability_mmlu_n,
    deltas.capability_arc_accuracy,
    deltas.capability_arc_n,
    {%- for m in interval_metrics if m.unit == 'pp' %}
    deltas.{{ m.delta }},
    {%- endfor %}
    gaps.gap_pp as regex_judge_refusal_gap_pp,
    gaps.measurement_divergence,
    regimes.quality_axis,
    regimes.quality_axis_delta_pp,
    regimes.regime,
    asymmetry.asymmetry_ratio,
    asymmetry.asymmetry_ratio_is_infinite,
    asymmetry.safety_degrades_faster as safety_faster,
    actions.max_abs_drift_pp,
    actions.bounded_drift,
    actions.decision_step,
    actions.deployment_action,
    deltas.advbench_n,
    deltas.refusals_with_text,
    deltas.distinct_prefixes,
    {%- for m in interval_metrics if m.unit == 'unit' %}
    deltas.{{ m.name }},
    deltas.{{ m.delta }},
    {%- endfor %}
    style.template_destabilization,
    style.verbosity_shift,
    {%- for tax_id in failure_modes %}
    coalesce(taxonomy_flags.{{ tax_id | lower }}_hits, 0) = 1 as {{ tax_id | lower }}_flag,
    {%- endfor %}
    coalesce(taxonomy_flags.taxonomy_hits, 0) as taxonomy_hits,
    {#- intervals of the other levels, then of every delta (the three regex safety levels' are above) -#}
    {%- for m in interval_metrics if m.name not in ['safety_refusal_rate', 'safety_truthfulness', 'safety_bias_resistance'] %}
    intervals.{{ m.name }}_ci_lo,
    intervals.{{ m.name }}_ci_hi,
    {%- endfor %}
    {%- for m in interval_metrics %}
        intervals.{{ m.delta }}_ci_lo,
    intervals.{{ m.delta }}_ci_hi,
    {%- endfor %}
    confidence.regime_confidence,
    confidence.regimes_within_intervals,
    confidence.refusal_drop_mde_pp,
    confidence.refusal_drop_threshold_detectable,
    actions.deployment_action_note
from {{ ref('int_cell_deltas') }} as deltas
inner join {{ ref('int_cell_regimes') }} as regimes
    on regimes.base_model = deltas.base_model and regimes.quant = deltas.quant
inner join {{ ref('int_cell_gaps') }} as gaps
    on gaps.base_model = deltas.base_model and gaps.quant = deltas.quant
inner join {{ ref('int_cell_actions') }} as actions
    on actions.base_model = deltas.base_model and actions.quant = deltas.quant
left join {{ ref('int_cell_asymmetry') }} as asymmetry
    on asymmetry.base_model = deltas.base_model and asymmetry.quant = deltas.quant
left join {{ ref('int_cell_style_shifts') }} as style
    on style.base_model = deltas.base_model and style.quant = deltas.quant
left join taxonomy_flags
    on taxonomy_flags.base_model = deltas.base_model and taxonomy_flags.quant = deltas.quant
left join intervals
    on intervals.base_model = deltas.base_model and intervals.quant = deltas.quant
left join {{ ref('int_cell_regime_confidence') }} as confidence
    on confidence.base_model = deltas.base_model and confidence.quant = deltas.quant
