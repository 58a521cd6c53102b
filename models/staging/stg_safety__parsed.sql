-- depends_on: {{ ref('source_manifest') }}
{# Kind B (phase3_scored.jsonl): every raw line of every safety source, parsed
    once, with the contract check result. Incremental by file hash: a file
    already ingested with the same sha256 is not read again. -#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = quant_safety.by_source_incremental_strategy(),
    unique_key = 'source_label',
    partition_by = quant_safety.by_source_partition_by(),
    on_schema_change = 'fail'
) }}

{%- set spec = {
    'sample_id': 'JSON', 'task_name': 'JSON', 'model': 'JSON', 'base_model': 'JSON',
    'quant': 'JSON', 'domain': 'JSON', 'metric': 'JSON', 'score': 'JSON',
    'raw_score': 'JSON', 'jailbreak_type': 'JSON', 'behavior_category': 'JSON',
    'base_behavior_id': 'JSON', 'category': 'JSON',
    'detail': {'refusal_type': 'JSON', 'confidence': 'JSON'}
} -%}

with {{ quant_safety.parse_json_lines('B', spec) }},

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
        {{ quant_safety.json_string('rec.domain') }} as domain,
        {{ quant_safety.json_string('rec.metric') }} as metric,
        {{ quant_safety.json_number('rec.score') }} as score,
        {{ quant_safety.json_kind('rec.score') }} as score_kind,
        {{ quant_safety.json_number('rec.raw_score') }} as raw_score,
        {{ quant_safety.json_string('rec.detail.refusal_type') }} as refusal_type,
        {{ quant_safety.json_number('rec.detail.confidence') }} as refusal_confidence,
        {{ quant_safety.json_string('rec.jailbreak_type') }} as jailbreak_type,
        {{ quant_safety.json_string('rec.behavior_category') }} as behavior_category,
        {{ quant_safety.json_string('rec.base_behavior_id') }} as base_behavior_id,
        {{ quant_safety.json_string('rec.category') }} as bbq_category,
        {{ quant_safety.json_string('rec.base_model') }} as reported_base_model,
        {{ quant_safety.json_string('rec.quant') }} as reported_quant,
        {{ quant_safety.require_string('rec.model', 'model') }} as model_problem,
        {{ quant_safety.require_string('rec.task_name', 'task_name') }} as task_problem,
        {{ quant_safety.require_string('rec.sample_id', 'sample_id') }} as sample_problem
    from parsed
),

score_range as (
    select min_value, max_value
    from {{ ref('metric_ranges') }}
    where record_kind = 'B' and field = 'score'
),

checked as (
    select
        typed.*,
        case
            when line_problem is not null then line_problem
            when not is_valid_json and (raw_line is null or trim(raw_line) = '') then 'blank_line'
            when not is_valid_json then 'invalid_json'
            when line_kind <> 'object' then 'not_an_object: line is a JSON ' || line_kind
            when model_problem is not null then model_problem
            when task_problem is not null then task_problem
            when sample_problem is not null then sample_problem
            when tasks.task_name is null then 'unknown_task: ' || typed.task_name
            when score_kind is null and had_nonfinite_token then 'non_finite_value: score'
            when score_kind is null or score_kind = 'null' then 'missing_field: score'
            when score_kind <> 'number' then 'wrong_type: score is ' || score_kind
            when score < score_range.min_value or score > score_range.max_value
                then 'out_of_range: score ' || cast(score as {{ dbt.type_string() }})
        end as parse_problem,
        tasks.task_role
    from typed
    cross join score_range
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
    domain,
    metric,
    score,
    raw_score,
    refusal_type,
    refusal_confidence,
    jailbreak_type,
    behavior_category,
    base_behavior_id,
    bbq_category,
    reported_base_model,
    reported_quant,
    had_nonfinite_token,
    parse_problem,
    {{ quant_safety.raw_line_preview('parse_problem', 'raw_line') }} as raw_line_preview
from checked
