-- depends_on: {{ ref('source_manifest') }}
{# Kind D (samples.jsonl beside each scored safety file): the response text of
    every safety-run generation, which Phase 6 needs. Incremental by file hash. -#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = quant_safety.by_source_incremental_strategy(),
    unique_key = 'source_label',
    partition_by = quant_safety.by_source_partition_by(),
    on_schema_change = 'fail'
) }}

{%- set spec = {
    'model': 'JSON', 'model_name': 'JSON', 'task_name': 'JSON', 'sample_id': 'JSON',
    'candidate': 'JSON', 'num_tokens_generated': 'JSON'
} -%}

with {{ quant_safety.parse_json_lines('D', spec) }},

typed as (
    select
        source_label,
        file_sha256,
        source_line,
        raw_line,
        is_valid_json,
        line_kind,
        had_nonfinite_token,
        line_problem,
        coalesce(
            {{ quant_safety.json_string('rec.model') }},
            {{ quant_safety.json_string('rec.model_name') }}
        ) as raw_model_name,
        {{ quant_safety.json_string('rec.task_name') }} as task_name,
        {{ quant_safety.json_string('rec.sample_id') }} as sample_id,
        {{ quant_safety.json_string('rec.candidate') }} as candidate_text,
        {{ quant_safety.json_kind('rec.candidate') }} as candidate_kind,
        {{ quant_safety.json_number('rec.num_tokens_generated') }} as num_tokens_generated,
        case when {{ quant_safety.json_kind('rec.model') }} = 'string' then null
            else {{ quant_safety.require_string('rec.model_name', 'model') }} end as model_problem,
        {{ quant_safety.require_string('rec.task_name', 'task_name') }} as task_problem,
        {{ quant_safety.require_string('rec.sample_id', 'sample_id') }} as sample_problem
    from parsed
),

checked as (
    select
        typed.*,
        tasks.task_role,
        case
            when line_problem is not null then line_problem
            when not is_valid_json and (raw_line is null or trim(raw_line) = '') then 'blank_line'
            when not is_valid_json then 'invalid_json'
            when line_kind <> 'object' then 'not_an_object: line is a JSON ' || line_kind
            when model_problem is not null then model_problem
            when task_problem is not null then task_problem
            when sample_problem is not null then sample_problem
            when tasks.task_name is null then 'unknown_task: ' || typed.task_name
            when candidate_kind is not null and candidate_kind not in ('string', 'null')
                then 'wrong_type: candidate is ' || candidate_kind
        end as parse_problem
    from typed
    left join {{ ref('task_catalog') }} as tasks
        on tasks.task_name = typed.task_name
        and tasks.record_kind = 'B'
)

select
    source_label,
    file_sha256,
    source_line,
    raw_model_name,
    task_name,
    task_role,
    sample_id,
    candidate_text,
    num_tokens_generated,
    had_nonfinite_token,
    parse_problem,
    {{ quant_safety.raw_line_preview('parse_problem', 'raw_line') }} as raw_line_preview
from checked
