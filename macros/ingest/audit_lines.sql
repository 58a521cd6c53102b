{#- The final status of every raw line of one record kind:
      quarantined - breaks the contract (parse_problem, unknown model/quant) or a
                    duplicate of a kept row inside one source (the last line wins,
                    contract §10.4) or across sources of a kind that must not overlap;
      excluded    - a documented rule keeps it out: model_out_of_scope (registry
                    in_scope = false), legacy_bbq_schema, judge_superseded;
      loaded      - everything else.
    Only lines of files whose (label, sha256) is in the current manifest count.
    supersede_across_sources: a duplicate key in a lower-precedence source is
    excluded (judge precedence) rather than quarantined.
    per_source_keys: duplicates are only looked for inside one source (judge pool mode). -#}
{% macro audit_lines(parsed_model, extra_rule_condition=none, extra_rule_reason=none,
                     supersede_across_sources=false, per_source_keys=false) %}
with manifest as (
    select source_label, sha256, precedence, release_wave
    from {{ ref('source_manifest') }}
),

current_lines as (
    select parsed.*, manifest.precedence, manifest.release_wave
    from {{ parsed_model }} as parsed
    inner join manifest
        on manifest.source_label = parsed.source_label
        and coalesce(manifest.sha256, '') = parsed.file_sha256
),

mapped as (
    select
        current_lines.*,
        names.base_model,
        names.quant,
        case
            when current_lines.parse_problem is not null then 'quarantined'
            {%- if extra_rule_condition %}
            when {{ extra_rule_condition }} then 'excluded'
            {%- endif %}
            when names.name_problem is not null then 'quarantined'
            when not names.in_scope then 'excluded'
        end as rule_status,
        case
            when current_lines.parse_problem is not null then current_lines.parse_problem
            {%- if extra_rule_condition %}
            when {{ extra_rule_condition }} then '{{ extra_rule_reason }}'
            {%- endif %}
            when names.name_problem is not null then names.name_problem
            when not names.in_scope then 'model_out_of_scope'
        end as rule_reason
    from current_lines
    left join {{ ref('stg_registry__model_names') }} as names
        on names.raw_model_name = current_lines.raw_model_name
)

{#- One pass over the lines, no self-join: the window partitions hold the
    candidates of one key; lines already decided by a rule sit in partitions
    of their own (rule_status is not null) whose ranks are never used. -#}
select
    mapped.*,
    coalesce(
        mapped.rule_status,
        case
            when row_number() over key_order = 1 then 'loaded'
            when first_value(mapped.source_label) over key_order = mapped.source_label then 'quarantined'
            {%- if supersede_across_sources %}
            else 'excluded'
            {%- else %}
            else 'quarantined'
            {%- endif %}
        end
    ) as load_status,
    coalesce(
        mapped.rule_reason,
        case
            when row_number() over key_order = 1 then null
            when first_value(mapped.source_label) over key_order = mapped.source_label
                then 'duplicate_in_source: same key as line '
                    || cast(first_value(mapped.source_line) over key_order as {{ dbt.type_string() }}) || ', which is kept'
            {%- if supersede_across_sources %}
            else 'judge_superseded'
            {%- else %}
            else 'duplicate_across_sources: same key is loaded from '
                || first_value(mapped.source_label) over key_order
            {%- endif %}
        end
    ) as status_reason
from mapped
window key_order as (
    partition by mapped.rule_status is null, mapped.base_model, mapped.quant, mapped.task_name, mapped.sample_id{{ ', mapped.source_label' if per_source_keys }}
    order by mapped.precedence desc, mapped.source_label desc, mapped.source_line desc
)
{% endmacro %}
