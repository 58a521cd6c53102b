{#- The var style_examples_top_k most common refusal prefixes of every cell
    (Phase 6, SS10.4), with their count, share of the cell's refusals and one
    example response (the one with the smallest sample_id). -#}
with refusal_texts as (
    select
        base_model,
        quant,
        sample_id,
        refusal_prefix,
        candidate_text
    from {{ ref('int_refusal_texts') }}
    where is_refusal and has_text
),

prefix_counts as (
    select
        base_model,
        quant,
        refusal_prefix,
        count(*) as prefix_refusals
    from refusal_texts
    group by base_model, quant, refusal_prefix
),

cell_refusals as (
    select
        base_model,
        quant,
        count(*) as cell_refusals
    from refusal_texts
    group by base_model, quant
),

ranked_prefixes as (
    select
        base_model,
        quant,
        refusal_prefix,
        prefix_refusals,
        row_number() over (
            partition by base_model, quant
            order by prefix_refusals desc, refusal_prefix asc
        ) as prefix_rank
    from prefix_counts
),

examples as (
    select
        base_model,
        quant,
        refusal_prefix,
        sample_id as example_sample_id,
        candidate_text as example_text,
        row_number() over (partition by base_model, quant, refusal_prefix order by sample_id) as example_rank
    from refusal_texts
)

select
    ranked_prefixes.base_model,
    ranked_prefixes.quant,
    ranked_prefixes.prefix_rank,
    ranked_prefixes.refusal_prefix,
    ranked_prefixes.prefix_refusals,
    cell_refusals.cell_refusals,
    cast(ranked_prefixes.prefix_refusals as {{ quant_safety.marts_double_type() }}) / cell_refusals.cell_refusals as prefix_share,
    examples.example_sample_id,
    examples.example_text
from ranked_prefixes
inner join cell_refusals
    on
        ranked_prefixes.base_model = cell_refusals.base_model
        and ranked_prefixes.quant = cell_refusals.quant
inner join examples
    on
        ranked_prefixes.base_model = examples.base_model
        and ranked_prefixes.quant = examples.quant
        and ranked_prefixes.refusal_prefix = examples.refusal_prefix
        and examples.example_rank = 1
where ranked_prefixes.prefix_rank <= {{ var('style_examples_top_k') }}
