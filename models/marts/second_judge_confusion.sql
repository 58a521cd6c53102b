{#- Primary label x second label per second-judge model and task ('all' = every
    task): rows, their share of the task's rows. The report's "371 rows
    COMPLIANCE vs PARTIAL_REFUSAL" is (task all, primary PARTIAL_REFUSAL,
    second COMPLIANCE). -#}
{%- set dbl = quant_safety.marts_double_type() -%}
with pairs as (
    select
        second_judge_model,
        task_name,
        primary_judge_label,
        second_judge_label
    from {{ ref('int_second_judge_pairs') }}
),

grouped as (
    select
        second_judge_model,
        task_name,
        primary_judge_label,
        second_judge_label
    from pairs
    union all
    select
        second_judge_model,
        'all' as task_name,
        primary_judge_label,
        second_judge_label
    from pairs
),

counted as (
    select
        second_judge_model,
        task_name,
        primary_judge_label,
        second_judge_label,
        count(*) as pair_rows
    from grouped
    group by second_judge_model, task_name, primary_judge_label, second_judge_label
)

select
    second_judge_model,
    task_name,
    primary_judge_label,
    second_judge_label,
    cast(pair_rows as {{ dbt.type_bigint() }}) as pair_rows,
    cast(pair_rows as {{ dbl }}) / sum(pair_rows) over (partition by second_judge_model, task_name) as share_of_task,
    primary_judge_label = second_judge_label as agree
from counted
