{#- Every raw line that breaks the contract, with its file, line number and reason. -#}
{{ config(materialized = 'table') }}

{%- set kinds = quant_safety.record_kind_models().items() %}

with quarantined as (
    {%- for kind, name in kinds %}
    select
        '{{ kind }}' as record_kind,
        source_label,
        source_line,
        status_reason,
        raw_line_preview
    from {{ ref('audit_' ~ name ~ '__lines') }}
    where load_status = 'quarantined'
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    quarantined.record_kind,
    quarantined.source_label,
    manifest.relative_path,
    quarantined.source_line,
    {{ dbt.split_part('quarantined.status_reason', "':'", 1) }} as reason,
    quarantined.status_reason as detail,
    quarantined.raw_line_preview
from quarantined
inner join {{ ref('source_manifest') }} as manifest
    on manifest.source_label = quarantined.source_label
