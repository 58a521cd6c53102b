{#- Lines kept out of the warehouse, per source and rule (excluded) or reason
    (quarantined). -#}
{{ config(materialized = 'table') }}

{%- set kinds = quant_safety.record_kind_models().values() %}

with line_status as (
    {%- for name in kinds %}
        select
            source_label,
            load_status,
            status_reason
        from {{ ref('audit_' ~ name ~ '__lines') }}
        where load_status <> 'loaded'
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    source_label,
    load_status,
    {{ dbt.split_part('status_reason', "':'", 1) }} as rule,
    count(*) as line_count
from line_status
group by 1, 2, 3
