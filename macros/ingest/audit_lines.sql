{#- The final status of every raw line of one record kind:
      quarantined - breaks the contract (parse_problem, unknown model/quant) or a
                    duplicate of a kept row inside one source (the last line wins,
                    contract §10.4) or across sources of a kind that must not overlap;
      excluded    - a documented rule keeps it out: model_out_of_scope (registry
                    in_scope = false), legacy_bbq_schema, judge_superseded;
      loaded      - everything else.
    Only lines of files whose (label, sha256) is the current audit's count (the
    hash checked as the bytes were read).
    supersede_across_sources: a duplicate key in a lower-precedence source is
    excluded (judge precedence) rather than quarantined.
    per_source_keys: duplicates are only looked for inside one source (judge pool mode). -#}
{#- The columns of every audit_<kind>__lines table besides load_status and status_reason. -#}
{% macro audit_status_columns() -%}
  {{ return(['source_label', 'file_sha256', 'source_line', 'raw_model_name', 'base_model', 'quant',
             'task_name', 'sample_id', 'precedence', 'release_wave', 'parse_problem', 'raw_line_preview',
             'rule_status', 'rule_reason']) }}
{%- endmacro %}

{#- The loaded lines of one record kind, their content from the parse model
    (base_<kind>__lines, alias `line`): the FROM and WHERE of a staging model.
    Which lines are loaded is the audit's word (audit_<kind>__lines): every current
    line of the parse model except those the audit did not load (`dropped`, an
    anti-join whose hash table holds only the excluded and quarantined lines). A
    line's source attributes (precedence, release_wave; alias `src`) and its
    cell (base_model, quant; alias `names`) come from the same two small tables,
    by the same keys, as the audit's own (macro audit_lines): one row each per
    file and per raw model name, so no row is multiplied. Joining the audit's
    status of every line instead (a hash table of every line with its 64-character
    file hash) ran out of DuckDB's 1 GB at x100 when two staging reads ran at once. -#}
{% macro loaded_lines(kind) -%}
from {{ ref('base_' ~ kind ~ '__lines') }} as line
inner join {{ ref('audit_sources') }} as src
    on src.source_label = line.source_label
    and src.actual_sha256 = line.file_sha256
inner join {{ ref('stg_registry__model_names') }} as names
    on names.raw_model_name = line.raw_model_name
left join (
    select source_label, source_line
    from {{ ref('audit_' ~ kind ~ '__lines') }}
    where load_status <> 'loaded'
) as dropped
    on dropped.source_label = line.source_label
    and dropped.source_line = line.source_line
where dropped.source_line is null
{%- endmacro %}

{#- The first columns of every staging model of loaded lines: where the line comes from
    (file, line, release wave; with_precedence: the source's precedence as
    source_precedence), its cell (model name as written, base model, quant) and its
    task item (task_name, task_role, sample_id). Aliases as in loaded_lines. -#}
{% macro loaded_line_columns(with_precedence=false) -%}
    line.source_label,
    line.source_line,
    {%- if with_precedence %}
    src.precedence as source_precedence,
    {%- endif %}
    src.release_wave,
    line.raw_model_name,
    names.base_model,
    names.quant,
    line.task_name,
    line.task_role,
    line.sample_id
{%- endmacro %}

{% macro audit_lines(parsed_model, extra_rule_condition=none, extra_rule_reason=none,
                     supersede_across_sources=false, per_source_keys=false) %}
with manifest as (
    select source_label, actual_sha256 as sha256, precedence, release_wave
    from {{ ref('audit_sources') }}
),

current_lines as (
    select parsed.*, manifest.precedence, manifest.release_wave
    from {{ parsed_model }} as parsed
    inner join manifest
        on manifest.source_label = parsed.source_label
        and manifest.sha256 = parsed.file_sha256
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
),

{%- set key_columns = ['base_model', 'quant', 'task_name', 'sample_id'] + (['source_label'] if per_source_keys else []) %}

{#- Only keys with more than one candidate line need ranking. They are found by
    a hash aggregate over one 64-bit hash of the key (equal keys have equal
    hashes; a collision only adds lines to the ranked set, where the real key
    columns partition them), and the window then sorts those few lines only —
    not the wide rows (candidate text, raw line preview) of every line. Null
    key columns group together in the hash and in the window partitions alike. -#}
candidates as (
    select
        {{ key_columns | join(', ') }},
        {{ quant_safety.columns_hash(key_columns) }} as key_hash,
        source_label as line_label,
        source_line as line_number,
        precedence
    from mapped
    where rule_status is null
),

contested_hashes as (
    select key_hash
    from candidates
    group by key_hash
    having count(*) > 1
),

contested as (
    select
        candidates.line_label,
        candidates.line_number,
        row_number() over key_order as key_rank,
        first_value(candidates.line_label) over key_order as kept_label,
        first_value(candidates.line_number) over key_order as kept_line
    from candidates
    inner join contested_hashes
        on contested_hashes.key_hash = candidates.key_hash
    window key_order as (
        partition by {% for c in key_columns %}candidates.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
        order by candidates.precedence desc, candidates.line_label desc, candidates.line_number desc
    )
)

{#- The status of each line and what decides it; the record's content stays in the
    parse model (staging reads the loaded lines there: macro loaded_lines), so the
    lines are not copied a second time, text and all. -#}
select
    {%- for column in quant_safety.audit_status_columns() %}
    mapped.{{ column }},
    {%- endfor %}
    coalesce(
        mapped.rule_status,
        case
            when contested.key_rank is null or contested.key_rank = 1 then 'loaded'
            when contested.kept_label = mapped.source_label then 'quarantined'
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
            when contested.key_rank is null or contested.key_rank = 1 then null
            when contested.kept_label = mapped.source_label
                then 'duplicate_in_source: same key as line '
                    || cast(contested.kept_line as {{ dbt.type_string() }}) || ', which is kept'
            {%- if supersede_across_sources %}
            else 'judge_superseded'
            {%- else %}
            else 'duplicate_across_sources: same key is loaded from ' || contested.kept_label
            {%- endif %}
        end
    ) as status_reason
from mapped
left join contested
    on contested.line_label = mapped.source_label
    and contested.line_number = mapped.source_line
{% endmacro %}
