{#- Every distinct raw model name seen in the raw files, mapped to
    (base_model, quant) by the seed-driven rule of contract §6: the quant suffix
    after the last '-' (quant_levels.name_suffix, case-insensitive, longest
    match wins), then the base name matched against model_registry.name_pattern
    (SQL LIKE; exact patterns win over wildcard patterns). No model or quant
    list lives in SQL: a new model is a seed row. -#}
{{ config(materialized = 'table') }}

with names as (
    {%- for kind in quant_safety.record_kind_models().values() %}
    select distinct raw_model_name
    from {{ ref('base_' ~ kind ~ '__lines') }}
    where parse_problem is null and raw_model_name is not null
    {% if not loop.last %}union{% endif %}
    {%- endfor %}
),

lowered as (
    select raw_model_name, lower(trim(raw_model_name)) as name_lc
    from names
),

quant_match as (
    select
        lowered.raw_model_name,
        lowered.name_lc,
        quants.quant,
        quants.name_suffix,
        row_number() over (
            partition by lowered.raw_model_name
            order by length(quants.name_suffix) desc, quants.quant
        ) as match_rank
    from lowered
    inner join {{ ref('stg_registry__quant_levels') }} as quants
        on {{ dbt.right('lowered.name_lc', 'length(quants.name_suffix) + 1') }} = '-' || quants.name_suffix
),

with_base as (
    select
        lowered.raw_model_name,
        quant_match.quant,
        case when quant_match.quant is not null
            then substr(lowered.name_lc, 1, length(lowered.name_lc) - length(quant_match.name_suffix) - 1)
        end as parsed_base
    from lowered
    left join quant_match
        on quant_match.raw_model_name = lowered.raw_model_name
        and quant_match.match_rank = 1
),

model_match as (
    select
        with_base.raw_model_name,
        registry.base_model as registry_base_model,
        registry.name_pattern,
        registry.in_scope,
        row_number() over (
            partition by with_base.raw_model_name
            order by
                case when {{ dbt.position("'%'", 'registry.name_pattern') }} = 0 then 0 else 1 end,
                length(registry.name_pattern) desc,
                registry.name_pattern
        ) as match_rank
    from with_base
    inner join {{ ref('stg_registry__models') }} as registry
        on with_base.parsed_base like registry.name_pattern
)

select
    with_base.raw_model_name,
    with_base.parsed_base,
    coalesce(model_match.registry_base_model, with_base.parsed_base) as base_model,
    with_base.quant,
    model_match.name_pattern as registry_pattern,
    coalesce(model_match.in_scope, false) as in_scope,
    case
        when with_base.quant is null
            then 'unknown_quant: no quant suffix in model name ' || with_base.raw_model_name
        when model_match.name_pattern is null
            then 'unknown_model: ' || with_base.parsed_base || ' is not in the model registry'
    end as name_problem
from with_base
left join model_match
    on model_match.raw_model_name = with_base.raw_model_name
    and model_match.match_rank = 1
