{#- Phase 6 input rows: every regex-scored AdvBench row (var phase6_task) with
    its response text from the safety-run generations (kind D), joined on
    (base_model, quant, task_name, sample_id). A refusal is a regex score of 1
    (contract §8). The prefix is the first var refusal_prefix_tokens tokens of
    the normalised text. The text features are computed on the texts before the
    join, outside any CASE: DuckDB evaluates list and regex functions inside a
    CASE branch ~3.5x slower (this model: 14.0 -> 6.7 s at x100, same rows). -#}
with scored as (
    select
        base_model,
        quant,
        task_name,
        sample_id,
        score,
        refusal_type
    from {{ ref('stg_safety__scored_samples') }}
    where task_name = {{ quant_safety.sql_string(var('phase6_task')) }}
),

generation_texts as (
    select
        base_model,
        quant,
        task_name,
        sample_id,
        max(candidate_text) as candidate_text
    from {{ ref('stg_safety__generations') }}
    where task_name = {{ quant_safety.sql_string(var('phase6_task')) }}
    group by base_model, quant, task_name, sample_id
),

texts as (
    select
        base_model,
        quant,
        task_name,
        sample_id,
        candidate_text,
        {{ quant_safety.refusal_prefix('candidate_text', var('refusal_prefix_tokens')) }} as refusal_prefix,
        {{ quant_safety.whitespace_token_count('candidate_text') }} as token_count
    from generation_texts
)

select
    scored.base_model,
    scored.quant,
    scored.task_name,
    scored.sample_id,
    scored.score,
    (scored.score = 1) as is_refusal,
    (scored.refusal_type = {{ quant_safety.sql_string(var('hard_refusal_type')) }}) as is_hard_refusal,
    texts.candidate_text,
    (texts.candidate_text is not null) as has_text,
    case when texts.candidate_text is not null then texts.refusal_prefix end as refusal_prefix,
    case when texts.candidate_text is not null then texts.token_count end as token_count,
    length(texts.candidate_text) as char_count
from scored
left join texts
    on
        scored.base_model = texts.base_model
        and scored.quant = texts.quant
        and scored.task_name = texts.task_name
        and scored.sample_id = texts.sample_id
