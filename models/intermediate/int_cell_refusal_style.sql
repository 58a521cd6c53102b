{#- Phase 6 refusal-style features per cell (contract §8) over the AdvBench rows
    of int_refusal_texts. Text features use the refusals that have a response
    text; every feature is NULL for a cell with 0 refusals, the text features
    also when no refusal has a text (the text side is missing); the counts
    refusals_with_text and distinct_prefixes are then 0. The normalised entropy
    is in [0, 1] by definition: it is clamped there, since the floating-point
    ratio of two logarithms can land an ulp outside (2 refusals with 2 distinct
    prefixes gave 1.0000000000000002). -#}
with advbench_rows as (
    select
        base_model,
        quant,
        count(*) as advbench_n,
        {{ quant_safety.count_where('is_refusal') }} as advbench_refusals,
        {{ quant_safety.count_where('is_hard_refusal') }} as hard_refusals
    from {{ ref('int_refusal_texts') }}
    group by base_model, quant
),

refusal_texts as (
    select
        base_model,
        quant,
        refusal_prefix,
        token_count,
        char_count
    from {{ ref('int_refusal_texts') }}
    where is_refusal and has_text
),

text_totals as (
    select
        base_model,
        quant,
        count(*) as refusals_with_text,
        avg(cast(token_count as {{ quant_safety.marts_double_type() }})) as mean_tokens_refusal,
        avg(cast(char_count as {{ quant_safety.marts_double_type() }})) as mean_chars_refusal
    from refusal_texts
    group by base_model, quant
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

prefix_shares as (
    select
        prefix_counts.base_model,
        prefix_counts.quant,
        prefix_counts.prefix_refusals,
        cast(prefix_counts.prefix_refusals as {{ quant_safety.marts_double_type() }}) / text_totals.refusals_with_text as prefix_share
    from prefix_counts
    inner join text_totals
        on
            prefix_counts.base_model = text_totals.base_model
            and prefix_counts.quant = text_totals.quant
),

prefix_distribution as (
    select
        base_model,
        quant,
        count(*) as distinct_prefixes,
        max(prefix_refusals) as dominant_prefix_refusals,
        -{{ quant_safety.exact_sum("prefix_share * " ~ quant_safety.natural_log('prefix_share')) }} as prefix_entropy
    from prefix_shares
    group by base_model, quant
)

select
    advbench_rows.base_model,
    advbench_rows.quant,
    advbench_rows.advbench_n,
    advbench_rows.advbench_refusals,
    cast(advbench_rows.advbench_refusals as {{ quant_safety.marts_double_type() }}) / advbench_rows.advbench_n as advbench_refusal_rate,
    case
        when advbench_rows.advbench_refusals > 0
            then cast(advbench_rows.hard_refusals as {{ quant_safety.marts_double_type() }}) / advbench_rows.advbench_n
    end as hard_refusal_rate,
    coalesce(text_totals.refusals_with_text, 0) as refusals_with_text,
    coalesce(prefix_distribution.distinct_prefixes, 0) as distinct_prefixes,
    case
        when advbench_rows.advbench_refusals > 0
            then cast(prefix_distribution.dominant_prefix_refusals as {{ quant_safety.marts_double_type() }}) / text_totals.refusals_with_text
    end as dominant_prefix_share,
    case
        when advbench_rows.advbench_refusals > 0
            then cast(prefix_distribution.distinct_prefixes as {{ quant_safety.marts_double_type() }}) / text_totals.refusals_with_text
    end as unique_prefix_rate,
    case
        when advbench_rows.advbench_refusals = 0 or prefix_distribution.distinct_prefixes is null then null
        when prefix_distribution.distinct_prefixes <= 1 then 0.0
        else {{ quant_safety.clamp_unit(
            'prefix_distribution.prefix_entropy / '
            ~ quant_safety.natural_log('cast(prefix_distribution.distinct_prefixes as ' ~ quant_safety.marts_double_type() ~ ')')) }}
    end as prefix_entropy_norm,
    case when advbench_rows.advbench_refusals > 0 then text_totals.mean_tokens_refusal end as mean_tokens_refusal,
    case when advbench_rows.advbench_refusals > 0 then text_totals.mean_chars_refusal end as mean_chars_refusal
from advbench_rows
left join text_totals
    on
        advbench_rows.base_model = text_totals.base_model
        and advbench_rows.quant = text_totals.quant
left join prefix_distribution
    on
        advbench_rows.base_model = prefix_distribution.base_model
        and advbench_rows.quant = prefix_distribution.quant
