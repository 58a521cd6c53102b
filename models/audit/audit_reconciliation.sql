{#- For every manifest source: raw lines = loaded + excluded by rule + quarantined.
    Nothing is silently lost: `balanced` must be true for every source (dbt test),
    and the counts are checked against the manifest by the data-quality gate. -#}
{{ config(materialized = 'table') }}

{%- set kinds = quant_safety.record_kind_models().values() %}

with line_status as (
    {%- for name in kinds %}
    select source_label, load_status
    from {{ ref('audit_' ~ name ~ '__lines') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

counted as (
    select
        source_label,
        count(*) as parsed_lines,
        {{ quant_safety.count_where("load_status = 'loaded'") }} as loaded_rows,
        {{ quant_safety.count_where("load_status = 'excluded'") }} as excluded_rows,
        {{ quant_safety.count_where("load_status = 'quarantined'") }} as quarantined_rows
    from line_status
    group by source_label
)

select
    audit.source_label,
    audit.role,
    audit.record_kind,
    audit.relative_path,
    audit.actual_raw_lines as raw_lines,
    cast(coalesce(counted.parsed_lines, 0) as {{ dbt.type_bigint() }}) as parsed_lines,
    cast(coalesce(counted.loaded_rows, 0) as {{ dbt.type_bigint() }}) as loaded_rows,
    cast(coalesce(counted.excluded_rows, 0) as {{ dbt.type_bigint() }}) as excluded_rows,
    cast(coalesce(counted.quarantined_rows, 0) as {{ dbt.type_bigint() }}) as quarantined_rows,
    audit.expected_raw_rows,
    audit.expected_loaded_rows,
    (audit.actual_raw_lines = coalesce(counted.loaded_rows, 0) + coalesce(counted.excluded_rows, 0)
        + coalesce(counted.quarantined_rows, 0)) as balanced
from {{ ref('audit_sources') }} as audit
left join counted
    on counted.source_label = audit.source_label
