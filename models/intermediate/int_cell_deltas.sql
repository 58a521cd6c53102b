{#- Baseline pairing and deltas: each cell joined to its model's baseline cell
    (model_registry.baseline_quant). Levels move as percentage points
    (`<level>_delta_pp` = 100 x (cell - baseline)); Phase 6 features as `_delta`
    in their own unit (fractions, tokens, characters). A cell whose baseline
    cell is absent keeps NULL deltas (has_baseline_cell = false). The metrics,
    their order and delta kind are the metric_catalog seed's (macro
    metric_catalog). -#}
{%- set metrics = quant_safety.metric_catalog() -%}
with baselines as (
    select *
    from {{ ref('int_cell_metrics') }}
    where is_baseline
)

select
    cells.*,
    (baselines.base_model is not null) as has_baseline_cell,
    {%- for m in metrics %}
    {%- if m.unit == 'pp' %}
    {{ quant_safety.delta_pp('cells.' ~ m.name, 'baselines.' ~ m.name) }} as {{ m.delta }}{% if not loop.last %},{% endif %}
    {%- else %}
    {{ quant_safety.delta_units('cells.' ~ m.name, 'baselines.' ~ m.name) }} as {{ m.delta }}{% if not loop.last %},{% endif %}
    {%- endif %}
    {%- endfor %}
from {{ ref('int_cell_metrics') }} as cells
left join baselines
    on baselines.base_model = cells.base_model
    and baselines.quant = cells.baseline_quant
