{#- The quant levels in effect: the project's rows (seed quant_levels) and the
    rows of quant_levels_additions.csv in the lock dir, so that a lab adds a
    format without editing the project. An addition with the quant or the
    name_suffix of a project row replaces that row. name_suffix is matched
    lower-cased. -#}
{{ config(materialized = 'table') }}

{%- set txt = dbt.type_string() -%}
{%- set dbl = quant_safety.marts_double_type() -%}
with level_rows as (
    {%- for seed in ['quant_levels', 'quant_levels_additions'] %}
    select
        '{{ seed }}' as registry_source,
        cast(quant as {{ txt }}) as quant,
        lower(trim(cast(name_suffix as {{ txt }}))) as name_suffix,
        cast(format as {{ txt }}) as format,
        cast(bpw as {{ dbl }}) as bpw,
        cast(bpw_nominal as {{ dbl }}) as bpw_nominal,
        cast(precision_order as {{ dbt.type_int() }}) as precision_order,
        cast(format_group as {{ txt }}) as format_group
    from {{ ref(seed) }}
    where quant is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select level_rows.*
from level_rows
where level_rows.registry_source = 'quant_levels_additions'
   or not exists (
        select 1 as present
        from level_rows as additions
        where additions.registry_source = 'quant_levels_additions'
          and (additions.quant = level_rows.quant or additions.name_suffix = level_rows.name_suffix)
    )
