{#- Cell spine: one row per (base_model, quant) loaded from any kind of staged
    record, with its registry and quant-level attributes, its baseline quant and
    the latest release wave among its loaded rows. -#}
with loaded_rows as (
    {%- for stg in ['stg_quality__samples', 'stg_safety__scored_samples', 'stg_judge__annotations', 'stg_safety__generations'] %}
    select base_model, quant, raw_model_name, release_wave
    from {{ ref(stg) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

cell_names as (
    select
        base_model,
        quant,
        raw_model_name,
        max(release_wave) as release_wave
    from loaded_rows
    group by base_model, quant, raw_model_name
),

cell_patterns as (
    select
        cell_names.base_model,
        cell_names.quant,
        max(cell_names.release_wave) as release_wave,
        max(names.registry_pattern) as registry_pattern
    from cell_names
    left join {{ ref('stg_registry__model_names') }} as names
        on names.raw_model_name = cell_names.raw_model_name
    group by cell_names.base_model, cell_names.quant
)

select
    cell_patterns.base_model,
    cell_patterns.quant,
    registry.family,
    registry.params_b,
    levels.format,
    levels.format_group,
    levels.bpw,
    levels.precision_order as quant_order,
    registry.baseline_quant,
    (cell_patterns.quant = registry.baseline_quant) as is_baseline,
    cell_patterns.release_wave
from cell_patterns
left join {{ ref('stg_registry__models') }} as registry
    on registry.name_pattern = cell_patterns.registry_pattern
left join {{ ref('stg_registry__quant_levels') }} as levels
    on levels.quant = cell_patterns.quant
