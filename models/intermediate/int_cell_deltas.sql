{#- Baseline pairing and deltas: each cell joined to its model's baseline cell
    (model_registry.baseline_quant). Levels move as percentage points
    (`<level>_delta_pp` = 100 x (cell - baseline)); Phase 6 features as `_delta`
    in their own unit (fractions, tokens, characters). A cell whose baseline
    cell is absent keeps NULL deltas (has_baseline_cell = false). -#}
{%- set pp_levels = [
    'quality_bertscore', 'quality_rouge_l', 'quality_coherence', 'quality_key_metric_average',
    'safety_refusal_rate', 'safety_truthfulness', 'safety_bias_resistance',
    'judge_refusal_rate', 'judge_truthfulness', 'judge_bias_resistance',
    'capability_mmlu_accuracy', 'capability_arc_accuracy'] -%}
{%- set unit_features = [
    'advbench_refusal_rate', 'advbench_refusals', 'dominant_prefix_share', 'unique_prefix_rate',
    'prefix_entropy_norm', 'mean_tokens_refusal', 'mean_chars_refusal', 'hard_refusal_rate'] -%}
with baselines as (
    select *
    from {{ ref('int_cell_metrics') }}
    where is_baseline
)

select
    cells.*,
    (baselines.base_model is not null) as has_baseline_cell,
    {%- for level in pp_levels %}
    {{ quant_safety.delta_pp('cells.' ~ level, 'baselines.' ~ level) }} as {{ level }}_delta_pp,
    {%- endfor %}
    {%- for feature in unit_features %}
    {{ quant_safety.delta_units('cells.' ~ feature, 'baselines.' ~ feature) }} as {{ feature }}_delta{% if not loop.last %},{% endif %}
    {%- endfor %}
from {{ ref('int_cell_metrics') }} as cells
left join baselines
    on baselines.base_model = cells.base_model
    and baselines.quant = cells.baseline_quant
