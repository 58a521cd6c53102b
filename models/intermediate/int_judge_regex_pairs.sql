{#- Row-level pairs of a regex verdict and a judge verdict on the same safety
    item, joined on (base_model, quant, task_name, sample_id). The regex verdict
    is the regex score when it is 0 or 1 (truthfulness half credit, 0.5, has no
    binary verdict and is left out); the judge verdict comes from judge_labels
    (UNCLEAR / ERROR left out). One pair per judge annotation (several per item
    only with judge_dedupe_mode = 'pool'). -#}
with regex_rows as (
    select
        base_model,
        quant,
        task_name,
        task_role,
        sample_id,
        score
    from {{ ref('stg_safety__scored_samples') }}
    where
        task_role in ('refusal', 'truthfulness', 'bias')
        and score in (0, 1)
),

judge_rows as (
    select
        source_label,
        base_model,
        quant,
        task_name,
        sample_id,
        judge_verdict
    from {{ ref('int_judge_verdicts') }}
    where counts_in_denominator
)

select
    regex_rows.base_model,
    regex_rows.quant,
    regex_rows.task_name,
    regex_rows.task_role,
    regex_rows.sample_id,
    judge_rows.source_label as judge_source_label,
    cast(regex_rows.score as {{ dbt.type_int() }}) as regex_verdict,
    cast(judge_rows.judge_verdict as {{ dbt.type_int() }}) as judge_verdict
from regex_rows
inner join judge_rows
    on
        regex_rows.base_model = judge_rows.base_model
        and regex_rows.quant = judge_rows.quant
        and regex_rows.task_name = judge_rows.task_name
        and regex_rows.sample_id = judge_rows.sample_id
