-- depends_on: {{ ref('source_manifest') }}
{# Kind E (second-judge annotations, report Appendix F
    combined_second_judge.jsonl; schema inferred, docs/raw-logs.md): every raw
    line of every second-judge source, parsed once. A line must name the cell
    (model), task and sample, and carry the primary judge's label and the second
    judge's label and model; both labels must belong to the task's vocabulary
    (judge_labels). Incremental by file hash. -#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = quant_safety.by_source_incremental_strategy(),
    unique_key = 'source_label',
    partition_by = quant_safety.by_source_partition_by(),
    on_schema_change = 'fail'
) }}

{%- set spec = {
    'sample_id': 'JSON', 'task_name': 'JSON', 'model': 'JSON',
    'primary_judge_label': 'JSON', 'primary_judge_model': 'JSON',
    'second_judge_label': 'JSON', 'second_judge_model': 'JSON',
    'second_judge_parse_success': 'JSON', 'stratum': 'JSON'
} -%}

with {{ quant_safety.parse_json_lines('E', spec) }},

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
        {{ quant_safety.json_string('rec.model') }} as raw_model_name,
        {{ quant_safety.json_string('rec.task_name') }} as task_name,
        {{ quant_safety.json_string('rec.sample_id') }} as sample_id,
        upper(trim({{ quant_safety.json_string('rec.primary_judge_label') }})) as primary_judge_label,
        {{ quant_safety.json_string('rec.primary_judge_model') }} as primary_judge_model,
        upper(trim({{ quant_safety.json_string('rec.second_judge_label') }})) as second_judge_label,
        {{ quant_safety.json_string('rec.second_judge_model') }} as second_judge_model,
        {{ quant_safety.json_boolean('rec.second_judge_parse_success') }} as second_judge_parse_success,
        {{ quant_safety.json_string('rec.stratum') }} as stratum,
        {{ quant_safety.require_string('rec.model', 'model') }} as model_problem,
        {{ quant_safety.require_string('rec.task_name', 'task_name') }} as task_problem,
        {{ quant_safety.require_string('rec.sample_id', 'sample_id') }} as sample_problem,
        {{ quant_safety.require_string('rec.primary_judge_label', 'primary_judge_label') }} as primary_problem,
        {{ quant_safety.require_string('rec.second_judge_label', 'second_judge_label') }} as second_problem,
        {{ quant_safety.require_string('rec.second_judge_model', 'second_judge_model') }} as second_model_problem
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
            when primary_problem is not null then primary_problem
            when second_problem is not null then second_problem
            when second_model_problem is not null then second_model_problem
            when primary_labels.judge_label is null
                then 'invalid_label: primary ' || typed.primary_judge_label || ' is not a ' || tasks.task_role || ' label'
            when second_labels.judge_label is null
                then 'invalid_label: second ' || typed.second_judge_label || ' is not a ' || tasks.task_role || ' label'
        end as parse_problem
    from typed
    left join (select distinct task_name, task_role from {{ ref('task_catalog') }} where record_kind = 'B') as tasks
        on tasks.task_name = typed.task_name
        and tasks.task_role <> 'capability'
    left join {{ ref('judge_labels') }} as primary_labels
        on primary_labels.task_role = tasks.task_role
        and primary_labels.judge_label = typed.primary_judge_label
    left join {{ ref('judge_labels') }} as second_labels
        on second_labels.task_role = tasks.task_role
        and second_labels.judge_label = typed.second_judge_label
)

select
    source_label,
    file_sha256,
    source_line,
    raw_model_name,
    task_name,
    task_role,
    sample_id,
    primary_judge_label,
    primary_judge_model,
    second_judge_label,
    second_judge_model,
    second_judge_parse_success,
    stratum,
    had_nonfinite_token,
    parse_problem,
    {{ quant_safety.raw_line_preview('parse_problem', 'raw_line') }} as raw_line_preview
from checked
