-- depends_on: {{ ref('source_manifest') }}
{# Kind A (TR125 samples.jsonl): every raw line of every quality source, parsed
    once, with the contract check result. Incremental by file hash. -#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = quant_safety.by_source_incremental_strategy(),
    unique_key = 'source_label',
    partition_by = quant_safety.by_source_partition_by(),
    on_schema_change = 'fail'
) }}

{%- set spec = {
    'model': 'JSON', 'model_name': 'JSON', 'task_name': 'JSON', 'task_type': 'JSON',
    'sample_id': 'JSON', 'num_tokens_generated': 'JSON',
    'metrics': {'bertscore': 'JSON', 'rouge_l': 'JSON', 'coherence': 'JSON', 'exact_match': 'JSON'}
} -%}
{%- set metric_names = ['bertscore', 'rouge_l', 'coherence', 'exact_match'] -%}

with {{ quant_safety.parse_json_lines('A', spec) }},

metric_fragments as (
    select
        *,
        {%- for m in metric_names %}
        {{ quant_safety.metric_fragment('rec.metrics.' ~ m) }} as {{ m }}_fragment,
        {%- endfor %}
        case when {{ quant_safety.json_kind('rec.model') }} = 'string' then rec.model else rec.model_name end as model_fragment
    from parsed
),

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
        {{ quant_safety.json_string('model_fragment') }} as raw_model_name,
        {{ quant_safety.json_string('rec.task_name') }} as task_name,
        {{ quant_safety.json_string('rec.task_type') }} as task_type,
        {{ quant_safety.json_string('rec.sample_id') }} as sample_id,
        {{ quant_safety.json_number('rec.num_tokens_generated') }} as num_tokens_generated,
        {%- for m in metric_names %}
        {{ quant_safety.json_number(m ~ '_fragment') }} as {{ m }},
        {{ quant_safety.json_kind(m ~ '_fragment') }} as {{ m }}_kind,
        {%- endfor %}
        {{ quant_safety.require_string('model_fragment', 'model') }} as model_problem,
        {{ quant_safety.require_string('rec.task_name', 'task_name') }} as task_problem,
        {{ quant_safety.require_string('rec.sample_id', 'sample_id') }} as sample_problem,
        -- the kind of the metrics node: an object when any metric leaf was read
        -- from it; otherwise look at the node itself (a second parse of the line,
        -- only for lines without any of the four metrics)
        case
            when not is_valid_json then null
            when {% for m in metric_names %}rec.metrics.{{ m }} is not null{{ ' or ' if not loop.last }}{% endfor %} then 'object'
            else {{ quant_safety.json_kind(quant_safety.json_child(quant_safety.json_parse('clean_line'), '$.metrics')) }}
        end as metrics_kind
    from metric_fragments
),

ranges as (
    select
        {%- for m in metric_names %}
        max(case when field = '{{ m }}' then min_value end) as {{ m }}_min,
        max(case when field = '{{ m }}' then max_value end) as {{ m }}_max{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('metric_ranges') }}
    where record_kind = 'A'
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
            when metrics_kind is null or metrics_kind <> 'object' then 'missing_field: metrics'
            {%- for m in metric_names %}
            when {{ m }}_kind is not null and {{ m }}_kind not in ('number', 'null')
                then 'wrong_type: metrics.{{ m }} is ' || {{ m }}_kind
            when {{ m }} < ranges.{{ m }}_min or {{ m }} > ranges.{{ m }}_max
                then 'out_of_range: metrics.{{ m }} ' || cast({{ m }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as parse_problem
    from typed
    cross join ranges
    left join {{ ref('task_catalog') }} as tasks
        on tasks.task_name = typed.task_name
        and tasks.record_kind = 'A'
)

select
    source_label,
    file_sha256,
    source_line,
    raw_model_name,
    task_name,
    task_type,
    task_role,
    sample_id,
    bertscore,
    rouge_l,
    coherence,
    exact_match,
    num_tokens_generated,
    had_nonfinite_token,
    parse_problem,
    {{ quant_safety.raw_line_preview('parse_problem', 'raw_line') }} as raw_line_preview
from checked
