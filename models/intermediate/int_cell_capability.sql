{#- Capability accuracy per cell from the kind-B capability rows (task_catalog
    role 'capability'), one column per benchmark task (vars capability_*_task). -#}
with capability_rows as (
    select
        base_model,
        quant,
        task_name,
        score
    from {{ ref('stg_safety__scored_samples') }}
    where task_role = 'capability'
)

select
    base_model,
    quant,
    avg(case when task_name = {{ quant_safety.sql_string(var('capability_mmlu_task')) }} then score end) as capability_mmlu_accuracy,
    count(case when task_name = {{ quant_safety.sql_string(var('capability_mmlu_task')) }} then score end) as capability_mmlu_n,
    avg(case when task_name = {{ quant_safety.sql_string(var('capability_arc_task')) }} then score end) as capability_arc_accuracy,
    count(case when task_name = {{ quant_safety.sql_string(var('capability_arc_task')) }} then score end) as capability_arc_n
from capability_rows
group by base_model, quant
