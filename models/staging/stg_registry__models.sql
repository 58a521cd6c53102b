{#- The model registry in effect: the project's rows (seed model_registry) and
    the rows of model_registry_additions.csv in the lock dir (beside the user's
    source_manifest.csv), so that a lab adds its models without editing the
    project. An addition whose name_pattern equals a project row's replaces it.
    name_pattern is matched lower-cased (raw model names are lower-cased before
    matching). -#}
{{ config(materialized = 'table') }}

{%- set txt = dbt.type_string() -%}
{%- set dbl = quant_safety.marts_double_type() -%}
with registry_rows as (
    {%- for seed, priority in [('model_registry', 1), ('model_registry_additions', 2)] %}
    select
        '{{ seed }}' as registry_source,
        {{ priority }} as source_priority,
        cast(base_model as {{ txt }}) as base_model,
        lower(trim(cast(name_pattern as {{ txt }}))) as name_pattern,
        cast(family as {{ txt }}) as family,
        cast(params_b as {{ dbl }}) as params_b,
        cast(architecture as {{ txt }}) as architecture,
        cast(baseline_quant as {{ txt }}) as baseline_quant,
        cast(in_scope as boolean) as in_scope,
        cast(scope_note as {{ txt }}) as scope_note
    from {{ ref(seed) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

ranked as (
    select
        *,
        row_number() over (partition by name_pattern order by source_priority desc) as pattern_rank
    from registry_rows
    where name_pattern is not null
)

select
    base_model,
    name_pattern,
    family,
    params_b,
    architecture,
    baseline_quant,
    in_scope,
    scope_note,
    registry_source
from ranked
where pattern_rank = 1
