-- depends_on: {{ ref('source_manifest') }}
{# Kind C (judge annotations): every raw line of every judge source, parsed
    once. Recognises the legacy BBQ variant shape (contract §4: model_name
    instead of model, parse_success instead of judge_parse_success), which is
    excluded by rule downstream. Incremental by file hash. -#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = quant_safety.by_source_incremental_strategy(),
    unique_key = 'source_label',
    partition_by = quant_safety.by_source_partition_by(),
    on_schema_change = 'fail'
) }}

{%- set spec = {
    'sample_id': 'JSON', 'task_name': 'JSON', 'model': 'JSON', 'model_name': 'JSON',
    'base_model': 'JSON', 'quant': 'JSON', 'judge_label': 'JSON', 'judge_model': 'JSON',
    'judge_parse_success': 'JSON', 'parse_success': 'JSON', 'judge_elapsed_ms': 'JSON'
} -%}

with {{ quant_safety.parse_json_lines('C', spec) }},

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
        (
            {{ quant_safety.json_kind('rec.model') }} is null
            and {{ quant_safety.json_kind('rec.model_name') }} = 'string'
            and {{ quant_safety.json_kind('rec.parse_success') }} is not null
        ) as is_legacy_bbq_shape,
        coalesce(
            {{ quant_safety.json_string('rec.model') }},
            {{ quant_safety.json_string('rec.model_name') }}
        ) as raw_model_name,
        {{ quant_safety.json_string('rec.task_name') }} as task_name,
        {{ quant_safety.json_string('rec.sample_id') }} as sample_id,
        upper(trim({{ quant_safety.json_string('rec.judge_label') }})) as judge_label,
        {{ quant_safety.json_string('rec.judge_model') }} as judge_model,
        coalesce(
            {{ quant_safety.json_boolean('rec.judge_parse_success') }},
            {{ quant_safety.json_boolean('rec.parse_success') }}
        ) as judge_parse_success,
        {{ quant_safety.json_number('rec.judge_elapsed_ms') }} as judge_elapsed_ms,
        {{ quant_safety.require_string('rec.model', 'model') }} as model_problem,
        {{ quant_safety.require_string('rec.task_name', 'task_name') }} as task_problem,
        {{ quant_safety.require_string('rec.sample_id', 'sample_id') }} as sample_problem,
        {{ quant_safety.require_string('rec.judge_label', 'judge_label') }} as label_problem
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
            when is_legacy_bbq_shape then null
            when model_problem is not null then model_problem
            when task_problem is not null then task_problem
            when sample_problem is not null then sample_problem
            when tasks.task_name is null then 'unknown_task: ' || typed.task_name
            when label_problem is not null then label_problem
            when labels.judge_label is null
                then 'invalid_label: ' || typed.judge_label || ' is not a ' || tasks.task_role || ' label'
        end as parse_problem
    from typed
    left join (select distinct task_name, task_role from {{ ref('task_catalog') }} where record_kind = 'B') as tasks
        on tasks.task_name = typed.task_name
        and tasks.task_role <> 'capability'
    left join {{ ref('judge_labels') }} as labels
        on labels.task_role = tasks.task_role
        and labels.judge_label = typed.judge_label
)

select
    source_label,
    file_sha256,
    source_line,
    raw_model_name,
    task_name,
    task_role,
    sample_id,
    judge_label,
    judge_model,
    judge_parse_success,
    judge_elapsed_ms,
    is_legacy_bbq_shape,
    had_nonfinite_token,
    parse_problem,
    {{ quant_safety.raw_line_preview('parse_problem', 'raw_line') }} as raw_line_preview
from checked
